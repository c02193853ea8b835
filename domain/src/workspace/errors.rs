//! Why the `Workspace` aggregate refuses a command, and why an id does not parse.

use super::{ApiKeyId, InvitationId, Permission};
use crate::user::UserId;

/// A string that is not a workspace, invitation or API key id.
#[derive(Debug, thiserror::Error)]
#[error("{input:?} is not a valid id: {source}")]
pub struct InvalidWorkspaceId {
    /// What was given.
    pub input: String,
    /// Why it is not a UUID.
    #[source]
    pub source: uuid::Error,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceError {
    /// No workspace has this id.
    #[error("workspace not found")]
    NotFound,
    /// The workspace exists already.
    #[error("the workspace exists already")]
    AlreadyExists,
    /// The name is empty or too long.
    #[error("a workspace name is 1 to 100 characters")]
    InvalidName,
    /// An API key's name is empty or too long.
    #[error("an API key name is 1 to 100 characters")]
    InvalidKeyName,
    /// The acting member's role does not allow this.
    #[error("your role does not allow this ({0} is needed)")]
    NotAllowed(Permission),
    /// An API key cannot act as an owner.
    #[error("an API key cannot have the owner role")]
    OwnerKey,
    /// The account is not a member.
    #[error("no member {0}")]
    NoSuchMember(UserId),
    /// The change would leave the workspace without an owner.
    #[error("a workspace keeps at least one owner")]
    LastOwner,
    /// The account is a member already.
    #[error("already a member")]
    AlreadyMember,
    /// The invitation does not exist, was taken up, revoked, lapsed, or
    /// its token is wrong: the same answer for all, so tokens cannot be probed.
    #[error("the invitation is not valid")]
    InvalidInvitation(InvitationId),
    /// The invitation was for another address.
    #[error("the invitation was sent to another address")]
    InvitationForAnotherAddress,
    /// The expiry is not in the future.
    #[error("an expiry must be in the future")]
    ExpiryInThePast,
    /// No such API key (or it was revoked).
    #[error("no API key {0}")]
    NoSuchApiKey(ApiKeyId),
}
