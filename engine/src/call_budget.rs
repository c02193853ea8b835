//! The node library's [`CallBudget`] port over the outbound call limits:
//! each call counts against its execution and the execution's workspace.

use async_trait::async_trait;
use flowforge_domain::execution::{ExecutionId, NodeError};
use flowforge_monitoring::metrics;
use flowforge_nodes::CallBudget;
use flowforge_outbound::{CallLimits, LimitReached};
use serde_json::json;

use crate::execution_workspace::ExecutionWorkspace;

/// Outbound calls counted per execution and per workspace.
pub struct WorkspaceCallBudget {
    limits: CallLimits,
    workspace: ExecutionWorkspace,
}

impl WorkspaceCallBudget {
    /// Calls held to `limits`, for executions in `workspace`.
    pub fn new(limits: CallLimits, workspace: ExecutionWorkspace) -> Self {
        Self { limits, workspace }
    }
}

#[async_trait]
impl CallBudget for WorkspaceCallBudget {
    async fn spend(&self, execution: ExecutionId) -> Result<(), NodeError> {
        let workspace = self.workspace.of(execution).await?;
        self.limits
            .spend(&execution.to_string(), &workspace)
            .map_err(|reached| {
                let (reason, details) = match &reached {
                    LimitReached::Execution { limit } => {
                        ("execution_limit", json!({"limit": limit, "per": "execution"}))
                    }
                    LimitReached::Workspace {
                        limit,
                        retry_after_secs,
                    } => (
                        "workspace_limit",
                        json!({"limit": limit, "per": "workspace_minute", "retry_after_secs": retry_after_secs}),
                    ),
                };
                metrics()
                    .outbound_refused
                    .with_label_values(&[reason])
                    .inc();
                NodeError::new(reached.to_string())
                    .with_code("outbound_limit")
                    .with_details(details)
            })
    }
}
