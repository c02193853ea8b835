//! The `FirstOwner` aggregate: one stream for the whole installation naming
//! the account that set it up. On an empty store the first account
//! registered becomes the owner of a first workspace; two registrations
//! racing for that are serialised by the store's expected-version check on
//! this one stream, so exactly one wins and the other is an ordinary
//! account.

use serde::{Deserialize, Serialize};

use super::{WorkspaceError, WorkspaceId};
use crate::{
    aggregate::{Aggregate, DomainEvent},
    user::UserId,
};

/// The id of the one `FirstOwner` stream.
pub const FIRST_OWNER_STREAM: &str = "installation";

/// Become the installation's first owner, with its first workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimFirstOwner {
    /// The account.
    pub user_id: UserId,
    /// The workspace it will own.
    pub workspace_id: WorkspaceId,
}

/// What happened to the installation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum FirstOwnerEvent {
    /// The installation has its first owner.
    #[serde(rename = "FirstOwnerClaimed")]
    Claimed {
        /// The account.
        user_id: UserId,
        /// Its first workspace.
        workspace_id: WorkspaceId,
    },
}

impl DomainEvent for FirstOwnerEvent {
    fn event_type(&self) -> &'static str {
        "FirstOwnerClaimed"
    }
}

/// Who set the installation up, if anyone has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FirstOwner {
    claimed: Option<(UserId, WorkspaceId)>,
}

impl FirstOwner {
    /// The first owner and its workspace, once there is one.
    pub fn claimed(&self) -> Option<(UserId, WorkspaceId)> {
        self.claimed
    }
}

impl Aggregate for FirstOwner {
    const TYPE: &'static str = "first_owner";
    type Command = ClaimFirstOwner;
    type Event = FirstOwnerEvent;
    type Error = WorkspaceError;

    fn handle(&self, command: ClaimFirstOwner) -> Result<Vec<FirstOwnerEvent>, WorkspaceError> {
        match self.claimed {
            Some((user, _)) if user == command.user_id => Ok(Vec::new()),
            Some(_) => Err(WorkspaceError::AlreadyExists),
            None => Ok(vec![FirstOwnerEvent::Claimed {
                user_id: command.user_id,
                workspace_id: command.workspace_id,
            }]),
        }
    }

    fn apply(&mut self, event: FirstOwnerEvent) {
        match event {
            FirstOwnerEvent::Claimed {
                user_id,
                workspace_id,
            } => self.claimed = Some((user_id, workspace_id)),
        }
    }
}
