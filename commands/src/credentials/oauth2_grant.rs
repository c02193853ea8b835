//! A user granting an OAuth 2.0 authorization-code credential access: the
//! vault makes the provider's link (with PKCE), and completes the grant when
//! the provider sends the user back with a code, storing the token in the
//! credential, sealed like any other field.
//!
//! Nothing about a pending grant is kept server-side: the `state` the
//! provider hands back carries the workspace, the credential and, sealed
//! under the workspace's data key and bound to the credential, the PKCE
//! verifier, the redirect URI and an expiry. So any instance can complete a
//! grant another began, and a state cannot be forged, read, moved to
//! another credential or used after it expires.

use std::time::Duration;

use flowforge_domain::credential::{CredentialError, CredentialId, CredentialKind};
use flowforge_infra::event_store::EventMetadata;
use flowforge_outbound::{OAuth2Client, OAuth2Failure, OAuth2Tokens};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{scope, TestOutcome, Vault, VaultError};
use crate::{unix_time::unix_now, CommandError};

/// How long a grant link stays good.
pub const GRANT_LIFETIME: Duration = Duration::from_secs(600);

/// Why a grant could not begin or complete.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The credential is not an authorization-code credential, or the vault
    /// failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The state is not one this deployment made, or it expired.
    #[error("the grant's state is not valid or has expired; start the grant again")]
    InvalidState,
    /// The provider refused, or could not be reached.
    #[error(transparent)]
    Provider(#[from] OAuth2Failure),
}

/// What a state seals.
#[derive(Serialize, Deserialize)]
struct Pending {
    verifier: String,
    redirect_uri: String,
    expires_at: u64,
}

fn grant_owner(id: CredentialId) -> String {
    format!("oauth2-grant:{id}")
}

impl Vault {
    /// The link a user follows to grant authorization-code credential `id`
    /// of `tenant` access; the provider sends them back to `redirect_uri`.
    ///
    /// # Errors
    /// No such credential, one of another kind, a URL that is not one, and
    /// what the keyring fails with.
    pub async fn begin_grant(
        &self,
        tenant: &str,
        id: CredentialId,
        redirect_uri: &str,
    ) -> Result<String, GrantError> {
        let data = self.authorization_code_data(tenant, id).await?;
        let verifier = OAuth2Tokens::new_pkce_verifier();
        let pending = Pending {
            verifier: verifier.clone(),
            redirect_uri: redirect_uri.to_owned(),
            expires_at: unix_now().saturating_add(GRANT_LIFETIME.as_secs()),
        };
        let sealed = self
            .keyring
            .seal(
                &scope(tenant),
                &grant_owner(id),
                &serde_json::to_vec(&pending).map_err(|_| VaultError::Corrupt)?,
            )
            .await
            .map_err(VaultError::from)?;
        let state = format!("{tenant}.{id}.{sealed}");
        Ok(OAuth2Tokens::grant_link(
            &OAuth2Client::from_fields(&data),
            redirect_uri,
            state,
            &verifier,
        )?)
    }

    /// Completes a grant: checks `state`, exchanges `code` for a token and
    /// stores it in the credential; answers the workspace and credential.
    ///
    /// # Errors
    /// [`GrantError::InvalidState`], the provider's refusal, and what the
    /// vault fails with.
    pub async fn complete_grant(
        &self,
        state: &str,
        code: &str,
        metadata: &EventMetadata,
    ) -> Result<(String, CredentialId), GrantError> {
        let mut parts = state.splitn(3, '.');
        let (Some(tenant), Some(id), Some(sealed)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(GrantError::InvalidState);
        };
        let id: CredentialId = id.parse().map_err(|_| GrantError::InvalidState)?;
        // Only a workspace's own credential of the kind is looked at further
        // (and this reads, never writes: a made-up state costs no key).
        if tenant.parse::<uuid::Uuid>().is_err() {
            return Err(GrantError::InvalidState);
        }
        let data = match self.authorization_code_data(tenant, id).await {
            Ok(data) => data,
            Err(VaultError::Credential(CommandError::Rejected(_))) => {
                return Err(GrantError::InvalidState)
            }
            Err(other) => return Err(other.into()),
        };
        let opened = self
            .keyring
            .open_sealed(&scope(tenant), &grant_owner(id), sealed)
            .await
            .map_err(|_| GrantError::InvalidState)?;
        let pending: Pending =
            serde_json::from_slice(&opened).map_err(|_| GrantError::InvalidState)?;
        if pending.expires_at < unix_now() {
            return Err(GrantError::InvalidState);
        }
        let token = self
            .oauth2
            .exchange_code(
                &OAuth2Client::from_fields(&data),
                &pending.redirect_uri,
                code,
                &pending.verifier,
            )
            .await?;
        let metadata = EventMetadata {
            tenant_id: tenant.to_owned(),
            ..metadata.clone()
        };
        self.update(tenant, id, None, None, Some(token.to_fields()), &metadata)
            .await?;
        Ok((tenant.to_owned(), id))
    }

