//! The node library's [`CredentialSource`] port over the credentials vault:
//! a node's credential is looked up in the workspace of the execution it runs
//! in (work recorded before workspaces existed belongs to the first one), and
//! a refusal becomes a node error that names the credential, never a secret.

use async_trait::async_trait;
use flowforge_commands::{
    credentials::{Vault, VaultError},
    CommandError,
};
use flowforge_domain::{
    credential::{CredentialError, CredentialKind},
    execution::{ExecutionId, NodeError},
};
use flowforge_nodes::CredentialSource;
use serde_json::{Map, Value};

use crate::execution_workspace::ExecutionWorkspace;

/// Credentials for nodes, from the vault.
pub struct VaultCredentials {
    vault: Vault,
    workspace: ExecutionWorkspace,
}

impl VaultCredentials {
    /// Credentials from `vault`, for executions in `workspace`.
    pub fn new(vault: Vault, workspace: ExecutionWorkspace) -> Self {
        Self { vault, workspace }
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
        let workspace = self.workspace.of(execution).await?;
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
