//! The `CredentialUse` aggregate: the audited record that an execution used
//! a credential. One stream per (credential, execution), so recording a use
//! never contends with another execution's, and a node retried, or a second
//! node using the same credential, records nothing more.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CredentialId;
use crate::{
    aggregate::{Aggregate, DomainEvent},
    execution::ExecutionId,
};

/// Record that an execution used a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialUseCommand {
    /// The credential.
    pub credential: CredentialId,
    /// The workspace that owns it.
    pub owner: String,
    /// The workspace the execution runs in.
    pub user: String,
    /// The execution.
    pub execution: ExecutionId,
    /// The node that opened it first.
    pub node: String,
    /// Now.
    pub at: DateTime<Utc>,
}

/// An execution used a credential (recorded once per execution).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CredentialUseEvent {
    /// The first use.
    #[serde(rename = "CredentialUsed")]
    Used {
        /// The credential.
        credential: CredentialId,
        /// The workspace that owns it.
        owner: String,
        /// The workspace the execution runs in.
        user: String,
        /// The execution.
        execution: ExecutionId,
        /// The node that opened it first.
        node: String,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CredentialUseEvent {
    fn event_type(&self) -> &'static str {
        "CredentialUsed"
    }
}

/// A use is never refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a credential use is never refused")]
pub struct NoUseError;

/// Whether an execution used a credential.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialUse {
    recorded: bool,
}

impl CredentialUse {
    /// The stream id of `credential`'s use by `execution`: it starts with
    /// the credential's id, so its uses are found by that prefix.
    pub fn stream_id(credential: CredentialId, execution: ExecutionId) -> String {
        format!("{credential}_{execution}")
    }
}

impl Aggregate for CredentialUse {
    const TYPE: &'static str = "credential_use";
    type Command = CredentialUseCommand;
    type Event = CredentialUseEvent;
    type Error = NoUseError;

    fn handle(&self, command: CredentialUseCommand) -> Result<Vec<CredentialUseEvent>, NoUseError> {
        if self.recorded {
            return Ok(Vec::new());
        }
        Ok(vec![CredentialUseEvent::Used {
            credential: command.credential,
            owner: command.owner,
            user: command.user,
            execution: command.execution,
            node: command.node,
            at: command.at,
        }])
    }

    fn apply(&mut self, _event: CredentialUseEvent) {
        self.recorded = true;
    }
}
