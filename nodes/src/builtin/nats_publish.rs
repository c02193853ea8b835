//! NATS Publish: publishes each item to `subject` — the evaluated `payload`
//! parameter if given, else the item itself — as JSON. The items pass through.

use async_trait::async_trait;
use flowforge_domain::execution::NodeError;
use std::sync::Arc;

use crate::{MessagePublisher, NodeOutcome};
use serde_json::Value;

use crate::{NodeBehaviour, NodeRun};

/// The NATS Publish node.
pub struct NatsPublish {
    /// What it publishes through.
    pub publisher: Arc<dyn MessagePublisher>,
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
            if let Err(error) = self.publisher.publish(subject, bytes).await {
                return NodeOutcome::Failed(NodeError::new(error.to_string()).with_code("nats"));
            }
        }
        if let Err(error) = self.publisher.flush().await {
            return NodeOutcome::Failed(NodeError::new(error.to_string()).with_code("nats"));
        }
        NodeOutcome::Succeeded(vec![items])
    }
}
