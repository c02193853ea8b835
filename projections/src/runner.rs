//! Drives one projection: resume from its checkpoint, take batches from an event
//! subscription, apply them, publish the new position for read-your-writes
//! waiters. A failing batch is retried from the checkpoint after a pause; the
//! runner stops only when told to.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use flowforge_domain::EventCodecError;
use flowforge_infra::{
    event_feed::EventSubscription,
    event_store::{EventStoreError, Position, RecordedEvent},
    read_model::ReadModelError,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How many events one batch (and one read-model transaction) holds at most.
const BATCH_SIZE: usize = 500;
/// The pause after a failure before resuming from the checkpoint.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Why a projection could not apply a batch.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The read model's storage failed.
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    /// The event feed failed.
    #[error(transparent)]
    Feed(#[from] EventStoreError),
    /// An event did not decode into its aggregate's events.
    #[error("event at position {position}: {source}")]
    Decode {
        /// Where the event sits in the log.
        position: Position,
        /// What the codec said.
        #[source]
        source: EventCodecError,
    },
}

/// A read-model builder: a name, a checkpoint, and a fold over event batches.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Stable forever: it keys the checkpoint.
    fn name(&self) -> &'static str;

    /// The position of the last event this projection has applied.
    async fn checkpoint(&self) -> Result<Position, ProjectionError>;

    /// Applies `batch` (in position order, all after the checkpoint) and moves the
    /// checkpoint to its last position, atomically.
    async fn apply(&self, batch: &[RecordedEvent]) -> Result<(), ProjectionError>;
}

/// How far a projection has got, for queries that must see a given write.
#[derive(Debug, Clone)]
pub struct ProjectionProgress {
    position: watch::Receiver<Position>,
}

impl ProjectionProgress {
    /// The position the read model reflects now.
    pub fn current(&self) -> Position {
        *self.position.borrow()
    }

    /// Waits until the read model reflects `position`, or `timeout` passes.
    /// Returns whether it caught up.
    pub async fn wait_for(&self, position: Position, timeout: Duration) -> bool {
        let mut receiver = self.position.clone();
        tokio::time::timeout(timeout, receiver.wait_for(|at| *at >= position))
            .await
            .is_ok_and(|caught_up| caught_up.is_ok())
    }
}

/// Runs one projection until cancelled.
pub struct ProjectionRunner {
    projection: Arc<dyn Projection>,
    progress: watch::Sender<Position>,
}

impl ProjectionRunner {
    /// A runner for `projection`; its progress starts at 0 until the checkpoint is read.
    pub fn new(projection: Arc<dyn Projection>) -> Self {
        let (progress, _) = watch::channel(0);
        Self {
            projection,
            progress,
        }
    }

    /// A handle on this projection's progress.
    pub fn progress(&self) -> ProjectionProgress {
        ProjectionProgress {
            position: self.progress.subscribe(),
        }
    }

    /// Follows the log from the checkpoint, using `subscribe(position)` to open a
    /// subscription after `position`, until `shutdown` is cancelled. A batch being
    /// applied when shutdown comes is finished first.
    pub async fn run<F>(self, subscribe: F, shutdown: CancellationToken)
    where
        F: Fn(Position) -> Box<dyn EventSubscription> + Send,
    {
        let name = self.projection.name();
        while !shutdown.is_cancelled() {
            if let Err(error) = self.follow(&subscribe, &shutdown).await {
                warn!(projection = name, %error, "projection failed; resuming from its checkpoint");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(RETRY_PAUSE) => {}
                }
            }
        }
    }

    /// Applies batches until shutdown (`Ok`) or a failure (`Err`).
    async fn follow<F>(
        &self,
        subscribe: &F,
        shutdown: &CancellationToken,
    ) -> Result<(), ProjectionError>
    where
        F: Fn(Position) -> Box<dyn EventSubscription> + Send,
    {
        let checkpoint = self.projection.checkpoint().await?;
        self.progress.send_replace(checkpoint);
        info!(
            projection = self.projection.name(),
            checkpoint, "projection resuming"
        );
        let mut subscription = subscribe(checkpoint);
        loop {
            let batch = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                batch = subscription.next_batch(BATCH_SIZE) => batch?,
            };
            let Some(last) = batch.last().map(|e| e.position) else {
                continue;
            };
            self.projection.apply(&batch).await?;
            self.progress.send_replace(last);
        }
    }
}
