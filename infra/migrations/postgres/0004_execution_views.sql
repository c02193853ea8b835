-- One row per execution, for the execution list; kept by the executions projection.
CREATE TABLE execution_views (
    id           UUID        PRIMARY KEY,
    workflow_id  UUID        NOT NULL,
    status       TEXT        NOT NULL,
    trigger      TEXT        NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    failed_node  TEXT,
    position     BIGINT      NOT NULL
);
CREATE INDEX execution_views_workflow ON execution_views (workflow_id, id);
CREATE INDEX execution_views_status ON execution_views (status, id);
