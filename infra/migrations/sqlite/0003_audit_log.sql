-- Who did what to which aggregate, when: one row per event, kept by the
-- audit_log projection.
CREATE TABLE audit_log (
    position       INTEGER PRIMARY KEY,
    event_id       TEXT    NOT NULL,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    event_type     TEXT    NOT NULL,
    tenant_id      TEXT    NOT NULL,
    actor          TEXT,
    correlation_id TEXT,
    recorded_at    TEXT    NOT NULL
);
CREATE INDEX audit_log_aggregate ON audit_log (aggregate_type, aggregate_id, position);
CREATE INDEX audit_log_actor ON audit_log (actor, position);
CREATE INDEX audit_log_time ON audit_log (recorded_at, position);
