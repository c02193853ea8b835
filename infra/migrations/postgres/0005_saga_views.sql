-- One row per saga, for the saga list; kept by the sagas projection.
CREATE TABLE saga_views (
    id           UUID        PRIMARY KEY,
    workflow_id  UUID        NOT NULL,
    status       TEXT        NOT NULL,
    reason       TEXT,
    parked_step  TEXT,
    steps        BIGINT      NOT NULL,
    opened_at    TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    position     BIGINT      NOT NULL
);
CREATE INDEX saga_views_status ON saga_views (status, id);
