//! The NATS JetStream transport. The [`publisher`] copies the store's log onto
//! a JetStream stream, one message per event, in position order; [`subscription`]
//! reads it back through one durable consumer per subscriber. Subjects are
//! `<prefix>.<aggregate_type>.<aggregate_id>` with the prefix `flowforge.events`
//! by default.

pub mod publisher;
pub mod subscription;
pub mod wire;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_trait::async_trait;

use super::{EventSource, EventSubscription, SubscriptionError};
use crate::event_store::{Position, StreamId};

/// Where FlowForge's events live on NATS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamSettings {
    /// The NATS server URL.
    pub url: String,
    /// The JetStream stream name (`FLOWFORGE_EVENTS`).
    pub stream: String,
    /// The subject prefix (`flowforge.events`).
    pub subject_prefix: String,
}

impl JetStreamSettings {
    /// The defaults for a server URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream: "FLOWFORGE_EVENTS".to_owned(),
            subject_prefix: wire::SUBJECT_PREFIX.to_owned(),
        }
    }

    /// The subject of a stream's events.
    pub fn subject_for(&self, stream: &StreamId) -> String {
        format!(
            "{}.{}.{}",
            self.subject_prefix,
            stream.aggregate_type(),
            stream.aggregate_id()
        )
    }

    /// The wildcard matching every FlowForge event subject.
    pub fn all_subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }
}

/// A connection to NATS with FlowForge's stream.
#[derive(Clone)]
pub struct JetStreamBus {
    settings: JetStreamSettings,
    client: async_nats::Client,
    context: jetstream::Context,
}

impl JetStreamBus {
    /// Connects to NATS. The client reconnects by itself, also when the server is
    /// down at start, so this returns at once and work waits for the server.
    pub async fn connect(settings: JetStreamSettings) -> Result<Self, SubscriptionError> {
        let client = async_nats::ConnectOptions::new()
            .name("flowforge")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(settings.url.as_str())
            .await
            .map_err(|e| {
                SubscriptionError::Nats(format!("cannot connect to {}: {e}", settings.url))
            })?;
        let context = jetstream::new(client.clone());
        Ok(Self {
            settings,
            client,
            context,
        })
    }

    /// The settings this bus was made with.
    pub fn settings(&self) -> &JetStreamSettings {
        &self.settings
    }

    /// The core NATS client (triggers subscribe and nodes publish through it).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context, for publishing and consumers.
    pub fn context(&self) -> &jetstream::Context {
        &self.context
    }

    /// Whether the client is connected right now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// FlowForge's stream, created if it does not exist yet.
    pub async fn stream(&self) -> Result<stream::Stream, SubscriptionError> {
        self.context
            .get_or_create_stream(stream::Config {
                name: self.settings.stream.clone(),
                subjects: vec![self.settings.all_subjects()],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| SubscriptionError::Nats(format!("stream {}: {e}", self.settings.stream)))
    }

    /// Deletes FlowForge's stream, for tooling and tests that start over.
    pub async fn delete_stream(&self) -> Result<(), SubscriptionError> {
        self.context
            .delete_stream(&self.settings.stream)
            .await
            .map(drop)
            .map_err(|e| SubscriptionError::Nats(e.to_string()))
    }
}

/// [`EventSource`] over JetStream: each subscriber gets its durable consumer.
pub struct JetStreamSource {
    bus: JetStreamBus,
}

impl JetStreamSource {
    /// Subscriptions on `bus`.
    pub fn new(bus: JetStreamBus) -> Self {
        Self { bus }
    }
}

#[async_trait]
impl EventSource for JetStreamSource {
    async fn subscribe(
        &self,
        name: &str,
        after: Position,
    ) -> Result<Box<dyn EventSubscription>, SubscriptionError> {
        Ok(Box::new(
            subscription::JetStreamSubscription::open(&self.bus, name, after).await?,
        ))
    }
}
