//! Stop and Error: fails the node (and, unless continued, the execution) with
//! its `message`.

use crate::NodeOutcome;
use async_trait::async_trait;
use flowforge_domain::execution::NodeError;
use serde_json::Value;

use crate::{NodeBehaviour, NodeRun};

/// The Stop and Error node.
pub struct StopAndError;

#[async_trait]
impl NodeBehaviour for StopAndError {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        let first = run.items().into_iter().next().unwrap_or_default();
        let message = match run.parameters_for(0, &first).await {
            Ok(parameters) => parameters
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("stopped by a Stop and Error node")
                .to_owned(),
            Err(error) => return NodeOutcome::Failed(error),
        };
        NodeOutcome::Failed(NodeError::new(message).with_code("stopped"))
    }
}
