//! Set: for each item, evaluate `fields` (name → value or expression) and
//! output them — alone (`keep_only_set`, the default) or added to the item.

use crate::NodeOutcome;
use async_trait::async_trait;
use flowforge_domain::execution::NodeError;
use serde_json::Value;

use crate::{NodeBehaviour, NodeRun};

/// The Set node.
pub struct Set;

#[async_trait]
impl NodeBehaviour for Set {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        let keep_only_set = run
            .request
            .node
            .parameters()
            .get("keep_only_set")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let mut out = Vec::new();
        for (index, item) in run.items().iter().enumerate() {
            let parameters = match run.parameters_for(index, item).await {
                Ok(parameters) => parameters,
                Err(error) => return NodeOutcome::Failed(error),
            };
            let Some(fields) = parameters.get("fields").and_then(Value::as_object) else {
                return NodeOutcome::Failed(
                    NodeError::new("set needs `fields`: an object of name → value")
                        .with_code("parameters"),
                );
            };
            let mut result = if keep_only_set {
                serde_json::Map::new()
            } else {
                item.clone()
            };
            for (name, value) in fields {
                result.insert(name.clone(), value.clone());
            }
            out.push(result);
        }
        NodeOutcome::Succeeded(vec![out])
    }
}
