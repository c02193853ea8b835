//! Copies the store's log onto JetStream, one message per event, in position
//! order, and keeps its checkpoint in the database.
//!
//! Exactly once per position, with several instances running, rests on two
//! mechanisms:
//! - *Leadership*: one instance holds the `nats-publisher` lease and publishes;
//!   the others wait to take over (the loop of [`crate::leadership`]).
//! - *Expected last sequence*: every publish says which stream sequence it must
//!   follow. If a message is lost, or a second publisher slips in (a lease lost
//!   to a network partition), the server refuses the publish instead of storing
//!   a gap, a reordering or a duplicate. The publisher then resyncs: it reads
//!   the position of the stream's last message and continues after it.
//!
//! Resuming from the stream's last message (not only from the database
//! checkpoint) means a crash between publish and checkpoint never re-publishes;
//! the JetStream de-duplication window (message id = event id) is a second net.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{context::PublishAckFuture, message::PublishMessage, stream};
use async_trait::async_trait;
use flowforge_monitoring::trace_context::continue_trace;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{ownership, wire, JetStreamBus};
use crate::{
    bus::{store_tail::StoreTail, EventSubscription, SubscriptionError},
    checkpoints::Checkpoints,
    event_store::{EventStore, Position, RecordedEvent},
    leadership::{lead_while_leader, LeaderLease, Leadership, TermError, TermLeader, Terms},
};

/// The lease and checkpoint name of the publisher.
pub const PUBLISHER_NAME: &str = "nats-publisher";
/// Events published per round (and per checkpoint write).
const BATCH: usize = 256;
/// The pause after a first failure; it doubles with each failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between attempts while NATS or the database is down.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Tails the store and publishes to JetStream until cancelled.
pub struct EventPublisher {
    store: Arc<dyn EventStore>,
    bus: JetStreamBus,
    checkpoints: Checkpoints,
    leadership: Leadership,
    poll_interval: Duration,
    published: watch::Sender<Position>,
}

impl EventPublisher {
    /// A publisher of `store`'s log onto `bus`.
    pub fn new(
        store: Arc<dyn EventStore>,
        bus: JetStreamBus,
        checkpoints: Checkpoints,
        leadership: Leadership,
        poll_interval: Duration,
    ) -> Self {
        let (published, _) = watch::channel(0);
        Self {
            store,
            bus,
            checkpoints,
            leadership,
            poll_interval,
            published,
        }
    }

    /// The last position this instance published (0 while another leads).
    pub fn published(&self) -> watch::Receiver<Position> {
        self.published.subscribe()
    }

    /// Publishes while leader, waits while not, retries with backoff on failures.
    pub async fn run(self, shutdown: CancellationToken) {
        let leadership = self.leadership.clone();
        let leader = PublishingLeader {
            publisher: self,
            terms: Terms::new(shutdown),
        };
        // The publisher reads the store itself: its terms need no bus.
        lead_while_leader(Arc::new(leader), Arc::new(()), leadership).await;
    }

