-- The append-only event log. Positions are assigned under the row lock of
-- event_store_head, so they are gap-free and become visible in order.
-- recorded_at is the INSERT statement's time, taken after that lock, so it
-- follows position order.
CREATE TABLE events (
    global_position BIGINT      PRIMARY KEY,
    event_id        UUID        NOT NULL UNIQUE,
    aggregate_type  TEXT        NOT NULL,
    aggregate_id    TEXT        NOT NULL,
    version         BIGINT      NOT NULL CHECK (version > 0),
    event_type      TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL CHECK (schema_version > 0),
    payload         JSONB       NOT NULL,
    metadata        JSONB       NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT statement_timestamp(),
    CONSTRAINT events_stream_version_key UNIQUE (aggregate_type, aggregate_id, version)
);

CREATE TABLE event_store_head (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    position  BIGINT  NOT NULL
);
INSERT INTO event_store_head (singleton, position) VALUES (TRUE, 0);

CREATE FUNCTION flowforge_events_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP;
END;
$$;

CREATE TRIGGER events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION flowforge_events_are_append_only();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION flowforge_events_are_append_only();
