-- One row per execution, for the execution list; kept by the executions projection.
CREATE TABLE execution_views (
    id           TEXT    PRIMARY KEY,
    workflow_id  TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    trigger      TEXT    NOT NULL,
    requested_at TEXT    NOT NULL,
    finished_at  TEXT,
    failed_node  TEXT,
    position     INTEGER NOT NULL
);
CREATE INDEX execution_views_workflow ON execution_views (workflow_id, id);
CREATE INDEX execution_views_status ON execution_views (status, id);
