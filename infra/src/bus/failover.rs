//! The event source of a deployment with NATS: JetStream while it is usable,
//! the store itself while it is not. The store is the source of truth, so a
//! consumer never has to stop because the bus did: when JetStream is
//! unreachable, or its stream turns out to hold another store's log, the
//! subscription follows the store from the last position it handed out, and
//! returns to JetStream once the stream is reachable, this store's, and caught
//! up to that position. Positions are handed out in order exactly once across
//! the switches, so a consumer sees neither gaps nor repeats.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{
    jetstream::{ownership, subscription::JetStreamSubscription, JetStreamBus},
    store_tail::StoreTail,
    EventSource, EventSubscription, SubscriptionError,
};
use crate::event_store::{EventStore, Position, RecordedEvent};

/// How long to follow the store before trying JetStream again.
const RETRY_NATS: Duration = Duration::from_secs(2);
/// The longest an attempt to (re)open JetStream may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(3);
/// How far the stream may trail a consumer for it to return to JetStream (the
/// rest arrives as the publisher catches up).
const CATCH_UP_SLACK: Position = 256;

/// [`EventSource`] over JetStream that falls back to the store.
pub struct FailoverSource {
    bus: JetStreamBus,
    store: Arc<dyn EventStore>,
    poll_interval: Duration,
}

impl FailoverSource {
    /// Subscriptions on `bus`, following `store` (polling every
    /// `poll_interval` for other writers) while the bus cannot be used.
    pub fn new(bus: JetStreamBus, store: Arc<dyn EventStore>, poll_interval: Duration) -> Self {
        Self {
            bus,
            store,
            poll_interval,
        }
    }
}

#[async_trait]
impl EventSource for FailoverSource {
    async fn subscribe(
        &self,
        name: &str,
        after: Position,
    ) -> Result<Box<dyn EventSubscription>, SubscriptionError> {
        let mut subscription = FailoverSubscription {
            bus: self.bus.clone(),
            store: self.store.clone(),
            name: name.to_owned(),
            after,
            mode: Mode::Store(StoreTail::new(
                self.store.clone(),
                after,
                self.poll_interval,
            )),
            retry_at: Instant::now(),
            poll_interval: self.poll_interval,
        };
        subscription.try_jetstream().await;
        Ok(Box::new(subscription))
    }
}

/// Where a subscription reads from now.
enum Mode {
    JetStream(Box<JetStreamSubscription>),
    Store(StoreTail),
}

/// One consumer's subscription, switching between JetStream and the store.
struct FailoverSubscription {
    bus: JetStreamBus,
    store: Arc<dyn EventStore>,
    name: String,
    after: Position,
    mode: Mode,
    retry_at: Instant,
    poll_interval: Duration,
}

impl FailoverSubscription {
    /// Moves to JetStream if it is connected, this store's, and caught up.
    async fn try_jetstream(&mut self) {
        self.retry_at = Instant::now() + RETRY_NATS;
        if !self.bus.is_connected() {
            return;
        }
        let opened = tokio::time::timeout(OPEN_TIMEOUT, async {
            let tip = ownership::check_stream(&self.bus, &self.store).await?;
            if tip.unwrap_or(0) + CATCH_UP_SLACK < self.after {
                return Ok(None);
            }
            JetStreamSubscription::open(&self.bus, &self.name, self.after)
                .await
                .map(Some)
        })
        .await;
        match opened {
            Ok(Ok(Some(subscription))) => {
                if matches!(self.mode, Mode::Store(_)) {
                    info!(consumer = %self.name, after = self.after, "following JetStream");
                }
                self.mode = Mode::JetStream(Box::new(subscription));
            }
            Ok(Ok(None)) => {
                debug!(consumer = %self.name, "JetStream still catching up; following the store")
            }
            Ok(Err(error)) => self.report(&error),
            Err(_elapsed) => debug!(consumer = %self.name, "JetStream did not answer in time"),
        }
    }

    /// Follows the store from the last position handed out.
    fn fall_back(&mut self, error: &SubscriptionError) {
        self.report(error);
        self.mode = Mode::Store(StoreTail::new(
            self.store.clone(),
            self.after,
            self.poll_interval,
        ));
        self.retry_at = Instant::now() + RETRY_NATS;
    }

    /// A foreign stream is logged once per process (see
    /// [`JetStreamBus::report_foreign_stream`]); an unreachable bus once per switch.
    fn report(&self, error: &SubscriptionError) {
        if matches!(error, SubscriptionError::ForeignStream { .. }) {
            self.bus.report_foreign_stream(error);
        } else if matches!(self.mode, Mode::JetStream(_)) {
            warn!(consumer = %self.name, %error, after = self.after,
                "JetStream unusable; following the store directly");
        } else {
            debug!(consumer = %self.name, %error, "JetStream still unusable");
        }
    }

    /// Checks a batch from JetStream before handing it out.
    async fn checked(&self, batch: &[RecordedEvent]) -> Result<(), SubscriptionError> {
        match batch.last() {
            Some(last) => {
                ownership::check_event(
                    &self.store,
                    &self.bus.settings().stream,
                    last.position,
                    &last.event_id.to_string(),
                )
                .await
            }
            None if self.bus.is_connected() => Ok(()),
            None => Err(SubscriptionError::Nats("disconnected".to_owned())),
        }
    }
}

#[async_trait]
impl EventSubscription for FailoverSubscription {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, SubscriptionError> {
        loop {
            match &mut self.mode {
                Mode::JetStream(subscription) => {
                    let outcome = match subscription.next_batch(max).await {
                        Ok(batch) => self.checked(&batch).await.map(|()| batch),
                        Err(error) => Err(error),
                    };
                    match outcome {
                        Ok(batch) => {
                            if let Some(last) = batch.last() {
                                self.after = last.position;
                            }
                            return Ok(batch);
                        }
                        // The caller reopens from its checkpoint; a store
                        // that cannot be read fails the same either way.
                        Err(
                            error @ (SubscriptionError::Gap { .. } | SubscriptionError::Store(_)),
                        ) => return Err(error),
                        Err(error) => self.fall_back(&error),
                    }
                }
                Mode::Store(_) => {
                    if Instant::now() >= self.retry_at {
                        self.try_jetstream().await;
                        if matches!(self.mode, Mode::JetStream(_)) {
                            continue;
                        }
                    }
                    let Mode::Store(tail) = &mut self.mode else {
                        continue;
                    };
                    let batch = tail.next_batch(max).await?;
                    if let Some(last) = batch.last() {
                        self.after = last.position;
                    }
                    return Ok(batch);
                }
            }
        }
    }
}
