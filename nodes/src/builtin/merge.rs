//! Merge: `append` (inputs in input order), `wait_all` (the same, once every
//! input has delivered — the planner waits), `combine_by_field` (items of
//! input 0 and input 1 with equal `field` values, merged into one).

use crate::NodeOutcome;
use async_trait::async_trait;
use flowforge_domain::execution::{concat_items, NodeError};
use serde_json::Value;

use crate::registry::{string_parameter, NodeBehaviour, NodeRun};

/// The Merge node.
pub struct Merge;

#[async_trait]
impl NodeBehaviour for Merge {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        let parameters = run.parameters();
        let inputs = &run.request.input;
        match string_parameter(&parameters, "mode").unwrap_or("append") {
            "append" | "wait_all" => NodeOutcome::Succeeded(vec![concat_items(inputs)]),
            "combine_by_field" => {
                let Some(field) = string_parameter(&parameters, "field") else {
                    return NodeOutcome::Failed(
                        NodeError::new("combine_by_field needs `field`").with_code("parameters"),
                    );
                };
                let (left, right) = (
                    inputs.first().cloned().unwrap_or_default(),
                    inputs.get(1).cloned().unwrap_or_default(),
                );
                let combined = left
                    .iter()
                    .filter_map(|l| {
                        let key = l.get(field).filter(|v| !v.is_null())?;
                        let r = right.iter().find(|r| r.get(field) == Some(key))?;
                        let mut merged = l.clone();
                        merged.extend(r.iter().map(|(k, v)| (k.clone(), v.clone())));
                        Some(merged)
                    })
                    .collect();
                NodeOutcome::Succeeded(vec![combined])
            }
            other => NodeOutcome::Failed(
                NodeError::new(format!(
                    "unknown merge mode {other:?} (append, wait_all, combine_by_field)"
                ))
                .with_code("parameters")
                .with_details(Value::String(other.to_owned())),
            ),
        }
    }
}
