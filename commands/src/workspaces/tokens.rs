//! The two tokens a workspace hands out, shown once and kept only as the
//! hash of their secret: invitations (`<workspace>.<invitation>.<secret>`)
//! and API keys (`ffk_<workspace>_<key>_<secret>`, ids without dashes; the
//! prefix lets secret scanners and a reader's eye recognise one, and tells
//! it apart from an access token in an `Authorization: Bearer` header).

use flowforge_domain::workspace::{ApiKeyId, InvitationId, WorkspaceId};
use uuid::Uuid;

use crate::opaque_secret::OpaqueSecret;

/// What every API key starts with.
pub const API_KEY_PREFIX: &str = "ffk_";

/// An invitation token taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationToken {
    /// The workspace inviting.
    pub workspace_id: WorkspaceId,
    /// The invitation.
    pub invitation_id: InvitationId,
    secret: OpaqueSecret,
}

impl InvitationToken {
    /// A fresh token for a new invitation to `workspace_id`.
    pub fn mint(workspace_id: WorkspaceId) -> Self {
        Self {
            workspace_id,
            invitation_id: InvitationId::from_uuid(Uuid::now_v7()),
            secret: OpaqueSecret::mint(),
        }
    }

    /// Reads a token a client presented; `None` if it is not one.
    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.trim().split('.');
        let (workspace, invitation, secret) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            workspace_id: workspace.parse().ok()?,
            invitation_id: invitation.parse().ok()?,
            secret: OpaqueSecret::parse(secret)?,
        })
    }

    /// What the workspace keeps of it.
    pub fn hash(&self) -> String {
        self.secret.hash()
    }

    /// The token as the invitee gets it.
    pub fn reveal(&self) -> String {
        format!(
            "{}.{}.{}",
            self.workspace_id,
            self.invitation_id,
            self.secret.reveal()
        )
    }
}

/// An API key taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyToken {
    /// The workspace the key acts in.
    pub workspace_id: WorkspaceId,
    /// The key.
    pub key_id: ApiKeyId,
    secret: OpaqueSecret,
}

impl ApiKeyToken {
    /// A fresh key for `workspace_id`.
    pub fn mint(workspace_id: WorkspaceId) -> Self {
        Self {
            workspace_id,
            key_id: ApiKeyId::from_uuid(Uuid::now_v7()),
            secret: OpaqueSecret::mint(),
        }
    }

    /// Whether `token` looks like an API key (rather than an access token).
    pub fn looks_like_one(token: &str) -> bool {
        token.starts_with(API_KEY_PREFIX)
    }

    /// Reads a key a client presented; `None` if it is not one.
    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.strip_prefix(API_KEY_PREFIX)?.split('_');
        let (workspace, key, secret) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || workspace.len() != 32 || key.len() != 32 {
            return None;
        }
        Some(Self {
            workspace_id: WorkspaceId::from_uuid(Uuid::try_parse(workspace).ok()?),
            key_id: ApiKeyId::from_uuid(Uuid::try_parse(key).ok()?),
            secret: OpaqueSecret::parse(secret)?,
        })
    }

    /// What the workspace keeps of it.
    pub fn hash(&self) -> String {
        self.secret.hash()
    }

    /// The key as its holder gets it.
    pub fn reveal(&self) -> String {
        format!(
            "{API_KEY_PREFIX}{}_{}_{}",
            self.workspace_id.as_uuid().simple(),
            self.key_id.as_uuid().simple(),
            self.secret.reveal()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> WorkspaceId {
        WorkspaceId::from_uuid(Uuid::from_u128(7))
    }

    #[test]
    fn an_invitation_token_reads_back() {
        let token = InvitationToken::mint(workspace());
        assert_eq!(InvitationToken::parse(&token.reveal()), Some(token.clone()));
        for bad in ["", "a.b.c", &format!("{}.x", token.reveal())] {
            assert!(InvitationToken::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn an_api_key_reads_back_and_is_told_apart_from_a_jwt() {
        let key = ApiKeyToken::mint(workspace());
        let revealed = key.reveal();
        assert!(ApiKeyToken::looks_like_one(&revealed));
        assert!(!ApiKeyToken::looks_like_one("eyJhbGciOiJIUzI1NiJ9.e30.x"));
        assert_eq!(ApiKeyToken::parse(&revealed), Some(key));
        for bad in [
            "ffk_",
            "ffk_a_b_c",
            &format!("{revealed}_x"),
            &revealed[1..],
        ] {
            assert!(ApiKeyToken::parse(bad).is_none(), "{bad}");
        }
    }
}
