//! Accounts: register, sign in, refresh, sign out, and who am I. Access
//! tokens are short-lived JWTs; refresh tokens are opaque, rotated on every
//! use, and a reused one ends its session.

use axum::{
    extract::State,
    http::{header::AUTHORIZATION, HeaderMap, StatusCode},
    Json,
};
use chrono::{DateTime, Utc};
use flowforge_commands::accounts::SignedIn;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{request_context::request_metadata, shared_responses::JsonBodyErrors};
use crate::{
    access_tokens::Principal,
    error::{ApiError, ErrorBody},
    extract::JsonBody,
    state::AppState,
};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Its e-mail address.
    pub email: String,
    /// At least 10 characters, not one of the most common passwords.
    pub password: String,
    /// Its display name, 1–200 characters.
    pub name: String,
}

/// The account created.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    /// Its id.
    pub user_id: Uuid,
}

/// Creates an account.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        JsonBodyErrors,
        (status = 201, description = "Registered", body = Registered),
        (status = 409, description = "The e-mail address has an account (email_taken)", body = ErrorBody),
        (status = 422, description = "Weak password, or an invalid address or name", body = ErrorBody),
    )
)]
async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let metadata = request_metadata(&headers);
    let user_id = state
        .accounts
        .register(&body.email, body.name, body.password, &metadata)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            user_id: user_id.as_uuid(),
        }),
    ))
}

/// An address and a password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The account's e-mail address.
    pub email: String,
    /// Its password.
    pub password: String,
}

/// A refresh token to exchange.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last sign-in or refresh.
    pub refresh_token: String,
}

/// A session's tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Exchange at `/api/v1/auth/refresh` for new tokens; works once.
    pub refresh_token: String,
}

/// Signs in: a new session.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        JsonBodyErrors,
        (status = 200, description = "Signed in", body = Tokens),
        (status = 401, description = "Wrong address or password (invalid_credentials)", body = ErrorBody),
        (status = 429, description = "Locked after failed sign-ins (account_locked); see Retry-After", body = ErrorBody),
    )
)]
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let metadata = request_metadata(&headers);
    let source = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let signed_in = state
        .accounts
        .sign_in(&body.email, body.password, source, &metadata)
        .await?;
    tokens(&state, signed_in).map(Json)
}

/// Exchanges a refresh token for new tokens.
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        JsonBodyErrors,
        (status = 200, description = "New tokens", body = Tokens),
        (status = 401, description = "Invalid (invalid_refresh_token) or reused (refresh_token_reused, the session is ended)", body = ErrorBody),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let metadata = request_metadata(&headers);
    let signed_in = state
        .accounts
        .refresh(&body.refresh_token, &metadata)
        .await?;
    tokens(&state, signed_in).map(Json)
}

/// Signs out: ends the session of the access token.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No valid access token (unauthenticated)", body = ErrorBody),
    )
)]
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let principal = signed_in(&state, &headers).await?;
    state
        .accounts
        .sign_out(
            principal.user_id,
            principal.session_id,
            &request_metadata(&headers),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One live session of the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Its id.
    pub id: Uuid,
    /// When it began.
    pub started_at: DateTime<Utc>,
    /// When its refresh token expires.
    pub expires_at: DateTime<Utc>,
    /// Where it began (`X-Forwarded-For`), if known.
    pub source: Option<String>,
    /// Whether the request came with this session's token.
    pub current: bool,
}

/// The signed-in account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Its id.
    pub id: Uuid,
    /// Its e-mail address.
    pub email: String,
    /// Its display name.
    pub name: String,
    /// Its live sessions.
    pub sessions: Vec<SessionView>,
}

/// The account of the access token.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth",
    responses(
        (status = 200, description = "The account", body = Me),
        (status = 401, description = "No valid access token (unauthenticated)", body = ErrorBody),
    )
)]
async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Me>, ApiError> {
    let principal = signed_in(&state, &headers).await?;
    let user = state
        .accounts
        .account(principal.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("the account does not exist".to_owned()))?;
    let sessions = user
        .sessions()
        .iter()
        .map(|(id, session)| SessionView {
            id: id.as_uuid(),
            started_at: session.started_at,
            expires_at: session.expires_at,
            source: session.source.clone(),
            current: *id == principal.session_id,
        })
        .collect();
    Ok(Json(Me {
        id: principal.user_id.as_uuid(),
        email: user.email().to_owned(),
        name: user.name().to_owned(),
        sessions,
    }))
}

/// A session's tokens: a fresh access token beside the refresh token.
fn tokens(state: &AppState, signed_in: SignedIn) -> Result<Tokens, ApiError> {
    let principal = Principal {
        user_id: signed_in.user_id,
        session_id: signed_in.session_id,
    };
    let access_token = state
        .access_tokens
        .issue(principal)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Tokens {
        access_token,
        token_type: "Bearer",
        expires_in: state.access_tokens.lifetime().as_secs(),
        refresh_token: signed_in.refresh_token,
    })
}

/// The principal of the request's access token, whose session is still
/// live (a signed-out or revoked session's tokens stop working at once).
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthenticated("no bearer token".to_owned()))?;
    let principal = state
        .access_tokens
        .verify(token.trim())
        .map_err(|e| ApiError::Unauthenticated(e.to_string()))?;
    let live = state
        .accounts
        .account(principal.user_id)
        .await?
        .is_some_and(|user| user.sessions().contains_key(&principal.session_id));
    if live {
        Ok(principal)
    } else {
        Err(ApiError::Unauthenticated(
            "the session has ended".to_owned(),
        ))
    }
}
