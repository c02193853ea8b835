//! Group commit, shared by both stores: one appender task per store takes
//! every append waiting for it and commits them in one transaction, each still
//! checked against its own stream's expected version and refused alone on a
//! conflict. Throughput then grows with the number of concurrent writers
//! instead of being one commit (one fsync) per append. The task also makes an
//! append independent of its caller: a caller that gives up (an HTTP client
//! disconnecting) cannot leave a transaction half-open.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
};

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::{
    raise_head, AppendOutcome, EventStoreError, ExpectedVersion, NewEvent, Position,
    StreamAppended, StreamId,
};

/// The most appends committed in one transaction.
pub(crate) const GROUP_COMMIT_MAX: usize = 256;
/// The most appends waiting for the appender; callers beyond it wait for
/// room, so an overloaded store slows its callers down instead of queueing
/// without bound.
const QUEUE_CAPACITY: usize = 16 * GROUP_COMMIT_MAX;

/// One append waiting for the next group commit.
#[derive(Debug)]
pub(crate) struct PendingAppend {
    /// The stream appended to.
    pub stream: StreamId,
    /// The version the caller expects it at.
    pub expected: ExpectedVersion,
    /// The events; taken by the commit that writes them.
    pub events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<AppendOutcome, EventStoreError>>,
}

/// An event a group commit writes, at its global position and stream version.
pub(crate) struct PlannedEvent<'a> {
    /// Its stream.
    pub stream: &'a StreamId,
    /// Its global position.
    pub position: i64,
    /// Its version in the stream.
    pub version: i64,
    /// The event.
    pub event: NewEvent,
}

/// What a group commit writes and answers, decided before any insert.
pub(crate) struct GroupPlan<'a> {
    /// Each append's outcome, in the group's order.
    pub outcomes: Vec<Result<AppendOutcome, EventStoreError>>,
    /// The events of the accepted appends, in position order.
    pub events: Vec<PlannedEvent<'a>>,
    /// The head after them.
    pub head: i64,
}

/// The distinct streams of a group, whose current versions a backend reads
/// (inside its transaction) before [`plan_group`].
pub(crate) fn streams_of(group: &[PendingAppend]) -> Vec<&StreamId> {
    let mut streams: Vec<&StreamId> = Vec::new();
    for pending in group {
        if !streams.contains(&&pending.stream) {
            streams.push(&pending.stream);
        }
    }
    streams
}

/// Decides a group against the log's `head` and its streams' current
/// `versions`: each append is checked against its stream's version as the
/// appends before it in the group leave it, and refused alone on a conflict;
/// the accepted ones get consecutive positions from `head + 1`. Both backends
/// write exactly this plan, so they cannot decide differently.
pub(crate) fn plan_group<'a>(
    group: &'a mut [PendingAppend],
    head: i64,
    mut versions: HashMap<StreamId, i64>,
) -> GroupPlan<'a> {
    let mut plan = GroupPlan {
        outcomes: Vec::with_capacity(group.len()),
        events: Vec::new(),
        head,
    };
    for pending in group.iter_mut() {
        let current = versions.get(&pending.stream).copied().unwrap_or(0);
        let actual = current.max(0) as u64;
        if !pending.expected.matches(actual) {
            plan.outcomes.push(Err(EventStoreError::Conflict {
                stream: pending.stream.clone(),
                expected: pending.expected,
                actual,
            }));
            continue;
        }
        let events = std::mem::take(&mut pending.events);
        let pending: &'a PendingAppend = pending;
        let count = events.len() as i64;
        plan.outcomes.push(Ok(AppendOutcome {
            first_position: (plan.head + 1) as u64,
            last_position: (plan.head + count) as u64,
            stream_version: (current + count) as u64,
        }));
        versions.insert(pending.stream.clone(), current + count);
        for (offset, event) in (1_i64..).zip(events) {
            plan.events.push(PlannedEvent {
                stream: &pending.stream,
                position: plan.head + offset,
                version: current + offset,
                event,
            });
        }
        plan.head += count;
    }
    plan
}

