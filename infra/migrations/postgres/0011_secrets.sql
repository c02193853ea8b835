-- Keys this deployment keeps beside its event log, never in it (the log is
-- forever and read by many): each created once, at random, by the first
-- instance that needs it, and shared by every instance on this database.
CREATE TABLE flowforge_secrets (
    name       TEXT        PRIMARY KEY,
    secret     TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
