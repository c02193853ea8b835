//! The node library's [`CredentialSource`] port over the credentials vault:
//! a node's credential is looked up in the workspace of the execution it runs
//! in (work recorded before workspaces existed belongs to the first one), and
//! a refusal becomes a node error that names the credential, never a secret.

use async_trait::async_trait;
use flowforge_commands::{
    credentials::{Vault, VaultError},
    workspaces::Workspaces,
    CommandBus, CommandError,
};
use flowforge_domain::{
    credential::{CredentialError, CredentialKind},
    execution::{Execution, ExecutionId, NodeError},
};
use flowforge_infra::event_store::DEFAULT_TENANT;
use flowforge_nodes::CredentialSource;
use serde_json::{Map, Value};

/// Credentials for nodes, from the vault.
pub struct VaultCredentials {
    vault: Vault,
    commands: CommandBus,
    workspaces: Workspaces,
}

impl VaultCredentials {
    /// Credentials from `vault`, for executions recorded through `commands`.
    pub fn new(vault: Vault, commands: CommandBus, workspaces: Workspaces) -> Self {
        Self {
            vault,
            commands,
            workspaces,
        }
    }

    /// The workspace `execution` belongs to.
    async fn workspace_of(&self, execution: ExecutionId) -> Result<String, NodeError> {
        let tenant = self
            .commands
            .tenant_of::<Execution>(&execution.to_string())
            .await
            .map_err(|e| internal(&e))?
            .unwrap_or_else(|| DEFAULT_TENANT.to_owned());
        if tenant != DEFAULT_TENANT {
            return Ok(tenant);
        }
        let first = self
            .workspaces
            .first_workspace()
            .await
            .map_err(|e| internal(&e))?;
        Ok(first.map_or(tenant, |w| w.to_string()))
    }
}

#[async_trait]
impl CredentialSource for VaultCredentials {
    async fn resolve(
        &self,
        execution: ExecutionId,
        kind: CredentialKind,
        reference: &str,
    ) -> Result<Map<String, Value>, NodeError> {
        let workspace = self.workspace_of(execution).await?;
        match self.vault.resolve(&workspace, kind, reference).await {
            Ok((_, data)) => Ok(data),
            Err(VaultError::Credential(CommandError::Rejected(CredentialError::NotFound(_)))) => {
                Err(NodeError::new(format!(
                    "no {kind} credential {reference:?} in this workspace (was it deleted or renamed?)"
                ))
                .with_code("credential_not_found"))
            }
            Err(VaultError::Credential(CommandError::Rejected(refused))) => {
                Err(NodeError::new(refused.to_string()).with_code("credential_type"))
            }
            Err(unreadable @ (VaultError::Keys(_) | VaultError::Corrupt)) => {
                tracing::error!(credential = reference, error = %unreadable, "a credential does not open");
                Err(NodeError::new(format!(
                    "credential {reference:?} cannot be opened: {unreadable}"
                ))
                .with_code("credential_unreadable"))
            }
            Err(other) => Err(internal(&other)),
        }
    }
}

fn internal(error: &dyn std::fmt::Display) -> NodeError {
    NodeError::new(format!("cannot open a credential: {error}")).with_code("internal")
}
