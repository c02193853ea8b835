//! The bus: how committed events reach their consumers (projections now,
//! process managers later). An [`EventSource`] opens a named, resumable
//! subscription after a position; the subscription hands out batches in global
//! order and acknowledges each batch when the next one is asked for, so a batch
//! that was not applied is delivered again after a restart.
//!
//! Two transports implement it: [`store_tail`] reads the store itself (embedded
//! mode, one process) and [`jetstream`] reads the events the publisher put on
//! NATS JetStream (several instances); [`failover`] uses JetStream while it is
//! usable and the store while it is not.

pub mod failover;
pub mod jetstream;
pub mod store_tail;

use async_trait::async_trait;

use crate::event_store::{EventStoreError, Position, RecordedEvent};

/// Why a subscription could not deliver.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] EventStoreError),
    /// NATS or JetStream failed.
    #[error("NATS: {0}")]
    Nats(String),
    /// A message on the bus is not a FlowForge event.
    #[error(transparent)]
    Wire(#[from] jetstream::wire::WireError),
    /// The stream holds another store's log: none of it may be applied here.
    #[error(
        "NATS stream {stream} holds another store's log (its position {position} is event \
         {on_stream}, this store's is {}): set FLOWFORGE_NATS_STREAM and \
         FLOWFORGE_NATS_SUBJECT_PREFIX to a stream of this deployment's own, or delete the \
         stream if its events are stale; until then this instance follows the store directly",
        in_store.as_deref().unwrap_or("missing")
    )]
    ForeignStream {
        /// The stream's name.
        stream: String,
        /// The position compared.
        position: Position,
        /// The event id the stream carries there.
        on_stream: String,
        /// The event id the store holds there, if any.
        in_store: Option<String>,
    },
    /// The bus skipped a position: resubscribe from the checkpoint.
    #[error("expected position {expected} next, the bus delivered {delivered}")]
    Gap {
        /// The position that should have come next.
        expected: Position,
        /// The position that came.
        delivered: Position,
    },
}

/// An ordered, resumable stream of committed events.
#[async_trait]
pub trait EventSubscription: Send {
    /// The next events after the last batch, at most `max`, oldest first.
    /// Returns an empty batch when nothing arrived within about a second, so
    /// callers can check for shutdown. Asking for a batch acknowledges the
    /// previous one: call it only once the previous batch has been applied.
    async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, SubscriptionError>;
}

/// Opens subscriptions: the seam between consumers and the transport.
#[async_trait]
pub trait EventSource: Send + Sync {
    /// A subscription for the consumer `name` delivering events after `after`.
    async fn subscribe(
        &self,
        name: &str,
        after: Position,
    ) -> Result<Box<dyn EventSubscription>, SubscriptionError>;
}