    /// Returns `Ok` when the lease is lost or shutdown comes, `Err` on a failure.
    async fn publish_while_leader(
        &self,
        lease: &mut LeaderLease,
        shutdown: &CancellationToken,
    ) -> Result<(), TermError> {
        let mut stream = self.bus.stream().await?;
        let (mut last_sequence, resume) = self.resume_point(&mut stream).await?;
        info!(resume, last_sequence, "publisher resuming");
        self.published.send_replace(resume);
        let mut tail = StoreTail::new(self.store.clone(), resume, self.poll_interval);
        loop {
            let batch = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                batch = tail.next_batch(BATCH) => batch?,
            };
            let Some(last) = batch.last().map(|e| e.position) else {
                if lease.is_held().await {
                    continue;
                }
                warn!("publisher lease lost; standing by");
                return Ok(());
            };
            let mut acks: Vec<PublishAckFuture> = Vec::with_capacity(batch.len());
            let mut spans = Vec::new();
            for event in &batch {
                if let Some(span) = publish_span(event) {
                    spans.push(span);
                }
                let (body, headers) = wire::encode(event);
                let message = PublishMessage::build()
                    .payload(body.into())
                    .headers(headers)
                    .message_id(event.event_id.to_string())
                    .expected_last_sequence(last_sequence);
                let ack = self
                    .bus
                    .context()
                    .send_publish(
                        self.bus
                            .settings()
                            .subject_for(&event.metadata.tenant_id, &event.stream),
                        message,
                    )
                    .await
                    .map_err(|e| SubscriptionError::Nats(format!("publish: {e}")))?;
                acks.push(ack);
                last_sequence += 1;
            }
            for ack in acks {
                ack.await
                    .map_err(|e| SubscriptionError::Nats(format!("publish ack: {e}")))?;
            }
            drop(spans);
            self.checkpoints
                .advance(PUBLISHER_NAME, last)
                .await
                .map_err(|e| TermError::checkpoint(PUBLISHER_NAME, e))?;
            self.published.send_replace(last);
        }
    }

    /// The stream's last sequence and the position to publish after: the
    /// position carried by the stream's last message, or the database checkpoint
    /// when the stream is empty (or its last message is not ours). A stream
    /// holding another store's log is refused: publishing after its last
    /// position would skip this store's events.
    async fn resume_point(
        &self,
        stream: &mut stream::Stream,
    ) -> Result<(u64, Position), TermError> {
        let checkpoint_error = |e| TermError::checkpoint(PUBLISHER_NAME, e);
        let (last_sequence, published) =
            ownership::checked_tip(&self.bus, stream, &self.store).await?;
        let checkpoint = self
            .checkpoints
            .get(PUBLISHER_NAME)
            .await
            .map_err(checkpoint_error)?;
        if let Some(published) = published.filter(|&p| p > checkpoint) {
            self.checkpoints
                .advance(PUBLISHER_NAME, published)
                .await
                .map_err(checkpoint_error)?;
        }
        Ok((last_sequence, published.unwrap_or(checkpoint)))
    }
}

/// A running publisher as a leader: the publisher and its terms.
struct PublishingLeader {
    publisher: EventPublisher,
    terms: Terms,
}

#[async_trait]
impl TermLeader<()> for PublishingLeader {
    fn lease(&self) -> &str {
        PUBLISHER_NAME
    }

    fn terms(&self) -> &Terms {
        &self.terms
    }

    async fn lead_term(self: Arc<Self>, _: &(), lease: &mut LeaderLease) -> Result<(), TermError> {
        let published = self
            .publisher
            .publish_while_leader(lease, self.terms.shutdown())
            .await;
        match published {
            // Said once as an error, and by readiness until someone acts: a
            // warning every few seconds would add nothing.
            Err(TermError::Subscription(error @ SubscriptionError::ForeignStream { .. })) => {
                self.publisher.bus.report_foreign_stream(&error);
                self.terms.pause(MAX_BACKOFF).await;
                Ok(())
            }
            outcome => outcome,
        }
    }

    fn interrupted(&self, _error: &TermError, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        FIRST_BACKOFF
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF)
    }
}

/// The FlowForge position a message carries in its headers.
pub fn position_header(headers: &async_nats::HeaderMap) -> Option<Position> {
    headers
        .get(wire::HEADER_POSITION)
        .and_then(|v| v.as_str().parse().ok())
}

/// The span of one event's publish, until JetStream acknowledged it, in the
/// trace of the command that recorded the event (none for events without one).
fn publish_span(event: &RecordedEvent) -> Option<tracing::Span> {
    let traceparent = event.metadata.traceparent.as_deref()?;
    let span = tracing::info_span!(
        "bus.publish",
        otel.kind = "producer",
        event_type = %event.event_type,
        position = event.position,
    );
    continue_trace(&span, Some(traceparent));
    Some(span)
}
