//! The append-only event store: one trait, two backends.
//!
//! Every event gets a gap-free global position (the order catch-up readers follow)
//! and a per-stream version (optimistic concurrency). Appends of one call are one
//! transaction, and appends are serialised, so a reader that has seen position N
//! can never later find a committed event below N (no "late commit" skips).
//! Old payload schemas are upcast on read (see [`upcasting`]).

mod group_commit;
mod model;
pub mod postgres;
pub mod sqlite;
pub mod upcasting;

pub use model::{
    AppendOutcome, EventMetadata, ExpectedVersion, NewEvent, Position, RecordedEvent, StreamId,
    StreamIdError, ANONYMOUS_ACTOR, DEFAULT_TENANT,
};

use async_trait::async_trait;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// Why an event-store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EventStoreError {
    /// Another writer moved the stream first; reload and decide again.
    #[error("stream {stream} is at version {actual}, expected {expected}")]
    Conflict {
        /// The contested stream.
        stream: StreamId,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's version when the append was refused.
        actual: u64,
    },
    /// Imported events do not continue the log.
    #[error("cannot import position {position}: the log continues at {expected}")]
    ImportOutOfOrder {
        /// The position offered.
        position: Position,
        /// The position the log needs next.
        expected: Position,
    },
    /// An append with no events, which would only take a position for nothing.
    #[error("an append needs at least one event")]
    EmptyAppend,
    /// The payload or metadata could not be (de)serialised.
    #[error("event {event_type} at position {position} could not be upcast: {reason}")]
    Upcast {
        /// Where in the log the event sits.
        position: Position,
        /// Its stored type.
        event_type: String,
        /// What the upcaster said.
        reason: String,
    },
    /// A stored row is not a valid event (a bug or a hand-edited database).
    #[error("corrupt event row at position {position}: {reason}")]
    Corrupt {
        /// Where in the log the row sits.
        position: Position,
        /// What is wrong with it.
        reason: String,
    },
    /// The database could not be reached or refused the statement.
    #[error("event store database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be created or upgraded.
    #[error("event store migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The append's task ended without an answer (it panicked, or the runtime
    /// is shutting down); whether it committed is unknown until read back.
    #[error("the append was interrupted: {0}")]
    Interrupted(String),
    /// The transaction of a group commit failed: none of its appends, this
    /// one included, was written.
    #[error("the group commit failed, nothing was written: {0}")]
    GroupCommitFailed(String),
}

/// A stream grew to `version` in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAppended {
    /// The stream.
    pub stream: StreamId,
    /// Its version after the append.
    pub version: u64,
}

/// How many stream notices a slow follower may fall behind before it is told
/// it lagged (and then re-reads).
pub(crate) const STREAM_NOTICES: usize = 4096;

/// The seam between the application and where events live. Both backends pass the
/// same conformance suite (`infra/tests/event_store_conformance.rs`).
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream` atomically if the stream is at `expected`.
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, EventStoreError>;

    /// The stream's events with version greater than `after_version`, oldest first.
    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, EventStoreError>;

    /// Up to `limit` events of the global log after `after`, in position order.
    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, EventStoreError>;

    /// Writes events exactly as another store recorded them (positions, versions,
    /// ids, metadata and times kept), for `events import`. The first must be at
    /// the head + 1, positions must follow each other, and each stream's
    /// versions must continue where the stream is.
    async fn import(&self, events: Vec<RecordedEvent>) -> Result<(), EventStoreError>;

    /// The position of the last committed event (0 for an empty store).
    async fn head(&self) -> Result<Position, EventStoreError>;

    /// The current version of a stream (0 if it has no events).
    async fn stream_version(&self, stream: &StreamId) -> Result<u64, EventStoreError>;

    /// Tells in-process followers the newest head this process committed, so they
    /// wake at once instead of waiting for their next poll.
    fn appended(&self) -> watch::Receiver<Position>;

    /// Wakes this process's followers (through [`EventStore::appended`]) on
    /// appends that other processes commit, until `shutdown`: followers then
    /// need no tight polling to see them. A store no other process writes to
    /// returns at once.
    async fn follow_other_writers(&self, shutdown: CancellationToken) {
        let _ = shutdown;
    }

    /// Tells in-process followers of one stream that it grew, so a follower
    /// wakes only for its own stream (a waiting webhook, a live SSE stream)
    /// instead of on every append. Appends by other processes are not seen
    /// here; followers poll [`EventStore::stream_version`] for those.
    fn stream_appends(&self) -> broadcast::Receiver<StreamAppended>;
}

/// Checks that `events` continue a log whose head is `head`.
fn check_import_order(events: &[RecordedEvent], head: Position) -> Result<(), EventStoreError> {
    for (expected, event) in (head + 1..).zip(events) {
        if event.position != expected {
            return Err(EventStoreError::ImportOutOfOrder {
                position: event.position,
                expected,
            });
        }
    }
    Ok(())
}

/// Moves a watched head forward, never back (concurrent appends may finish out of order).
fn raise_head(head: &mut Position, to: Position) -> bool {
    if to > *head {
        *head = to;
        true
    } else {
        false
    }
}
