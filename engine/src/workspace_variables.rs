//! The node library's [`VariableSource`] port over the workspace variables:
//! `$vars` holds the variables of the execution's workspace.

use async_trait::async_trait;
use flowforge_commands::variables::WorkspaceVariables;
use flowforge_domain::execution::{ExecutionId, NodeError};
use flowforge_nodes::VariableSource;
use serde_json::{Map, Value};

use crate::execution_workspace::{internal, ExecutionWorkspace};

/// `$vars` for nodes, from the workspace's `Variables` stream.
pub struct StoredVariables {
    variables: WorkspaceVariables,
    workspace: ExecutionWorkspace,
}

impl StoredVariables {
    /// Variables from `variables`, for executions in `workspace`.
    pub fn new(variables: WorkspaceVariables, workspace: ExecutionWorkspace) -> Self {
        Self {
            variables,
            workspace,
        }
    }
}

#[async_trait]
impl VariableSource for StoredVariables {
    async fn variables(&self, execution: ExecutionId) -> Result<Map<String, Value>, NodeError> {
        let tenant = self.workspace.of(execution).await?;
        let variables = self
            .variables
            .list(&tenant)
            .await
            .map_err(|e| internal(&e))?;
        Ok(variables.values())
    }
}
