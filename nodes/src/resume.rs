//! Resume links of Wait nodes (`resume: webhook`): who holds the link may
//! resume the node, so the token in it is a secret. It is derived, not drawn:
//! HMAC-SHA256 under a key the deployment keeps in its database (never in the
//! event log) of the execution id and the Wait node's name, so the nodes
//! before the wait (which send the link out, as n8n's `$execution.resumeUrl`)
//! and the Wait node itself get the same token on any instance and after any
//! restart. The execution records only the token's SHA-256; a presented token
//! is compared with it in constant time.

use flowforge_domain::execution::{ExecutionId, ResumeSecret};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The key resume tokens are derived with.
#[derive(Clone)]
pub struct ResumeLinks {
    key: Vec<u8>,
}

impl std::fmt::Debug for ResumeLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResumeLinks(<key>)")
    }
}

impl ResumeLinks {
    /// Links derived with `key` (at least 32 random bytes, shared by every
    /// instance of the deployment).
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into() }
    }

    /// The token that resumes Wait node `node` of execution `execution_id`.
    pub fn token(&self, execution_id: ExecutionId, node: &str) -> String {
        // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(b"flowforge resume token v1\n");
        mac.update(execution_id.to_string().as_bytes());
        mac.update(b"\n");
        mac.update(node.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// The path (below the API's base URL) that resumes Wait node `node` of
    /// execution `execution_id`.
    pub fn url(&self, execution_id: ExecutionId, node: &str) -> String {
        format!(
            "/api/v1/executions/{execution_id}/resume/{}",
            self.token(execution_id, node)
        )
    }
}

/// What an execution records of a token: its SHA-256, lower-case hex.
pub fn token_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Whether `presented` is the token `secret` stands for, compared in
/// constant time (no early exit on the first differing byte).
pub fn token_matches(secret: &ResumeSecret, presented: &str) -> bool {
    let (expected, given) = match secret {
        ResumeSecret::Sha256(digest) => (digest.as_bytes(), token_digest(presented)),
        ResumeSecret::Clear(token) => (token.as_bytes(), presented.to_owned()),
    };
    bool::from(expected.ct_eq(given.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn execution(n: u128) -> ExecutionId {
        ExecutionId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn tokens_are_stable_and_differ_by_execution_node_and_key() {
        let links = ResumeLinks::new(vec![7; 32]);
        let token = links.token(execution(1), "Approve");
        assert_eq!(token.len(), 64);
        assert_eq!(token, links.token(execution(1), "Approve"));
        assert_ne!(token, links.token(execution(2), "Approve"));
        assert_ne!(token, links.token(execution(1), "Approve again"));
        assert_ne!(
            token,
            ResumeLinks::new(vec![8; 32]).token(execution(1), "Approve")
        );
        assert!(links.url(execution(1), "Approve").ends_with(&token));
    }

    #[test]
    fn a_token_matches_its_digest_only() {
        let links = ResumeLinks::new(vec![7; 32]);
        let token = links.token(execution(1), "Approve");
        let secret = ResumeSecret::Sha256(token_digest(&token));
        assert!(token_matches(&secret, &token));
        assert!(!token_matches(
            &secret,
            &links.token(execution(2), "Approve")
        ));
        assert!(!token_matches(&secret, ""));
        assert!(
            !token_matches(&secret, &token_digest(&token)),
            "the digest is no token"
        );
        let old = ResumeSecret::Clear("abc".into());
        assert!(token_matches(&old, "abc") && !token_matches(&old, "abd"));
    }
}