/// A backend's way of writing a group in one transaction.
#[async_trait]
pub(crate) trait GroupCommit: Send + Sync + 'static {
    /// The backend's name, for metrics (`postgres`, `sqlite`).
    fn backend(&self) -> &'static str;

    /// Writes the group in one transaction and returns each append's outcome,
    /// in order; an `Err` means the transaction failed and nothing was written.
    async fn commit_group(
        &self,
        group: &mut [PendingAppend],
    ) -> Result<Vec<Result<AppendOutcome, EventStoreError>>, EventStoreError>;
}

/// A store's appender: its queue, started by the first append, and the
/// channels that announce commits.
#[derive(Debug, Clone)]
pub(crate) struct Appender {
    queue: Arc<OnceLock<mpsc::Sender<PendingAppend>>>,
    appended: watch::Sender<Position>,
    streams: broadcast::Sender<StreamAppended>,
}

impl Appender {
    /// An appender announcing commits on `appended` and `streams`.
    pub fn new(
        appended: watch::Sender<Position>,
        streams: broadcast::Sender<StreamAppended>,
    ) -> Self {
        Self {
            queue: Arc::new(OnceLock::new()),
            appended,
            streams,
        }
    }

    /// Queues an append for the next group commit and waits for its outcome.
    /// `committer` writes the groups; it is used by the task the first
    /// append starts.
    #[tracing::instrument(name = "event_store.append", skip_all, fields(
        stream = %stream,
        events = events.len(),
    ))]
    pub async fn append<C: GroupCommit>(
        &self,
        committer: impl FnOnce() -> C,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, EventStoreError> {
        if events.is_empty() {
            return Err(EventStoreError::EmptyAppend);
        }
        let queue = self.queue.get_or_init(|| {
            let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
            tokio::spawn(run(
                committer(),
                self.appended.clone(),
                self.streams.clone(),
                receiver,
            ));
            queue
        });
        let (reply, answer) = oneshot::channel();
        let stopped = || EventStoreError::Interrupted("the appender task stopped".to_owned());
        queue
            .send(PendingAppend {
                stream: stream.clone(),
                expected,
                events,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Commits queued appends, a group per transaction, until every handle to the
/// queue is gone.
async fn run<C: GroupCommit>(
    committer: C,
    appended: watch::Sender<Position>,
    streams: broadcast::Sender<StreamAppended>,
    mut queue: mpsc::Receiver<PendingAppend>,
) {
    let mut group = Vec::with_capacity(GROUP_COMMIT_MAX);
    let metrics = flowforge_monitoring::metrics();
    while queue.recv_many(&mut group, GROUP_COMMIT_MAX).await > 0 {
        let started = std::time::Instant::now();
        let events: usize = group.iter().map(|pending| pending.events.len()).sum();
        let committed = committer.commit_group(&mut group).await;
        let backend = [committer.backend()];
        metrics
            .append_duration
            .with_label_values(&backend)
            .observe(started.elapsed().as_secs_f64());
        metrics
            .appends_per_commit
            .with_label_values(&backend)
            .observe(group.len() as f64);
        match committed {
            Ok(outcomes) => {
                let refused: usize = outcomes
                    .iter()
                    .zip(&group)
                    .filter(|(outcome, _)| outcome.is_err())
                    .map(|(_, pending)| pending.events.len())
                    .sum();
                metrics
                    .events_appended
                    .inc_by(events.saturating_sub(refused) as u64);
                for (pending, outcome) in group.drain(..).zip(outcomes) {
                    if let Ok(done) = &outcome {
                        appended.send_if_modified(|head| raise_head(head, done.last_position));
                        let _ = streams.send(StreamAppended {
                            stream: pending.stream.clone(),
                            version: done.stream_version,
                        });
                    }
                    let _ = pending.reply.send(outcome);
                }
            }
            Err(error) => {
                let reason = error.to_string();
                for pending in group.drain(..) {
                    let _ = pending
                        .reply
                        .send(Err(EventStoreError::GroupCommitFailed(reason.clone())));
                }
            }
        }
    }
}
