//! Refresh tokens: opaque to the client, `<user>.<session>.<secret>`, where
//! the secret is 32 random bytes; the account keeps only the secret's
//! SHA-256, so a copy of the event log cannot be replayed as tokens.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use flowforge_domain::user::{SessionId, UserId};

/// A refresh token taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The account.
    pub user_id: UserId,
    /// The session (the token family).
    pub session_id: SessionId,
    secret: String,
}

impl RefreshToken {
    /// A fresh token for `session_id` of `user_id`.
    pub fn mint(user_id: UserId, session_id: SessionId) -> Self {
        // Two v4 UUIDs are 32 bytes from the operating system's CSPRNG
        // (uuid uses getrandom), minus the 12 version and variant bits.
        let secret = [Uuid::new_v4(), Uuid::new_v4()]
            .iter()
            .map(|u| u.simple().to_string())
            .collect();
        Self {
            user_id,
            session_id,
            secret,
        }
    }

    /// Reads a token a client presented; `None` if it is not one.
    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (user, session, secret) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || secret.len() != 64
            || !secret.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        Some(Self {
            user_id: user.parse().ok()?,
            session_id: session.parse().ok()?,
            secret: secret.to_owned(),
        })
    }

    /// What the account keeps of it.
    pub fn hash(&self) -> String {
        Sha256::digest(self.secret.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The token as the client holds it.
    pub fn reveal(&self) -> String {
        format!("{}.{}.{}", self.user_id, self.session_id, self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_and_only_its_hash_is_kept() {
        let token = RefreshToken::mint(
            UserId::from_uuid(Uuid::from_u128(1)),
            SessionId::from_uuid(Uuid::from_u128(2)),
        );
        let parsed = RefreshToken::parse(&token.reveal()).expect("parses");
        assert_eq!(parsed, token);
        assert_eq!(parsed.hash().len(), 64);
        assert!(!token.reveal().contains(&token.hash()));
        for bad in ["", "a.b.c", &format!("{}.x", token.reveal()), "x.y.00"] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad}");
        }
    }
}