    /// For an OAuth 2.0 credential, whether it authenticates: a client
    /// credentials token is asked for; an authorization-code credential
    /// must have been granted, with a token still fresh or one its refresh
    /// token renews (the renewed token is stored: a provider that rotates
    /// refresh tokens has just invalidated the old one). `None` for other
    /// kinds.
    pub(super) async fn test_oauth2(
        &self,
        tenant: &str,
        id: CredentialId,
        kind: CredentialKind,
        data: &Map<String, Value>,
    ) -> Option<TestOutcome> {
        let outcome = |ok: bool, message: String| Some(TestOutcome { ok, message });
        match kind {
            CredentialKind::OAuth2ClientCredentials => {
                match self
                    .oauth2
                    .client_credentials(&OAuth2Client::from_fields(data))
                    .await
                {
                    Ok(_) => outcome(true, "the token endpoint issued a token".to_owned()),
                    Err(failure) => outcome(false, failure.to_string()),
                }
            }
            CredentialKind::OAuth2AuthorizationCode => {
                let expires_at = data.get("expires_at").and_then(Value::as_u64);
                let refresh = data.get("refresh_token").and_then(Value::as_str);
                if !data.contains_key("access_token") {
                    return outcome(
                        false,
                        "not connected: no user has granted access yet".to_owned(),
                    );
                }
                if expires_at.is_none_or(|at| at > unix_now()) {
                    return outcome(true, "connected; the access token is current".to_owned());
                }
                match refresh {
                    None => outcome(
                        false,
                        "the access token expired and there is no refresh token; connect it again"
                            .to_owned(),
                    ),
                    Some(refresh) => match self
                        .oauth2
                        .refresh(&OAuth2Client::from_fields(data), refresh)
                        .await
                    {
                        Ok(token) => {
                            let metadata = EventMetadata {
                                tenant_id: tenant.to_owned(),
                                actor: Some("credential-test".to_owned()),
                                ..EventMetadata::default()
                            };
                            let stored = self
                                .update(tenant, id, None, None, Some(token.to_fields()), &metadata)
                                .await;
                            match stored {
                                Ok(()) => outcome(
                                    true,
                                    "connected; the refresh token renewed the access token"
                                        .to_owned(),
                                ),
                                Err(error) => outcome(false, error.to_string()),
                            }
                        }
                        Err(failure) => outcome(false, failure.to_string()),
                    },
                }
            }
            _ => None,
        }
    }

    /// The opened data of `tenant`'s own authorization-code credential
    /// `id` (a credential another workspace shares is connected by its
    /// owner).
    async fn authorization_code_data(
        &self,
        tenant: &str,
        id: CredentialId,
    ) -> Result<Map<String, Value>, VaultError> {
        let view = self.get(tenant, id).await?;
        let kind = CredentialKind::OAuth2AuthorizationCode;
        if view.credential.kind != kind {
            return Err(VaultError::rejected(CredentialError::InvalidData {
                kind: kind.as_str(),
                why: format!(
                    "credential {id} is of type {}; only {kind} credentials are connected by a grant",
                    view.credential.kind
                ),
            }));
        }
        self.open(tenant, id, &view.credential).await
    }
}
