//! `projections rebuild`: replays the whole log into a shadow read model, then
//! swaps it in. The live read model keeps answering queries until the swap.

use std::{sync::Arc, time::Instant};

use flowforge_infra::{
    database::Database,
    event_store::{EventStore, Position},
    read_model::rebuild::{prepare_shadow, swap_in},
};

use crate::{
    catalog::{live_target, projection_at},
    ProjectionError,
};

/// Events read and applied per step.
const REBUILD_BATCH: usize = 1000;

/// Why a rebuild did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// No projection has this name.
    #[error("no projection named {0:?} (known: {known})", known = crate::catalog::PROJECTIONS.join(", "))]
    UnknownProjection(String),
    /// Applying events failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RebuildReport {
    /// Events replayed.
    pub events: u64,
    /// The checkpoint the swapped-in read model starts from.
    pub position: Position,
    /// Seconds it took, swap included.
    pub seconds: f64,
}

/// Rebuilds projection `name` from position 0 and swaps it in. `progress` is
/// called after each batch with (position reached, store head).
pub async fn rebuild(
    name: &str,
    database: &Database,
    store: Arc<dyn EventStore>,
    mut progress: impl FnMut(Position, Position),
) -> Result<RebuildReport, RebuildError> {
    let started = Instant::now();
    let live = live_target(name).ok_or_else(|| RebuildError::UnknownProjection(name.to_owned()))?;
    let shadow = prepare_shadow(database, &live)
        .await
        .map_err(ProjectionError::from)?;
    let projection = projection_at(name, database, shadow)
        .ok_or_else(|| RebuildError::UnknownProjection(name.to_owned()))?;
    let mut after = 0;
    let mut events = 0;
    loop {
        let head = store
            .head()
            .await
            .map_err(|e| ProjectionError::Bus(e.into()))?;
        let batch = store
            .read_all(after, REBUILD_BATCH)
            .await
            .map_err(|e| ProjectionError::Bus(e.into()))?;
        let Some(last) = batch.last().map(|e| e.position) else {
            break;
        };
        projection.apply(&batch).await?;
        events += batch.len() as u64;
        after = last;
        progress(after, head.max(after));
    }
    let position = swap_in(database, &live)
        .await
        .map_err(ProjectionError::from)?;
    Ok(RebuildReport {
        events,
        position,
        seconds: started.elapsed().as_secs_f64(),
    })
}
