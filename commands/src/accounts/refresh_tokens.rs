//! Refresh tokens: opaque to the client, `<user>.<session>.<secret>`; the
//! account keeps only the secret's hash.

use flowforge_domain::user::{SessionId, UserId};

use crate::opaque_secret::OpaqueSecret;

/// A refresh token taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The account.
    pub user_id: UserId,
    /// The session (the token family).
    pub session_id: SessionId,
    secret: OpaqueSecret,
}

impl RefreshToken {
    /// A fresh token for `session_id` of `user_id`.
    pub fn mint(user_id: UserId, session_id: SessionId) -> Self {
        Self {
            user_id,
            session_id,
            secret: OpaqueSecret::mint(),
        }
    }

    /// Reads a token a client presented; `None` if it is not one.
    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (user, session, secret) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            user_id: user.parse().ok()?,
            session_id: session.parse().ok()?,
            secret: OpaqueSecret::parse(secret)?,
        })
    }

    /// What the account keeps of it.
    pub fn hash(&self) -> String {
        self.secret.hash()
    }

    /// The token as the client holds it.
    pub fn reveal(&self) -> String {
        format!(
            "{}.{}.{}",
            self.user_id,
            self.session_id,
            self.secret.reveal()
        )
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

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
