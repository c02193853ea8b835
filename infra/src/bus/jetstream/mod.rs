//! The NATS JetStream transport. The [`publisher`] copies the store's log onto
//! a JetStream stream, one message per event, in position order; [`subscription`]
//! reads it back through one durable consumer per subscriber; [`ownership`]
//! tells whether a stream holds this store's log. Subjects are
//! `<prefix>.<aggregate_type>.<aggregate_id>` with the prefix `flowforge.events`
//! by default.

pub mod ownership;
pub mod publisher;
pub mod subscription;
pub mod wire;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use async_nats::jetstream::{self, stream};

use super::SubscriptionError;
use crate::event_store::StreamId;

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

    /// The subject of the events of `stream`, which belongs to `tenant`:
    /// `<prefix>.<tenant>.<aggregate_type>.<aggregate_id>`, so a subscriber
    /// can take one workspace's events (`<prefix>.<workspace id>.>`). A
    /// tenant's characters that a subject token cannot hold become `_`.
    pub fn subject_for(&self, tenant: &str, stream: &StreamId) -> String {
        format!(
            "{}.{}.{}.{}",
            self.subject_prefix,
            subject_token(tenant),
            stream.aggregate_type(),
            stream.aggregate_id()
        )
    }

    /// The wildcard matching every FlowForge event subject.
    pub fn all_subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }
}

/// `text` as one NATS subject token: no `.`, `*`, `>` or whitespace, not empty.
fn subject_token(text: &str) -> String {
    let token: String = text
        .chars()
        .map(|c| {
            if c == '.' || c == '*' || c == '>' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if token.is_empty() {
        "_".to_owned()
    } else {
        token
    }
}

/// A connection to NATS with FlowForge's stream.
#[derive(Clone)]
pub struct JetStreamBus {
    settings: JetStreamSettings,
    client: async_nats::Client,
    context: jetstream::Context,
    foreign_reported: Arc<AtomicBool>,
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
            foreign_reported: Arc::default(),
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

    /// Logs that the stream holds another store's log: as one error saying what
    /// to do the first time in this process, quietly after that (every reader
    /// and the publisher find it, and keep finding it until it is fixed).
    pub fn report_foreign_stream(&self, error: &SubscriptionError) {
        if self.foreign_reported.swap(true, Ordering::Relaxed) {
            tracing::debug!(%error, "refusing the NATS stream");
        } else {
            tracing::error!(%error, "refusing the NATS stream");
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_carry_the_tenant_as_one_safe_token() {
        let settings = JetStreamSettings::new("nats://127.0.0.1:4222");
        let stream = StreamId::new("workflow", "w1").expect("stream");
        assert_eq!(
            settings.subject_for("01a2-ws", &stream),
            "flowforge.events.01a2-ws.workflow.w1"
        );
        assert_eq!(
            settings.subject_for("a.b *>", &stream),
            "flowforge.events.a_b___.workflow.w1"
        );
        assert_eq!(
            settings.subject_for("", &stream),
            "flowforge.events._.workflow.w1"
        );
    }
}
