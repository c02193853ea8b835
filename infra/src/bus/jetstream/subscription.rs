//! Reading the log back from JetStream through a durable pull consumer.
//!
//! The database checkpoint is the truth about what a subscriber has applied, so
//! opening a subscription (re)creates its durable consumer to start right after
//! that checkpoint. The publisher stores exactly one message per position, in
//! order, so the start sequence follows from the stream's first message; a
//! subscription also refuses to skip a position (it reports a gap, and the
//! caller reopens from the checkpoint).

use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{pull, AckPolicy, DeliverPolicy},
};
use async_trait::async_trait;
use futures::StreamExt;
use tracing::warn;

use super::{publisher::position_header, wire, JetStreamBus};
use crate::{
    bus::{EventSubscription, SubscriptionError},
    event_store::{Position, RecordedEvent},
};

/// How long a batch waits for its first message before returning empty.
const IDLE_RETURN: Duration = Duration::from_secs(1);

/// A durable consumer's view of the log, after a position.
pub struct JetStreamSubscription {
    messages: pull::Stream,
    after: Position,
    unacked: Vec<jetstream::Message>,
}

fn nats_error(what: &str) -> impl Fn(String) -> SubscriptionError + '_ {
    move |e| SubscriptionError::Nats(format!("{what}: {e}"))
}

impl JetStreamSubscription {
    /// (Re)creates the durable consumer `flowforge-<name>` to deliver the events
    /// after `after`, and opens it.
    pub async fn open(
        bus: &JetStreamBus,
        name: &str,
        after: Position,
    ) -> Result<Self, SubscriptionError> {
        let mut stream = bus.stream().await?;
        let deliver_policy = start_after(&mut stream, after).await?;
        let durable: String = format!("flowforge-{name}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        // Whatever the consumer had delivered or acknowledged before does not
        // matter: the checkpoint says where to start.
        let _ = stream.delete_consumer(&durable).await;
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(durable.clone()),
                deliver_policy,
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(60),
                max_ack_pending: 20_000,
                filter_subject: bus.settings().all_subjects(),
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error("create consumer")(e.to_string()))?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(500)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(10))
            .messages()
            .await
            .map_err(|e| nats_error("consume")(e.to_string()))?;
        Ok(Self {
            messages,
            after,
            unacked: Vec::new(),
        })
    }

    async fn ack_previous(&mut self) -> Result<(), SubscriptionError> {
        for message in self.unacked.drain(..) {
            message
                .ack()
                .await
                .map_err(|e| nats_error("ack")(e.to_string()))?;
        }
        Ok(())
    }

    /// Takes one message into `batch` (or skips it as already seen).
    fn take(
        &mut self,
        message: jetstream::Message,
        batch: &mut Vec<RecordedEvent>,
    ) -> Result<(), SubscriptionError> {
        let event = wire::decode(&message.payload)?;
        let expected = self.after + 1;
        if event.position < expected {
            // A redelivery of something already handed out.
            self.unacked.push(message);
            return Ok(());
        }
        if event.position > expected {
            return Err(SubscriptionError::Gap {
                expected,
                delivered: event.position,
            });
        }
        self.after = event.position;
        self.unacked.push(message);
        batch.push(event);
        Ok(())
    }
}

/// Where a consumer must start to deliver the first position after `after`.
async fn start_after(
    stream: &mut jetstream::stream::Stream,
    after: Position,
) -> Result<DeliverPolicy, SubscriptionError> {
    let info = stream
        .info()
        .await
        .map_err(|e| nats_error("stream info")(e.to_string()))?;
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    if info.state.messages == 0 {
        return Ok(DeliverPolicy::ByStartSequence {
            start_sequence: last + 1,
        });
    }
    let first_message = stream
        .get_raw_message(first)
        .await
        .map_err(|e| nats_error("first message")(e.to_string()))?;
    let Some(first_position) = position_header(&first_message.headers) else {
        warn!("the stream's first message has no FlowForge position; delivering all");
        return Ok(DeliverPolicy::All);
    };
    if after + 1 < first_position {
        warn!(
            after,
            first_position, "events before the stream's first message are no longer on NATS"
        );
        return Ok(DeliverPolicy::All);
    }
    let start_sequence = first + (after + 1 - first_position);
    if start_sequence > last {
        return Ok(DeliverPolicy::ByStartSequence { start_sequence });
    }
    // Check the arithmetic against the message itself: a stream with foreign
    // messages in it would break it, and delivering all is always correct.
    let start = stream
        .get_raw_message(start_sequence)
        .await
        .map_err(|e| nats_error("start message")(e.to_string()))?;
    if position_header(&start.headers) == Some(after + 1) {
        Ok(DeliverPolicy::ByStartSequence { start_sequence })
    } else {
        warn!(
            start_sequence,
            "the stream is not one message per position; delivering all"
        );
        Ok(DeliverPolicy::All)
    }
}

#[async_trait]
impl EventSubscription for JetStreamSubscription {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, SubscriptionError> {
        self.ack_previous().await?;
        let mut batch = Vec::new();
        let deadline = tokio::time::Instant::now() + IDLE_RETURN;
        // Wait (bounded) for the first new event, then take what is already here.
        while batch.is_empty() {
            let next = tokio::time::timeout_at(deadline, self.messages.next()).await;
            match next {
                Err(_elapsed) => return Ok(batch),
                Ok(None) => return Err(SubscriptionError::Nats("consumer closed".to_owned())),
                Ok(Some(message)) => {
                    let message = message.map_err(|e| nats_error("message")(e.to_string()))?;
                    self.take(message, &mut batch)?;
                }
            }
        }
        while batch.len() < max {
            match futures::FutureExt::now_or_never(self.messages.next()) {
                Some(Some(message)) => {
                    let message = message.map_err(|e| nats_error("message")(e.to_string()))?;
                    self.take(message, &mut batch)?;
                }
                Some(None) | None => break,
            }
        }
        Ok(batch)
    }
}
