//! The seam between the committed log and whatever consumes it (projections now,
//! process managers later). A subscription hands out batches of events in global
//! order from a starting position and waits when it has caught up.
//!
//! [`StoreTail`] is the in-process transport: it reads the store directly, wakes at
//! once on appends made by this process and polls for appends made by others.
//! The NATS JetStream transport implements the same trait.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use tokio::sync::watch;

use crate::event_store::{EventStore, EventStoreError, Position, RecordedEvent};

/// An ordered, resumable stream of committed events.
#[async_trait]
pub trait EventSubscription: Send {
    /// The next events after the last batch, at most `max`, oldest first; waits
    /// until at least one is committed.
    async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, EventStoreError>;
}

/// Follows the event store itself, from a position on.
pub struct StoreTail {
    store: Arc<dyn EventStore>,
    after: Position,
    appended: watch::Receiver<Position>,
    poll_interval: Duration,
}

impl StoreTail {
    /// Starts after `after`; checks the store at least every `poll_interval` for
    /// events appended by other processes.
    pub fn new(store: Arc<dyn EventStore>, after: Position, poll_interval: Duration) -> Self {
        let appended = store.appended();
        Self {
            store,
            after,
            appended,
            poll_interval,
        }
    }
}

#[async_trait]
impl EventSubscription for StoreTail {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, EventStoreError> {
        loop {
            self.appended.mark_unchanged();
            let batch = self.store.read_all(self.after, max).await?;
            if let Some(last) = batch.last() {
                self.after = last.position;
                return Ok(batch);
            }
            // Either this process appends (the watch fires) or the poll finds
            // another process's events; a closed watch just means polling.
            let _ = tokio::time::timeout(self.poll_interval, self.appended.changed()).await;
        }
    }
}
