//! The in-process transport: follows the event store itself from a position on.
//! It wakes at once on appends the store announces (this process's, and on
//! PostgreSQL other instances' too) and polls, slowly, as a safety net. Used
//! in embedded mode, while NATS is away, and by tooling that reads the log.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use tokio::{sync::watch, time::Instant};

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
    /// When the store was last read and had nothing new (none: read next time).
    idle_since: Option<Instant>,
    /// An append was announced since the last read (`changed()` consumed the
    /// watch's notice, so `has_changed()` no longer tells).
    announced: bool,
}

impl StoreTail {
    /// Starts after `after`; reads the store when the store announces an
    /// append ([`EventStore::appended`], which covers other processes where
    /// the store can tell) and at least every `poll_interval` otherwise.
    pub fn new(store: Arc<dyn EventStore>, after: Position, poll_interval: Duration) -> Self {
        let appended = store.appended();
        Self {
            store,
            after,
            appended,
            poll_interval,
            idle_since: None,
            announced: false,
        }
    }

    /// Whether the store should be read now: an append was announced, or the
    /// poll interval passed since the last empty read.
    fn read_due(&self) -> bool {
        self.announced
            || self.appended.has_changed().unwrap_or(false)
            || self
                .idle_since
                .is_none_or(|since| since.elapsed() >= self.poll_interval)
    }
}

#[async_trait]
impl EventSubscription for StoreTail {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, SubscriptionError> {
        let deadline = Instant::now() + IDLE_RETURN;
        loop {
            if self.read_due() {
                self.appended.mark_unchanged();
                self.announced = false;
                let batch = self.store.read_all(self.after, max).await?;
                if let Some(last) = batch.last() {
                    self.after = last.position;
                    self.idle_since = None;
                    return Ok(batch);
                }
                self.idle_since = Some(Instant::now());
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            // Either an append is announced (the watch fires) or the poll is
            // due; a closed watch just means polling.
            let next_poll = self
                .idle_since
                .map_or(now, |since| since + self.poll_interval);
            let wait = next_poll.min(deadline).saturating_duration_since(now);
            match tokio::time::timeout(wait, self.appended.changed()).await {
                Ok(Ok(())) => self.announced = true,
                Ok(Err(_closed)) => tokio::time::sleep(wait).await,
                Err(_waited) => {}
            }
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
