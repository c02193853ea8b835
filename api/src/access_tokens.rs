//! Access tokens: short-lived JWTs (HS256) naming the account, the
//! session and the workspace requests act in unless they name another, signed with a key the deployment keeps among its secrets (so
//! every instance signs and verifies alike) and named by `kid`, so a new key
//! can be added beside the old one and tokens signed by either verify.

use std::{collections::HashMap, time::Duration};

use flowforge_domain::{
    user::{SessionId, UserId},
    workspace::WorkspaceId,
};
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};

/// The longest token read: a well-formed one is a few hundred bytes.
const MAX_TOKEN_BYTES: usize = 4096;

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    /// The account.
    sub: UserId,
    /// The session.
    sid: SessionId,
    /// The workspace requests act in by default (none for an account
    /// without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wid: Option<WorkspaceId>,
    /// Issued at (seconds since the epoch).
    iat: i64,
    /// Expires at (seconds since the epoch).
    exp: i64,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The account.
    pub user_id: UserId,
    /// The session the token belongs to.
    pub session_id: SessionId,
    /// The workspace requests act in unless they name another
    /// (`X-Workspace-Id`). The role is not in the token: it is looked up in
    /// the workspace on every request, so a changed role or a removed
    /// member takes effect at once.
    pub workspace_id: Option<WorkspaceId>,
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a token of ours: malformed, too long, an unknown `kid`, another
    /// algorithm (`none` included), a wrong signature, or expired.
    #[error("invalid access token: {0}")]
    Invalid(String),
    /// Signing failed (a bug).
    #[error("cannot sign an access token: {0}")]
    Signing(String),
}

/// Issues and verifies access tokens.
pub struct AccessTokens {
    keys: HashMap<String, (EncodingKey, DecodingKey)>,
    current: String,
    lifetime: Duration,
}

impl AccessTokens {
    /// Tokens signed with `secret` under key id `kid`, valid for `lifetime`.
    pub fn new(kid: &str, secret: &[u8], lifetime: Duration) -> Self {
        Self {
            keys: HashMap::new(),
            current: kid.to_owned(),
            lifetime,
        }
        .also_accepting(kid, secret)
    }

    /// The same, also verifying (not signing) tokens of key `kid`.
    pub fn also_accepting(mut self, kid: &str, secret: &[u8]) -> Self {
        self.keys.insert(
            kid.to_owned(),
            (
                EncodingKey::from_secret(secret),
                DecodingKey::from_secret(secret),
            ),
        );
        self
    }

    /// How long a token lives.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A token for `principal`, valid from now for the lifetime.
    ///
    /// # Errors
    /// [`TokenError::Signing`] if signing fails.
    pub fn issue(&self, principal: Principal) -> Result<String, TokenError> {
        self.issue_at(principal, chrono::Utc::now().timestamp())
    }

    /// A token for `principal` as if issued at `now` (seconds since the epoch).
    fn issue_at(&self, principal: Principal, now: i64) -> Result<String, TokenError> {
        let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            sub: principal.user_id,
            sid: principal.session_id,
            wid: principal.workspace_id,
            iat: now,
            exp: now.saturating_add(lifetime),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.clone());
        let (key, _) = self
            .keys
            .get(&self.current)
            .ok_or_else(|| TokenError::Signing("no current key".to_owned()))?;
        encode(&header, &claims, key).map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// The principal of a valid token.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] saying why not.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid("too long".to_owned()));
        }
        let header = decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Invalid("no kid".to_owned()))?;
        let (_, key) = self
            .keys
            .get(&kid)
            .ok_or_else(|| TokenError::Invalid("unknown kid".to_owned()))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = decode::<Claims>(token, key, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        Ok(Principal {
            user_id: data.claims.sub,
            session_id: data.claims.sid,
            workspace_id: data.claims.wid,
        })
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn principal() -> Principal {
        Principal {
            user_id: UserId::from_uuid(Uuid::from_u128(1)),
            session_id: SessionId::from_uuid(Uuid::from_u128(2)),
            workspace_id: Some(WorkspaceId::from_uuid(Uuid::from_u128(3))),
        }
    }

    #[test]
    fn a_token_verifies_to_its_principal() {
        let tokens = AccessTokens::new("1", b"secret one", Duration::from_secs(60));
        let token = tokens.issue(principal()).expect("issued");
        assert_eq!(tokens.verify(&token).expect("valid"), principal());
    }

    #[test]
    fn wrong_keys_kids_algorithms_and_expired_tokens_are_refused() {
        let tokens = AccessTokens::new("1", b"secret one", Duration::from_secs(60));
        let other_key = AccessTokens::new("1", b"secret two", Duration::from_secs(60));
        let other_kid = AccessTokens::new("2", b"secret one", Duration::from_secs(60));
        let an_hour_ago = chrono::Utc::now().timestamp() - 3600;
        for (what, token) in [
            (
                "wrong signature",
                other_key.issue(principal()).expect("issued"),
            ),
            ("unknown kid", other_kid.issue(principal()).expect("issued")),
            (
                "expired",
                tokens.issue_at(principal(), an_hour_ago).expect("issued"),
            ),
            ("not a token", "hello".to_owned()),
            ("too long", "a".repeat(5000)),
        ] {
            assert!(tokens.verify(&token).is_err(), "{what}");
        }
        // alg: none, with a valid-looking body.
        let token = tokens.issue(principal()).expect("issued");
        let body = token.split('.').nth(1).expect("body");
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIiwia2lkIjoiMSJ9";
        assert!(
            tokens.verify(&format!("{none_header}.{body}.")).is_err(),
            "alg none"
        );
    }

    #[test]
    fn a_second_key_verifies_tokens_it_signed_after_rotation() {
        let old = AccessTokens::new("1", b"old", Duration::from_secs(60));
        let token = old.issue(principal()).expect("issued");
        let rotated =
            AccessTokens::new("2", b"new", Duration::from_secs(60)).also_accepting("1", b"old");
        assert_eq!(rotated.verify(&token).expect("still valid"), principal());
    }
}
