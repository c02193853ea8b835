//! If (`condition` → output 0 when truthy, output 1 otherwise) and Switch
//! (`rules`: the first truthy rule's index is the output; none → the fallback
//! output after the rules).

use crate::NodeOutcome;
use async_trait::async_trait;
use flowforge_domain::execution::NodeError;
use serde_json::Value;

use crate::{NodeBehaviour, NodeRun};

/// JavaScript truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The If node.
pub struct If;

#[async_trait]
impl NodeBehaviour for If {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        let mut outputs = vec![Vec::new(), Vec::new()];
        for (index, item) in run.items().into_iter().enumerate() {
            let parameters = match run.parameters_for(index, &item).await {
                Ok(parameters) => parameters,
                Err(error) => return NodeOutcome::Failed(error),
            };
            let Some(condition) = parameters.get("condition") else {
                return NodeOutcome::Failed(
                    NodeError::new("if needs a `condition`").with_code("parameters"),
                );
            };
            let branch = if truthy(condition) { 0 } else { 1 };
            outputs[branch].push(item);
        }
        NodeOutcome::Succeeded(outputs)
    }
}

/// The Switch node.
pub struct Switch;

#[async_trait]
impl NodeBehaviour for Switch {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        // The outputs are fixed by the definition: one per rule plus the
        // fallback. `rules` must be a list (each entry may be an expression).
        let Some(rules) = run
            .request
            .node
            .parameters()
            .get("rules")
            .and_then(Value::as_array)
            .map(Vec::len)
        else {
            return NodeOutcome::Failed(
                NodeError::new("switch needs `rules`: a list of conditions")
                    .with_code("parameters"),
            );
        };
        let mut outputs = vec![Vec::new(); rules + 1];
        for (index, item) in run.items().into_iter().enumerate() {
            let parameters = match run.parameters_for(index, &item).await {
                Ok(parameters) => parameters,
                Err(error) => return NodeOutcome::Failed(error),
            };
            let evaluated = parameters
                .get("rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let output = evaluated
                .iter()
                .take(rules)
                .position(truthy)
                .unwrap_or(rules);
            if let Some(items) = outputs.get_mut(output) {
                items.push(item);
            }
        }
        NodeOutcome::Succeeded(outputs)
    }
}
