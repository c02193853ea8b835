//! Respond to Webhook: evaluates `status` (default 200), `headers` and `body`
//! for the first item and outputs them as one item, which the webhook call
//! waiting in `respond_node` mode sends back.

use crate::NodeOutcome;
use async_trait::async_trait;
use serde_json::{json, Value};

use crate::{NodeBehaviour, NodeRun};

/// The Respond to Webhook node.
pub struct RespondToWebhook;

#[async_trait]
impl NodeBehaviour for RespondToWebhook {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        let first = run.items().into_iter().next().unwrap_or_default();
        let parameters = match run.parameters_for(0, &first).await {
            Ok(parameters) => parameters,
            Err(error) => return NodeOutcome::Failed(error),
        };
        let body = parameters
            .get("body")
            .cloned()
            .unwrap_or_else(|| Value::Object(first.clone()));
        let response = json!({
            "status": parameters.get("status").and_then(Value::as_u64).unwrap_or(200),
            "headers": parameters.get("headers").cloned().unwrap_or_else(|| json!({})),
            "body": body,
        });
        let Value::Object(item) = response else {
            return NodeOutcome::Succeeded(vec![Vec::new()]);
        };
        NodeOutcome::Succeeded(vec![vec![item]])
    }
}
