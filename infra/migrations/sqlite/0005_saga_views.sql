-- One row per saga, for the saga list; kept by the sagas projection.
CREATE TABLE saga_views (
    id           TEXT    PRIMARY KEY,
    workflow_id  TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    reason       TEXT,
    parked_step  TEXT,
    steps        INTEGER NOT NULL,
    opened_at    TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    position     INTEGER NOT NULL
);
CREATE INDEX saga_views_status ON saga_views (status, id);
