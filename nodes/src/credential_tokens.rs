//! Turns an OAuth 2.0 credential into the access token a request carries:
//! a client-credentials token fetched (and reused while fresh), or an
//! authorization-code token refreshed when it has expired and saved back to
//! the vault, so the next run starts from the new one.

use flowforge_domain::{credential::CredentialKind, execution::NodeError};
use flowforge_outbound::{OAuth2Client, OAuth2Failure, OAuth2Tokens, Token};
use serde_json::{Map, Value};

use crate::CredentialSource;

fn token_error(reference: &str, failure: &OAuth2Failure) -> NodeError {
    NodeError::new(format!("credential {reference:?}: {failure}")).with_code("oauth2_token")
}

/// Where a node's credential came from, to save a refreshed token back.
pub(crate) struct Origin<'a> {
    /// The source that opened it.
    pub source: &'a dyn CredentialSource,
    /// The execution the node runs in.
    pub execution: flowforge_domain::execution::ExecutionId,
    /// The node's `credentials` reference (name or id).
    pub reference: &'a str,
}

/// For an OAuth 2.0 credential, the access token to send (also put into
/// `data` as `access_token`); for any other kind, nothing.
///
/// # Errors
/// `oauth2_token` when the provider refuses or cannot be reached,
/// `oauth2_not_connected` for an authorization-code credential no user has
/// granted yet.
pub(crate) async fn access_token(
    tokens: &OAuth2Tokens,
    kind: CredentialKind,
    data: &mut Map<String, Value>,
    origin: Origin<'_>,
) -> Result<Option<Token>, NodeError> {
    let reference = origin.reference;
    let token = match kind {
        CredentialKind::OAuth2ClientCredentials => tokens
            .client_credentials(&OAuth2Client::from_fields(data))
            .await
            .map_err(|e| token_error(reference, &e))?,
        CredentialKind::OAuth2AuthorizationCode => match Token::from_fields(data) {
            Some(token) if token.fresh() => token,
            Some(Token {
                refresh_token: Some(refresh),
                ..
            }) => {
                let token = tokens
                    .refresh(&OAuth2Client::from_fields(data), &refresh)
                    .await
                    .map_err(|e| token_error(reference, &e))?;
                origin
                    .source
                    .save_tokens(origin.execution, kind, reference, token.to_fields())
                    .await?;
                token
            }
            Some(_) => {
                return Err(NodeError::new(format!(
                    "credential {reference:?}: its access token expired and the provider gave no refresh token; connect it again"
                ))
                .with_code("oauth2_not_connected"))
            }
            None => {
                return Err(NodeError::new(format!(
                    "credential {reference:?} is not connected yet: a user grants access through POST /api/v1/credentials/{{id}}/oauth2/authorize"
                ))
                .with_code("oauth2_not_connected"))
            }
        },
        _ => return Ok(None),
    };
    data.insert("access_token".to_owned(), token.access_token.clone().into());
    Ok(Some(token))
}
