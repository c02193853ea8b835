//! Drives one projection: take the projection's lease, resume from its
//! checkpoint, take batches from the bus, apply them, publish the new position
//! for read-your-writes waiters. A failing batch is retried from the checkpoint
//! after a pause. An instance without the lease follows the checkpoint the
//! leader writes, so its queries can still wait for a position. The lease, the
//! retries and the pauses are the leadership loop's
//! ([`flowforge_infra::leadership`]); this module supplies the term and the
//! following.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use async_trait::async_trait;
use flowforge_domain::EventCodecError;
use flowforge_infra::{
    bus::{EventSource, SubscriptionError},
    event_store::{Position, RecordedEvent},
    leadership::{
        lead_while_leader, LeaderLease, Leadership, TermError, TermLeader, Terms, RETRY_PAUSE,
    },
    read_model::ReadModelError,
};
use flowforge_monitoring::trace_context::continue_trace;
use tokio::{sync::watch, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How many events one batch (and one read-model transaction) holds at most.
const BATCH_SIZE: usize = 500;
/// How often a leader confirms its lease, and a follower tries to take it.
const LEASE_CHECK: Duration = Duration::from_secs(2);
/// How often a follower reads the leader's checkpoint.
const FOLLOWER_POLL: Duration = Duration::from_millis(100);

/// Why a projection could not apply a batch.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The read model's storage failed.
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] SubscriptionError),
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

/// A projection's failure, as the leadership loop reports it.
impl From<ProjectionError> for TermError {
    fn from(error: ProjectionError) -> Self {
        match error {
            ProjectionError::ReadModel(error) => error.into(),
            ProjectionError::Bus(error) => error.into(),
            ProjectionError::Decode { position, source } => TermError::Decode {
                position,
                source: Box::new(source),
            },
        }
    }
}

/// A read-model builder: a name, a checkpoint, and a fold over event batches.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Stable forever: it keys the checkpoint, the lease and the consumer.
    fn name(&self) -> &'static str;

    /// The position of the last event this projection has applied.
    async fn checkpoint(&self) -> Result<Position, ProjectionError>;

    /// Applies `batch` (in position order) and moves the checkpoint to its last
    /// position, atomically. Events at or below the checkpoint change nothing.
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

    /// A receiver that sees the read model's position move, for work that
    /// should follow the read model instead of polling it.
    pub fn changes(&self) -> watch::Receiver<Position> {
        self.position.clone()
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

    /// Leads (applies batches from `source`) whenever it holds the projection's
    /// lease, follows the checkpoint otherwise, until `shutdown` is cancelled. A
    /// batch being applied when shutdown comes is finished first.
    pub async fn run(
        self,
        source: Arc<dyn EventSource>,
        leadership: Leadership,
        shutdown: CancellationToken,
    ) {
        let leader = ProjectionLeader {
            lease: lease_name(self.projection.name()),
            terms: Terms::new(shutdown),
            runner: self,
        };
        lead_while_leader(Arc::new(leader), source, leadership).await;
    }

    /// Applies batches until shutdown or a lost lease (`Ok`) or a failure (`Err`).
    async fn lead(
        &self,
        source: &dyn EventSource,
        lease: &mut LeaderLease,
        shutdown: &CancellationToken,
    ) -> Result<(), ProjectionError> {
        let checkpoint = self.projection.checkpoint().await?;
        self.progress.send_replace(checkpoint);
        info!(
            projection = self.projection.name(),
            checkpoint, "projection resuming"
        );
        let mut subscription = source.subscribe(self.projection.name(), checkpoint).await?;
        let mut lease_checked = Instant::now();
        loop {
            let batch = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                batch = subscription.next_batch(BATCH_SIZE) => batch?,
            };
            if let Some(last) = batch.last().map(|e| e.position) {
                let _spans = apply_spans(self.projection.name(), &batch);
                self.projection.apply(&batch).await?;
                self.progress.send_replace(last);
            }
            if lease_checked.elapsed() >= LEASE_CHECK {
                if !lease.is_held().await {
                    warn!(projection = self.projection.name(), "lease lost; following");
                    return Ok(());
                }
                lease_checked = Instant::now();
            }
        }
    }

    /// Tracks the leader's checkpoint for a while, then returns to try for the lease.
    async fn follow_leader(&self, shutdown: &CancellationToken) -> Result<(), ProjectionError> {
        let until = Instant::now() + LEASE_CHECK;
        while Instant::now() < until {
            let checkpoint = self.projection.checkpoint().await?;
            self.progress.send_if_modified(|at| {
                let moved = checkpoint > *at;
                *at = (*at).max(checkpoint);
                moved
            });
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(FOLLOWER_POLL) => {}
            }
        }
        Ok(())
    }
}

/// A running projection as a leader: its runner, lease and terms.
struct ProjectionLeader {
    runner: ProjectionRunner,
    lease: String,
    terms: Terms,
}

#[async_trait]
impl TermLeader for ProjectionLeader {
    fn lease(&self) -> &str {
        &self.lease
    }

    fn terms(&self) -> &Terms {
        &self.terms
    }

    async fn follow(&self) -> Result<(), TermError> {
        Ok(self.runner.follow_leader(self.terms.shutdown()).await?)
    }

    async fn lead_term(
        self: Arc<Self>,
        source: &dyn EventSource,
        lease: &mut LeaderLease,
    ) -> Result<(), TermError> {
        let shutdown = self.terms.shutdown();
        Ok(self.runner.lead(source, lease, shutdown).await?)
    }

    fn interrupted(&self, _error: &TermError, _failures: u32) -> Duration {
        flowforge_monitoring::metrics()
            .projection_errors
            .with_label_values(&[self.runner.projection.name()])
            .inc();
        RETRY_PAUSE
    }
}

/// One span for each trace context among the batch's events, open while the
/// batch is applied: a read model's update shows in the trace of each request
/// that caused it, even when one transaction serves several.
fn apply_spans(projection: &'static str, batch: &[RecordedEvent]) -> Vec<tracing::Span> {
    let contexts: BTreeSet<&str> = batch
        .iter()
        .filter_map(|e| e.metadata.traceparent.as_deref())
        .collect();
    contexts
        .into_iter()
        .map(|traceparent| {
            let span = tracing::info_span!(
                "projection.apply",
                otel.name = format!("project {projection}"),
                otel.kind = "consumer",
                projection,
                batch = batch.len(),
            );
            continue_trace(&span, Some(traceparent));
            span
        })
        .collect()
}

/// The lease that lets one instance apply a projection.
fn lease_name(projection: &str) -> String {
    format!("projection:{projection}")
}
