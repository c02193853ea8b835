//! What a node may ask of the runtime around it, as traits the runtime
//! implements: a node never reaches the event store, the bus or the command
//! side directly, so the node library builds without them and a test can
//! stand in for the runtime.

use async_trait::async_trait;
use flowforge_domain::{
    credential::CredentialKind,
    execution::{ExecutionId, Item, NodeError},
    workflow::WorkflowId,
};

/// Starts sub-workflow executions for `execute_workflow` nodes.
#[async_trait]
pub trait SubWorkflows: Send + Sync + 'static {
    /// Starts the child execution of attempt `attempt` of node `node` of
    /// `parent`: workflow `workflow_id` with `input`. Asked again for the same
    /// attempt, it returns the same child and starts nothing. A refusal comes
    /// back as the node error to record (with a code naming why).
    async fn start(
        &self,
        parent: ExecutionId,
        node: &str,
        attempt: u32,
        workflow_id: WorkflowId,
        input: Vec<Item>,
    ) -> Result<ExecutionId, NodeError>;
}

/// Why a message could not be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PublishError {
    message: String,
}

impl PublishError {
    /// A publish failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Publishes messages to subjects, for `nats_publish` nodes.
#[async_trait]
pub trait MessagePublisher: Send + Sync + 'static {
    /// Publishes `payload` on `subject`.
    async fn publish(&self, subject: &str, payload: Vec<u8>) -> Result<(), PublishError>;

    /// Returns once everything published so far has reached the server.
    async fn flush(&self) -> Result<(), PublishError>;
}

/// Opens the credentials nodes name, for the workspace of the execution they
/// run in: a node never sees another workspace's credentials.
#[async_trait]
pub trait CredentialSource: Send + Sync + 'static {
    /// The fields of the credential of type `kind` that `reference` (its
    /// id or its name) names in the workspace of `execution`, for its node
    /// `node` (the use is audited). A missing
    /// credential, one of another type or one that does not open comes back
    /// as the node error to record (never with a secret in it).
    async fn resolve(
        &self,
        execution: ExecutionId,
        node: &str,
        kind: CredentialKind,
        reference: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, NodeError>;

    /// Lays `fields` (a refreshed OAuth 2.0 token) over the credential
    /// `reference` names for `execution`, so later runs use them.
    async fn save_tokens(
        &self,
        execution: ExecutionId,
        kind: CredentialKind,
        reference: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), NodeError>;
}

/// The workspace variables expressions read as `$vars`, for the workspace of
/// the execution a node runs in.
#[async_trait]
pub trait VariableSource: Send + Sync + 'static {
    /// The variables of the workspace of `execution`, by name, as they are
    /// now. A failure comes back as the node error to record.
    async fn variables(
        &self,
        execution: ExecutionId,
    ) -> Result<serde_json::Map<String, serde_json::Value>, NodeError>;
}

/// Counts the outbound calls nodes make against the deployment's limits
/// (per execution, per workspace).
#[async_trait]
pub trait CallBudget: Send + Sync + 'static {
    /// Counts one outbound call by a node of `execution`; over a limit, the
    /// node error to record (`outbound_limit`, naming the limit).
    async fn spend(&self, execution: ExecutionId) -> Result<(), NodeError>;
}
