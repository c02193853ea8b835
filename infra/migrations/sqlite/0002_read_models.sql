-- Read models live beside the log; each projection records how far it has read.
CREATE TABLE projection_checkpoints (
    name     TEXT    PRIMARY KEY,
    position INTEGER NOT NULL
);

CREATE TABLE workflow_views (
    id                 TEXT    PRIMARY KEY,
    name               TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    tags               TEXT    NOT NULL,
    definition_version INTEGER NOT NULL,
    version            INTEGER NOT NULL,
    definition         TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    position           INTEGER NOT NULL
);
CREATE INDEX workflow_views_status ON workflow_views (status, id);
