//! The node library's message port over NATS: what the `nats_publish` node
//! publishes through when the server runs with `NATS_URL`.

use async_trait::async_trait;
use flowforge_nodes::{MessagePublisher, PublishError};

/// Publishes node messages on a NATS connection.
#[derive(Debug, Clone)]
pub struct NatsPublisher {
    client: async_nats::Client,
}

impl NatsPublisher {
    /// A publisher on `client`.
    pub fn new(client: async_nats::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl MessagePublisher for NatsPublisher {
    async fn publish(&self, subject: &str, payload: Vec<u8>) -> Result<(), PublishError> {
        self.client
            .publish(subject.to_owned(), payload.into())
            .await
            .map_err(|error| PublishError::new(format!("publish to {subject}: {error}")))
    }

    async fn flush(&self) -> Result<(), PublishError> {
        self.client
            .flush()
            .await
            .map_err(|error| PublishError::new(format!("flush: {error}")))
    }
}
