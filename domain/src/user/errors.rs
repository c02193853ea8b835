//! Why the `User` aggregate refuses a command, and why an id does not parse.

use super::SessionId;

/// A string that is not a user or session id.
#[derive(Debug, thiserror::Error)]
#[error("{input:?} is not a valid id: {source}")]
pub struct InvalidUserId {
    /// What was given.
    pub input: String,
    /// Why it is not a UUID.
    #[source]
    pub source: uuid::Error,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// No account has this id.
    #[error("user not found")]
    NotFound,
    /// The account exists already.
    #[error("the user is registered already")]
    AlreadyRegistered,
    /// Another account holds the e-mail address.
    #[error("an account with this e-mail address exists")]
    EmailTaken,
    /// The e-mail address is not one.
    #[error("{0:?} is not an e-mail address")]
    InvalidEmail(String),
    /// The name is empty or too long.
    #[error("a name is 1 to 200 characters")]
    InvalidName,
    /// The account is locked after too many failed sign-ins.
    #[error("too many failed sign-ins; locked for {retry_after_secs} more seconds")]
    Locked {
        /// How long the lock still holds.
        retry_after_secs: i64,
    },
    /// The account has no such live session.
    #[error("no live session {0}")]
    NoSuchSession(SessionId),
    /// The refresh token is not the session's current one, nor one it
    /// rotated away (a wrong or forged token).
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    /// The session's refresh token has expired.
    #[error("the session has expired")]
    SessionExpired,
    /// The account's second factor is on and none was presented.
    #[error("this account needs a code from its authenticator (or a recovery code)")]
    SecondFactorRequired,
    /// The code or recovery code is wrong, or was used already.
    #[error("the code is wrong or was used already")]
    InvalidSecondFactor,
    /// An authenticator is set up already; turn it off first.
    #[error("the second factor is on already")]
    SecondFactorAlreadyOn,
    /// No authenticator is being set up.
    #[error("no authenticator is being set up; begin with POST /api/v1/me/totp")]
    NotEnrolling,
    /// The second factor is off.
    #[error("the second factor is off")]
    SecondFactorOff,
}
