//! The `audit_log` projection: who did what to which aggregate, and when. One
//! row per event, written idempotently (the position is the key).

use async_trait::async_trait;
use flowforge_infra::{
    event_store::{Position, RecordedEvent},
    read_model::{AuditEntry, AuditLog, AUDIT_PROJECTION},
};

use crate::{batch::apply_unapplied, Projection, ProjectionError};

/// Keeps the audit log.
pub struct AuditLogProjection {
    log: AuditLog,
}

impl AuditLogProjection {
    /// A projection writing to `log`.
    pub fn new(log: AuditLog) -> Self {
        Self { log }
    }
}

#[async_trait]
impl Projection for AuditLogProjection {
    fn name(&self) -> &'static str {
        AUDIT_PROJECTION
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        Ok(self.log.checkpoint().await?)
    }

    async fn apply(&self, batch: &[RecordedEvent]) -> Result<(), ProjectionError> {
        let name = &self.log.target().checkpoint;
        apply_unapplied(
            name,
            batch,
            || self.log.checkpoint(),
            |events, from, to| async move {
                let entries: Vec<AuditEntry> = events.iter().map(AuditEntry::from).collect();
                Ok(self.log.record(&entries, from, to).await?)
            },
        )
        .await
    }
}
