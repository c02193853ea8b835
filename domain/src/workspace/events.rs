//! What happened to a workspace. No event carries a token, only its hash.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiKeyId, InvitationId, Role, WorkspaceId};
use crate::{aggregate::DomainEvent, user::UserId};

/// An event of the `Workspace` aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum WorkspaceEvent {
    /// The workspace was created; its creator is its owner.
    #[serde(rename = "WorkspaceCreated")]
    Created {
        /// The workspace.
        workspace_id: WorkspaceId,
        /// Its name.
        name: String,
        /// Its first owner.
        owner: UserId,
        /// When.
        at: DateTime<Utc>,
    },
    /// An address was invited.
    #[serde(rename = "WorkspaceInvitationIssued")]
    InvitationIssued {
        /// The invitation.
        invitation_id: InvitationId,
        /// The address.
        email: String,
        /// The role offered.
        role: Role,
        /// SHA-256 of its token.
        token_hash: String,
        /// When it lapses.
        expires_at: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A member joined (by invitation).
    #[serde(rename = "WorkspaceMemberJoined")]
    MemberJoined {
        /// The account.
        user_id: UserId,
        /// Its role.
        role: Role,
        /// The invitation it took up.
        invitation_id: InvitationId,
        /// When.
        at: DateTime<Utc>,
    },
    /// A member's role changed.
    #[serde(rename = "WorkspaceMemberRoleChanged")]
    MemberRoleChanged {
        /// The member.
        user_id: UserId,
        /// The new role.
        role: Role,
    },
    /// A member left or was removed.
    #[serde(rename = "WorkspaceMemberRemoved")]
    MemberRemoved {
        /// The former member.
        user_id: UserId,
    },
    /// An API key was created.
    #[serde(rename = "WorkspaceApiKeyIssued")]
    ApiKeyIssued {
        /// The key.
        key_id: ApiKeyId,
        /// What it is for.
        name: String,
        /// The role it acts with.
        role: Role,
        /// SHA-256 of its secret.
        secret_hash: String,
        /// When it stops working, if ever.
        expires_at: Option<DateTime<Utc>>,
        /// Who created it.
        created_by: UserId,
        /// When.
        at: DateTime<Utc>,
    },
    /// An API key was used (at this time, give or take the recording precision).
    #[serde(rename = "WorkspaceApiKeyUsed")]
    ApiKeyUsed {
        /// The key.
        key_id: ApiKeyId,
        /// When.
        at: DateTime<Utc>,
    },
    /// An API key was revoked.
    #[serde(rename = "WorkspaceApiKeyRevoked")]
    ApiKeyRevoked {
        /// The key.
        key_id: ApiKeyId,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for WorkspaceEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => "WorkspaceCreated",
            Self::InvitationIssued { .. } => "WorkspaceInvitationIssued",
            Self::MemberJoined { .. } => "WorkspaceMemberJoined",
            Self::MemberRoleChanged { .. } => "WorkspaceMemberRoleChanged",
            Self::MemberRemoved { .. } => "WorkspaceMemberRemoved",
            Self::ApiKeyIssued { .. } => "WorkspaceApiKeyIssued",
            Self::ApiKeyUsed { .. } => "WorkspaceApiKeyUsed",
            Self::ApiKeyRevoked { .. } => "WorkspaceApiKeyRevoked",
        }
    }
}
