//! The random part of every token FlowForge hands out (refresh tokens,
//! invitations, API keys): 32 bytes from the operating system's CSPRNG as
//! 64 hex digits. Only its SHA-256 is ever recorded, so a copy of the event
//! log cannot be replayed as tokens.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The length of a secret, in hex digits.
const SECRET_HEX_DIGITS: usize = 64;

/// A secret as the client holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueSecret(String);

impl OpaqueSecret {
    /// A fresh secret.
    pub fn mint() -> Self {
        // Two v4 UUIDs are 32 bytes from the operating system's CSPRNG
        // (uuid uses getrandom), minus the 12 version and variant bits.
        Self(
            [Uuid::new_v4(), Uuid::new_v4()]
                .iter()
                .map(|u| u.simple().to_string())
                .collect(),
        )
    }

    /// Reads a secret a client presented; `None` if it is not one.
    pub fn parse(secret: &str) -> Option<Self> {
        (secret.len() == SECRET_HEX_DIGITS && secret.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(secret.to_ascii_lowercase()))
    }

    /// What is recorded of it: its SHA-256, in hex.
    pub fn hash(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }

    /// The secret itself, to put into the token handed out.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

/// The SHA-256 of `bytes` in lower-case hex: how a secret handed out is
/// recorded.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_reads_back_and_its_hash_is_not_it() {
        let secret = OpaqueSecret::mint();
        assert_eq!(OpaqueSecret::parse(secret.reveal()), Some(secret.clone()));
        assert_eq!(secret.hash().len(), 64);
        assert_ne!(secret.hash(), secret.reveal());
        assert_ne!(OpaqueSecret::mint(), secret);
        for bad in ["", "00", &"g".repeat(64), &"0".repeat(65)] {
            assert!(OpaqueSecret::parse(bad).is_none(), "{bad}");
        }
    }
}
