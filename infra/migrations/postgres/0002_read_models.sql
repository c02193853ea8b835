-- Read models live beside the log; each projection records how far it has read.
CREATE TABLE projection_checkpoints (
    name     TEXT   PRIMARY KEY,
    position BIGINT NOT NULL
);

CREATE TABLE workflow_views (
    id                 UUID        PRIMARY KEY,
    name               TEXT        NOT NULL,
    status             TEXT        NOT NULL,
    tags               TEXT[]      NOT NULL,
    definition_version INTEGER     NOT NULL,
    version            BIGINT      NOT NULL,
    definition         JSONB       NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    position           BIGINT      NOT NULL
);
CREATE INDEX workflow_views_status ON workflow_views (status, id);
CREATE INDEX workflow_views_tags ON workflow_views USING GIN (tags);
