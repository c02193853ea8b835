//! OAuth 2.0 authorization-code credentials are connected by a user: the
//! API hands out the provider's link (`…/oauth2/authorize`), the provider
//! sends the user back to `/api/v1/oauth2/callback` with a code, and the
//! token it is exchanged for is stored in the credential, sealed.

use axum::{
    extract::State,
    http::{header, HeaderMap},
    Json,
};
use flowforge_commands::credentials::GRANT_LIFETIME;
use flowforge_domain::credential::CredentialId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    request_context::{Authenticated, RequestMetadata},
    shared_responses::ParameterErrors,
};
use crate::{
    error::{ApiError, ErrorBody},
    extract::{PathParams, QueryParams},
    state::AppState,
};

/// The path the provider sends the user back to.
const CALLBACK_PATH: &str = "/api/v1/oauth2/callback";

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(authorize))
        .routes(routes!(callback))
}

/// Where a user grants access.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantLinkView {
    /// The provider's authorization page, with the request (and its PKCE
    /// challenge and signed state) in the query: open it in a browser.
    pub url: String,
    /// Where the provider sends the user back; register it with the
    /// provider as the client's redirect URI.
    pub redirect_uri: String,
    /// How long the link stays good, in seconds.
    pub expires_in_secs: u64,
}

/// What the provider sends back.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The authorization code.
    code: Option<String>,
    /// The state the link carried.
    state: Option<String>,
    /// The provider's error, when the user refused or the request was bad.
    error: Option<String>,
    /// The provider's words about it.
    error_description: Option<String>,
}

/// A connected credential.
#[derive(Debug, Serialize, ToSchema)]
pub struct Connected {
    /// The credential.
    pub credential_id: Uuid,
    /// Always true: it now holds a token.
    pub connected: bool,
}

/// The redirect URI: the configured public URL, or the one the request
/// came to.
fn redirect_uri(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(base) = &state.public_url {
        return Ok(format!("{base}{CALLBACK_PATH}"));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| {
            ApiError::InvalidParameter(
                "the request has no Host header; set FLOWFORGE_PUBLIC_URL".to_owned(),
            )
        })?;
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| matches!(*p, "http" | "https"))
        .unwrap_or(if state.serves_tls { "https" } else { "http" });
    Ok(format!("{scheme}://{host}{CALLBACK_PATH}"))
}

/// Starts connecting an `oauth2_authorization_code` credential: answers the
/// link a user opens to grant access. The grant completes when the
/// provider sends the user back to `/api/v1/oauth2/callback`.
#[utoipa::path(
    post, path = "/api/v1/credentials/{id}/oauth2/authorize", tag = "credentials",
    params(("id" = Uuid, Path, description = "The credential")),
    responses(
        ParameterErrors,
        (status = 200, description = "The link to open", body = GrantLinkView),
        (status = 404, description = "No such credential in this workspace", body = ErrorBody),
        (status = 422, description = "Not an oauth2_authorization_code credential, or its authorize URL is not a URL (invalid_credential)", body = ErrorBody),
    ),
)]
async fn authorize(
    State(state): State<AppState>,
    PathParams(id): PathParams<Uuid>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
) -> Result<Json<GrantLinkView>, ApiError> {
    let tenant = caller.tenant()?;
    let redirect_uri = redirect_uri(&state, &headers)?;
    let url = state
        .vault
        .begin_grant(&tenant, CredentialId::from_uuid(id), &redirect_uri)
        .await?;
    Ok(Json(GrantLinkView {
        url,
        redirect_uri,
        expires_in_secs: GRANT_LIFETIME.as_secs(),
    }))
}

/// Where the provider sends the user back: the code is exchanged for a
/// token (with the PKCE verifier the state carries, sealed), and the token
/// stored in the credential. Needs no sign-in: the signed state is the
/// authority.
#[utoipa::path(
    get, path = "/api/v1/oauth2/callback", tag = "credentials",
    params(CallbackParams),
    responses(
        ParameterErrors,
        (status = 200, description = "Connected", body = Connected),
        (status = 403, description = "No grant: the user refused, the state is missing, not valid or expired, or the provider refused the code (invalid_oauth2_grant)", body = ErrorBody),
        (status = 502, description = "The provider's token endpoint could not be reached or gave no token (oauth2_provider)", body = ErrorBody),
    ),
)]
async fn callback(
    State(state): State<AppState>,
    QueryParams(params): QueryParams<CallbackParams>,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<Json<Connected>, ApiError> {
    let given = |value: Option<String>| value.filter(|v| !v.is_empty());
    if let Some(error) = given(params.error) {
        let said =
            given(params.error_description).map_or(error.clone(), |d| format!("{error}: {d}"));
        return Err(ApiError::InvalidOAuth2Grant(format!(
            "the provider did not grant access: {said}"
        )));
    }
    let (Some(code), Some(grant)) = (given(params.code), given(params.state)) else {
        return Err(ApiError::InvalidOAuth2Grant(
            "the callback needs `code` and `state`".to_owned(),
        ));
    };
    let (_, id) = state.vault.complete_grant(&grant, &code, &metadata).await?;
    Ok(Json(Connected {
        credential_id: id.as_uuid(),
        connected: true,
    }))
}
