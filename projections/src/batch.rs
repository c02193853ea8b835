//! How a projection applies a batch. Batches arrive in position order without
//! gaps; after a restart or a rebuild the first events may already be applied,
//! and a projection must skip exactly those, then save its changes and the new
//! checkpoint together, starting over if another writer moved the checkpoint.

use std::future::Future;

use flowforge_domain::{decode_event, DomainEvent};
use flowforge_infra::{
    event_store::{Position, RecordedEvent},
    read_model::ReadModelError,
};

use crate::ProjectionError;

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
const SAVE_ATTEMPTS: usize = 3;

/// Applies the part of `batch` after the stored checkpoint (read by
/// `checkpoint`): `save(events, from, to)` writes what `events` change and
/// moves the checkpoint named `name` from `from` to `to` in one transaction.
/// When the checkpoint moved in between, it starts over, a few times.
pub(crate) async fn apply_unapplied<'a, C, S, F>(
    name: &str,
    batch: &'a [RecordedEvent],
    checkpoint: impl Fn() -> C,
    save: S,
) -> Result<(), ProjectionError>
where
    C: Future<Output = Result<Position, ReadModelError>>,
    S: Fn(&'a [RecordedEvent], Position, Position) -> F,
    F: Future<Output = Result<(), ProjectionError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let from = checkpoint().await?;
        let events = unapplied(name, batch, from)?;
        let Some(last) = events.last() else {
            return Ok(());
        };
        match save(events, from, last.position).await {
            Err(ProjectionError::ReadModel(ReadModelError::CheckpointMoved { .. }))
                if attempt < SAVE_ATTEMPTS =>
            {
                continue
            }
            outcome => return outcome,
        }
    }
}

/// What the events of one aggregate type among `events` change, each decoded
/// as `E` and turned into at most one change by `change`.
pub(crate) fn changes<E: DomainEvent, C>(
    events: &[RecordedEvent],
    aggregate_type: &str,
    change: fn(&RecordedEvent, E) -> Option<C>,
) -> Result<Vec<C>, ProjectionError> {
    let mut changes = Vec::new();
    for recorded in events
        .iter()
        .filter(|e| e.stream.aggregate_type() == aggregate_type)
    {
        let event =
            decode_event::<E>(&recorded.event_type, &recorded.payload).map_err(|source| {
                ProjectionError::Decode {
                    position: recorded.position,
                    source,
                }
            })?;
        changes.extend(change(recorded, event));
    }
    Ok(changes)
}
