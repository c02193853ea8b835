//! The `User` aggregate: an account that signs in, its password (only ever
//! as an Argon2id hash the edge computed: a plain password never reaches an
//! event), its sessions, and the refresh tokens that keep a session alive.
//!
//! Each session is one refresh-token *family*: every refresh rotates the
//! token, and presenting a token that was already rotated away means two
//! parties hold the family (one of them stole it), so the whole session is
//! revoked and the refusal says why. Failed sign-ins are counted here too:
//! after [`MAX_FAILED_SIGN_INS`] in a row the account is locked for
//! [`LOCKOUT`], whatever password comes next.
//!
//! Layout: `commands`, `events`, `errors` and `aggregate` (the state and its
//! decisions); `second_factor` (the optional TOTP authenticator and its
//! recovery codes); `email_claim` (the `EmailClaim` aggregate: one account per
//! address); [`UserId`] and [`SessionId`] are generated at the edge.

mod aggregate;
mod commands;
mod email_claim;
mod errors;
mod events;
mod second_factor;

pub use aggregate::{normalise_email, Session, User, LOCKOUT, MAX_FAILED_SIGN_INS};
pub use commands::UserCommand;
pub use email_claim::{ClaimEmail, EmailClaim, EmailClaimEvent};
pub use errors::{InvalidUserId, UserError};
pub use events::{SessionEndReason, UserEvent};
pub use second_factor::{SecondFactor, SecondFactorProof, RECOVERY_CODES};

crate::uuid_id!(
    /// Identifies one user account; serialises as a bare UUID string.
    UserId,
    InvalidUserId
);

crate::uuid_id!(
    /// Identifies one session (one refresh-token family) of a user.
    SessionId,
    InvalidUserId
);
