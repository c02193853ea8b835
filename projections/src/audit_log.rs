//! The `audit_log` projection: who did what to which aggregate, and when. One
//! row per event, written idempotently (the position is the key).

use async_trait::async_trait;
use flowforge_infra::{
    event_store::{Position, RecordedEvent},
    read_model::{AuditEntry, AuditLog, ReadModelError, AUDIT_PROJECTION},
};

use crate::{
    batch::{unapplied, SAVE_ATTEMPTS},
    Projection, ProjectionError,
};

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
        let mut attempt = 0;
        loop {
            attempt += 1;
            let checkpoint = self.log.checkpoint().await?;
            let events = unapplied(&self.log.target().checkpoint, batch, checkpoint)?;
            let Some(last) = events.last() else {
                return Ok(());
            };
            let entries: Vec<AuditEntry> = events.iter().map(AuditEntry::from).collect();
            match self.log.record(&entries, checkpoint, last.position).await {
                Err(ReadModelError::CheckpointMoved { .. }) if attempt < SAVE_ATTEMPTS => continue,
                outcome => return Ok(outcome?),
            }
        }
    }
}
