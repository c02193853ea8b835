//! The account's optional second factor: a TOTP authenticator (RFC 6238)
//! with single-use recovery codes. The edge does the cryptography — it seals
//! the shared secret before it reaches a command (so the log only ever holds
//! it encrypted), checks a code against the unsealed secret, and hashes
//! recovery codes — and tells the aggregate what it found. The aggregate
//! decides what a sign-in needs, refuses a code's time step a second time
//! (a code is good once, RFC 6238 §5.2) and a recovery code once used.

use serde::{Deserialize, Serialize};

use super::UserError;

/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;

/// Where the account's second factor stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SecondFactor {
    /// None: a password signs in.
    #[default]
    Off,
    /// An authenticator is being set up: the secret was handed out, and a
    /// code from it has not come back yet.
    Enrolling {
        /// The shared secret, sealed by the edge.
        sealed_secret: String,
    },
    /// On: a sign-in needs a code, or one of the recovery codes.
    On {
        /// The shared secret, sealed by the edge.
        sealed_secret: String,
        /// SHA-256 of each recovery code not used yet.
        recovery_code_hashes: Vec<String>,
        /// The newest time step a code was accepted for.
        last_step: u64,
    },
}

/// What a caller presented as its second factor, as the edge found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SecondFactorProof {
    /// A code the secret gives for time step `step`.
    Totp {
        /// The RFC 6238 time step the code matched.
        step: u64,
    },
    /// A recovery code, by its SHA-256.
    RecoveryCode {
        /// The code's hash.
        hash: String,
    },
}

impl SecondFactor {
    /// Whether a sign-in needs a second factor.
    pub fn is_on(&self) -> bool {
        matches!(self, Self::On { .. })
    }

    /// The sealed secret of an enrolment under way or finished, for the edge
    /// to check a code against.
    pub fn sealed_secret(&self) -> Option<&str> {
        match self {
            Self::Off => None,
            Self::Enrolling { sealed_secret } | Self::On { sealed_secret, .. } => {
                Some(sealed_secret)
            }
        }
    }

    /// Whether `hash` is a recovery code not used yet.
    pub fn has_recovery_code(&self, hash: &str) -> bool {
        matches!(self, Self::On { recovery_code_hashes, .. } if recovery_code_hashes.iter().any(|h| h == hash))
    }

    /// Refuses a proof that does not open an account whose second factor is
    /// on: none at all, a time step already used (or older), or a recovery
    /// code that is not one or was used.
    ///
    /// # Errors
    /// [`UserError::SecondFactorRequired`] or [`UserError::InvalidSecondFactor`].
    pub fn admits(&self, proof: Option<&SecondFactorProof>) -> Result<(), UserError> {
        let Self::On { last_step, .. } = self else {
            return Ok(());
        };
        match proof {
            None => Err(UserError::SecondFactorRequired),
            Some(SecondFactorProof::Totp { step }) if step > last_step => Ok(()),
            Some(SecondFactorProof::RecoveryCode { hash }) if self.has_recovery_code(hash) => {
                Ok(())
            }
            Some(_) => Err(UserError::InvalidSecondFactor),
        }
    }

    /// The state after `proof` was accepted: its step or its recovery code
    /// is spent.
    pub(super) fn spend(&mut self, proof: &SecondFactorProof) {
        if let Self::On {
            recovery_code_hashes,
            last_step,
            ..
        } = self
        {
            match proof {
                SecondFactorProof::Totp { step } => *last_step = (*last_step).max(*step),
                SecondFactorProof::RecoveryCode { hash } => {
                    recovery_code_hashes.retain(|h| h != hash);
                }
            }
        }
    }
}
