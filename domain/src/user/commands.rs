//! What the sign-in use cases ask of an account. Hashes are computed at the
//! edge (Argon2id for passwords, SHA-256 for refresh tokens), so deciding
//! stays pure and nothing secret is ever in a command's event.

use chrono::{DateTime, Utc};

use super::{SecondFactorProof, SessionId, UserId};
use crate::workspace::WorkspaceId;

/// A command to the `User` aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum UserCommand {
    /// Create the account.
    Register {
        /// The new account's id.
        user_id: UserId,
        /// Its e-mail address, as typed (kept lower-cased).
        email: String,
        /// Its display name.
        name: String,
        /// The password's Argon2id hash (PHC string).
        password_hash: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// A sign-in whose password did not verify.
    RecordFailedSignIn {
        /// Where it came from (an address), for the audit log.
        source: Option<String>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// A sign-in whose password verified: open a session.
    StartSession {
        /// The new session's id.
        session_id: SessionId,
        /// SHA-256 of its first refresh token.
        refresh_token_hash: String,
        /// When that token stops working.
        expires_at: DateTime<Utc>,
        /// Where it came from, for the session list.
        source: Option<String>,
        /// The second factor presented, as the edge found it (needed when
        /// the account's is on).
        second_factor: Option<SecondFactorProof>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Exchange a session's refresh token for a new one.
    RotateRefreshToken {
        /// The session.
        session_id: SessionId,
        /// SHA-256 of the token presented.
        presented_hash: String,
        /// SHA-256 of the token that replaces it.
        new_hash: String,
        /// When the new token stops working.
        expires_at: DateTime<Utc>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// End a session: its owner signs out, or revokes it from the list.
    EndSession {
        /// The session.
        session_id: SessionId,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Replace the password; every other session ends.
    ChangePassword {
        /// The new password's Argon2id hash.
        password_hash: String,
        /// The session the change was made from, which stays open.
        keep: Option<SessionId>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Begin setting up an authenticator (again, if one was being set up).
    BeginTotpEnrolment {
        /// The new shared secret, sealed by the edge.
        sealed_secret: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Finish setting it up with a code it gave: the second factor is on.
    ConfirmTotp {
        /// The time step the code matched (the edge checked it).
        step: u64,
        /// SHA-256 of each recovery code handed out.
        recovery_code_hashes: Vec<String>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Turn the second factor off, proven by a code or a recovery code (the
    /// edge checked the password too).
    DisableTotp {
        /// What was presented.
        proof: SecondFactorProof,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Note that the account became a member of a workspace (the
    /// workspace decided; the account keeps the list so signing in knows
    /// where to start).
    JoinWorkspace {
        /// The workspace.
        workspace_id: WorkspaceId,
    },
    /// Note that the account is no longer a member of a workspace.
    LeaveWorkspace {
        /// The workspace.
        workspace_id: WorkspaceId,
    },
}
