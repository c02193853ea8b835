-- Data keys, each wrapped (AES-256-GCM) by the deployment's master key,
-- which is never stored here. Unlike the event log, rows may be deleted:
-- destroying a key makes what it sealed unreadable for good
-- (crypto-shredding). The row `check` seals a known value, so a start with
-- another master key is refused.
CREATE TABLE flowforge_data_keys (
    scope      TEXT PRIMARY KEY,
    wrapped    TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
