//! What happened to an account. No event carries a password or a token,
//! only their hashes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{SecondFactorProof, SessionId, UserId};
use crate::{aggregate::DomainEvent, workspace::WorkspaceId};

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEndReason {
    /// Its owner signed out or revoked it.
    SignedOut,
    /// A refresh token it had rotated away was presented again: the family
    /// is in two hands.
    TokenReuse,
    /// The password changed from another session.
    PasswordChanged,
}

/// An event of the `User` aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum UserEvent {
    /// The account was created.
    #[serde(rename = "UserRegistered")]
    Registered {
        /// The account.
        user_id: UserId,
        /// Its e-mail address, lower-cased.
        email: String,
        /// Its display name.
        name: String,
        /// The password's Argon2id hash.
        password_hash: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A sign-in failed; `locked_until` is set when this one locks the account.
    #[serde(rename = "UserSignInFailed")]
    SignInFailed {
        /// Where it came from.
        source: Option<String>,
        /// Failures in a row, this one included.
        consecutive: u32,
        /// Until when the account refuses sign-ins, if this failure locked it.
        locked_until: Option<DateTime<Utc>>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A session began.
    #[serde(rename = "UserSessionStarted")]
    SessionStarted {
        /// The session.
        session_id: SessionId,
        /// SHA-256 of its refresh token.
        refresh_token_hash: String,
        /// When that token stops working.
        expires_at: DateTime<Utc>,
        /// Where it came from.
        source: Option<String>,
        /// The second factor it presented, if the account's was on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        second_factor: Option<SecondFactorProof>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A session's refresh token was exchanged for a new one.
    #[serde(rename = "UserRefreshTokenRotated")]
    RefreshTokenRotated {
        /// The session.
        session_id: SessionId,
        /// SHA-256 of the new token.
        refresh_token_hash: String,
        /// When it stops working.
        expires_at: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A session ended.
    #[serde(rename = "UserSessionEnded")]
    SessionEnded {
        /// The session.
        session_id: SessionId,
        /// Why.
        reason: SessionEndReason,
        /// When.
        at: DateTime<Utc>,
    },
    /// The password was replaced.
    #[serde(rename = "UserPasswordChanged")]
    PasswordChanged {
        /// The new Argon2id hash.
        password_hash: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Setting up an authenticator began (again).
    #[serde(rename = "UserTotpEnrolmentBegun")]
    TotpEnrolmentBegun {
        /// The shared secret, sealed (never in plain text).
        sealed_secret: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The authenticator gave a good code: the second factor is on.
    #[serde(rename = "UserTotpEnabled")]
    TotpEnabled {
        /// SHA-256 of each recovery code.
        recovery_code_hashes: Vec<String>,
        /// The time step of the code that confirmed it (spent).
        step: u64,
        /// When.
        at: DateTime<Utc>,
    },
    /// The second factor was turned off.
    #[serde(rename = "UserTotpDisabled")]
    TotpDisabled {
        /// When.
        at: DateTime<Utc>,
    },
    /// The account became a member of a workspace.
    #[serde(rename = "UserJoinedWorkspace")]
    JoinedWorkspace {
        /// The workspace.
        workspace_id: WorkspaceId,
    },
    /// The account stopped being a member of a workspace.
    #[serde(rename = "UserLeftWorkspace")]
    LeftWorkspace {
        /// The workspace.
        workspace_id: WorkspaceId,
    },
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Registered { .. } => "UserRegistered",
            Self::SignInFailed { .. } => "UserSignInFailed",
            Self::SessionStarted { .. } => "UserSessionStarted",
            Self::RefreshTokenRotated { .. } => "UserRefreshTokenRotated",
            Self::SessionEnded { .. } => "UserSessionEnded",
            Self::PasswordChanged { .. } => "UserPasswordChanged",
            Self::TotpEnrolmentBegun { .. } => "UserTotpEnrolmentBegun",
            Self::TotpEnabled { .. } => "UserTotpEnabled",
            Self::TotpDisabled { .. } => "UserTotpDisabled",
            Self::JoinedWorkspace { .. } => "UserJoinedWorkspace",
            Self::LeftWorkspace { .. } => "UserLeftWorkspace",
        }
    }
}
