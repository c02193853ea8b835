//! What the workspace use cases ask of a workspace. Secrets (invitation and
//! API key tokens) arrive only as SHA-256 hashes the edge computed, and the
//! acting member's role comes with every command that needs one, so the
//! aggregate decides who may do what without a lookup.

use chrono::{DateTime, Utc};

use super::{ApiKeyId, InvitationId, Role, WorkspaceId};
use crate::user::UserId;

/// A command to the `Workspace` aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkspaceCommand {
    /// Create the workspace with its first owner.
    Create {
        /// The new workspace's id.
        workspace_id: WorkspaceId,
        /// Its name.
        name: String,
        /// The account that owns it.
        owner: UserId,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Invite an address to join with a role.
    Invite {
        /// The invitation's id.
        invitation_id: InvitationId,
        /// The address invited, normalised.
        email: String,
        /// The role the invitee gets.
        role: Role,
        /// SHA-256 of the invitation token.
        token_hash: String,
        /// When the invitation lapses.
        expires_at: DateTime<Utc>,
        /// The role of the member inviting.
        by: Role,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Take up an invitation.
    AcceptInvitation {
        /// The invitation.
        invitation_id: InvitationId,
        /// SHA-256 of the token presented.
        token_hash: String,
        /// The account joining.
        user_id: UserId,
        /// That account's address, normalised: it must be the one invited.
        email: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Give a member another role.
    ChangeRole {
        /// The member.
        user_id: UserId,
        /// The new role.
        role: Role,
        /// The role of the member making the change.
        by: Role,
    },
    /// Take a member out of the workspace.
    RemoveMember {
        /// The member.
        user_id: UserId,
        /// The role of the member removing them.
        by: Role,
    },
    /// Create an API key acting with a role.
    IssueApiKey(NewApiKey),
    /// Note that a key was used (recorded at most once per
    /// [`API_KEY_USE_PRECISION`](super::API_KEY_USE_PRECISION)).
    RecordApiKeyUse {
        /// The key.
        key_id: ApiKeyId,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Revoke a key for good.
    RevokeApiKey {
        /// The key.
        key_id: ApiKeyId,
        /// Now.
        at: DateTime<Utc>,
    },
}

/// An API key to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApiKey {
    /// The key's id.
    pub key_id: ApiKeyId,
    /// What it is for.
    pub name: String,
    /// The role it acts with.
    pub role: Role,
    /// SHA-256 of the key's secret.
    pub secret_hash: String,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// The account creating it.
    pub created_by: UserId,
    /// The role of that account.
    pub by: Role,
    /// Now.
    pub at: DateTime<Utc>,
}
