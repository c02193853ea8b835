//! Execute Workflow: runs workflow `workflow_id` (an expression may compute it
//! from the first item) with this node's input items as the sub-workflow's
//! input. By default it waits and outputs the sub-workflow's output items
//! (it fails if the sub-workflow fails); with `wait: false` it outputs
//! `{"execution_id": …}` at once and the sub-workflow runs on by itself.
//! A start past the bounds (descendants of one root, starts per second of one
//! workflow) fails the node with `sub_workflow_descendants` or
//! `sub_workflow_rate`, naming the setting to raise.

use async_trait::async_trait;
use flowforge_domain::{execution::NodeError, workflow::WorkflowId};
use std::sync::Arc;

use crate::{NodeOutcome, SubWorkflows};
use serde_json::{json, Value};

use crate::{NodeBehaviour, NodeRun};
use flowforge_script::Item;

/// The Execute Workflow node.
pub struct ExecuteWorkflow {
    /// Starts the sub-workflow executions.
    pub starter: Arc<dyn SubWorkflows>,
}

#[async_trait]
impl NodeBehaviour for ExecuteWorkflow {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        let items = run.items();
        let first = items.first().cloned().unwrap_or_default();
        let parameters = match run.parameters_for(0, &first).await {
            Ok(parameters) => parameters,
            Err(error) => return NodeOutcome::Failed(error),
        };
        let Some(workflow) = parameters.get("workflow_id").and_then(Value::as_str) else {
            return NodeOutcome::Failed(
                NodeError::new("execute_workflow needs `workflow_id`").with_code("parameters"),
            );
        };
        let Ok(workflow_id) = workflow.parse::<WorkflowId>() else {
            return NodeOutcome::Failed(
                NodeError::new(format!("workflow_id {workflow:?} is not a workflow id"))
                    .with_code("parameters"),
            );
        };
        let wait = parameters
            .get("wait")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let request = &run.request;
        let started = self
            .starter
            .start(
                request.execution_id,
                request.node.name(),
                request.attempt,
                workflow_id,
                items,
            )
            .await;
        match started {
            Ok(_) if wait => NodeOutcome::Wait {
                until: None,
                resume_token_sha256: None,
            },
            Ok(child) => {
                let mut item = Item::new();
                item.insert("execution_id".into(), json!(child));
                NodeOutcome::Succeeded(vec![vec![item]])
            }
            Err(error) => NodeOutcome::Failed(error),
        }
    }
}
