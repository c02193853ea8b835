//! The in-process transport: follows the event store itself from a position on.
//! It wakes at once on appends made by this process and polls for appends made
//! by others. Used in embedded mode and by tooling that reads the log directly.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use tokio::sync::watch;

use super::{EventSource, EventSubscription, SubscriptionError};
use crate::event_store::{EventStore, Position, RecordedEvent};

/// How long `next_batch` waits for new events before returning an empty batch.
const IDLE_RETURN: Duration = Duration::from_secs(1);

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
    async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, SubscriptionError> {
        let deadline = tokio::time::Instant::now() + IDLE_RETURN;
        loop {
            self.appended.mark_unchanged();
            let batch = self.store.read_all(self.after, max).await?;
            if let Some(last) = batch.last() {
                self.after = last.position;
                return Ok(batch);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(batch);
            }
            // Either this process appends (the watch fires) or the poll finds
            // another process's events; a closed watch just means polling.
            let wait = self.poll_interval.min(deadline - now);
            let _ = tokio::time::timeout(wait, self.appended.changed()).await;
        }
    }
}

/// [`EventSource`] over the store: every subscription tails the log directly.
pub struct StoreTailSource {
    store: Arc<dyn EventStore>,
    poll_interval: Duration,
}

impl StoreTailSource {
    /// Subscriptions on `store`, polling every `poll_interval` for other writers.
    pub fn new(store: Arc<dyn EventStore>, poll_interval: Duration) -> Self {
        Self {
            store,
            poll_interval,
        }
    }
}

#[async_trait]
impl EventSource for StoreTailSource {
    async fn subscribe(
        &self,
        _name: &str,
        after: Position,
    ) -> Result<Box<dyn EventSubscription>, SubscriptionError> {
        Ok(Box::new(StoreTail::new(
            self.store.clone(),
            after,
            self.poll_interval,
        )))
    }
}
