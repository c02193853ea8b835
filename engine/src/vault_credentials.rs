//! The node library's [`CredentialSource`] port over the credentials vault:
//! a node's credential is looked up in the workspace of the execution it runs
//! in (work recorded before workspaces existed belongs to the first one), and
//! a refusal becomes a node error that names the credential, never a secret.
//! Each execution's first use of a credential is recorded before the node
//! gets it: a use that cannot be audited does not happen.

use async_trait::async_trait;
use flowforge_commands::{
    credentials::{Vault, VaultError},
    CommandError,
};
use flowforge_domain::{
    credential::{CredentialError, CredentialKind},
    execution::{ExecutionId, NodeError},
};
use flowforge_infra::event_store::EventMetadata;
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
        node: &str,
        kind: CredentialKind,
        reference: &str,
    ) -> Result<Map<String, Value>, NodeError> {
        let workspace = self.workspace.of(execution).await?;
        match self.vault.resolve(&workspace, kind, reference).await {
            Ok(resolved) => {
                self.vault
                    .record_use(&resolved, &workspace, execution, node)
                    .await
                    .map_err(|e| internal(&e))?;
                Ok(resolved.data)
            }
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

    async fn save_tokens(
        &self,
        execution: ExecutionId,
        kind: CredentialKind,
        reference: &str,
        fields: Map<String, Value>,
    ) -> Result<(), NodeError> {
        let workspace = self.workspace.of(execution).await?;
        let resolved = self
            .vault
            .resolve(&workspace, kind, reference)
            .await
            .map_err(|e| internal(&e))?;
        let metadata = EventMetadata {
            tenant_id: resolved.owner.clone(),
            actor: Some(format!("execution:{execution}")),
            correlation_id: Some(execution.as_uuid()),
            ..EventMetadata::default()
        };
        self.vault
            .update(
                &resolved.owner,
                resolved.id,
                None,
                None,
                Some(fields),
                &metadata,
            )
            .await
            .map_err(|e| internal(&e))
    }
}

fn internal(error: &dyn std::fmt::Display) -> NodeError {
    NodeError::new(format!("cannot open a credential: {error}")).with_code("internal")
}
