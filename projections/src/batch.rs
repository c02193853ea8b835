//! The part of a batch a projection has not applied yet. Batches arrive in
//! position order without gaps; after a restart or a rebuild the first events
//! may already be applied, and a projection must skip exactly those.

use flowforge_infra::{
    event_store::{Position, RecordedEvent},
    read_model::ReadModelError,
};

/// The events of `batch` after `checkpoint`; an error if the batch starts past
/// `checkpoint + 1` (the stored checkpoint moved back: resubscribe from it).
pub(crate) fn unapplied<'a>(
    name: &str,
    batch: &'a [RecordedEvent],
    checkpoint: Position,
) -> Result<&'a [RecordedEvent], ReadModelError> {
    let start = batch.partition_point(|e| e.position <= checkpoint);
    let rest = &batch[start..];
    match rest.first() {
        Some(first) if first.position != checkpoint + 1 => Err(ReadModelError::CheckpointMoved {
            name: name.to_owned(),
            expected: first.position - 1,
            actual: checkpoint,
        }),
        _ => Ok(rest),
    }
}

/// How often a projection re-reads its checkpoint when it moved under a batch.
pub(crate) const SAVE_ATTEMPTS: usize = 3;
