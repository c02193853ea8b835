//! NATS Publish: publishes each item to `subject` — the evaluated `payload`
//! parameter if given, else the item itself — as JSON. The items pass through.

use async_trait::async_trait;
use flowforge_domain::execution::NodeError;
use flowforge_sagas::NodeOutcome;
use serde_json::Value;

use super::{NodeBehaviour, NodeRun};

/// The NATS Publish node.
pub struct NatsPublish {
    /// The connection it publishes through.
    pub client: async_nats::Client,
}

#[async_trait]
impl NodeBehaviour for NatsPublish {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        let items = run.items();
        for (index, item) in items.iter().enumerate() {
            let parameters = match run.parameters_for(index, item).await {
                Ok(parameters) => parameters,
                Err(error) => return NodeOutcome::Failed(error),
            };
            let Some(subject) = parameters.get("subject").and_then(Value::as_str) else {
                return NodeOutcome::Failed(
                    NodeError::new("nats_publish needs `subject`").with_code("parameters"),
                );
            };
            let payload = parameters
                .get("payload")
                .cloned()
                .unwrap_or_else(|| Value::Object(item.clone()));
            let bytes = serde_json::to_vec(&payload).unwrap_or_default();
            if let Err(error) = self.client.publish(subject.to_owned(), bytes.into()).await {
                return NodeOutcome::Failed(
                    NodeError::new(format!("publish to {subject}: {error}")).with_code("nats"),
                );
            }
        }
        if let Err(error) = self.client.flush().await {
            return NodeOutcome::Failed(
                NodeError::new(format!("flush: {error}")).with_code("nats"),
            );
        }
        NodeOutcome::Succeeded(vec![items])
    }
}
