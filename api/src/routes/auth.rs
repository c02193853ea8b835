//! Accounts: register, sign in, refresh, sign out, and who am I. Access
//! tokens are short-lived JWTs; refresh tokens are opaque, rotated on every
//! use, and a reused one ends its session.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    Json,
};
use chrono::{DateTime, Utc};
use flowforge_commands::accounts::SignedIn;
use flowforge_domain::{
    user::{SessionId, UserId},
    workspace::WorkspaceId,
};
use flowforge_infra::event_store::EventMetadata;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    request_context::{Authenticated, RequestMetadata},
    shared_responses::{JsonBodyErrors, ParameterErrors},
};
use crate::{
    access_tokens::Principal,
    error::{ApiError, ErrorBody},
    extract::{JsonBody, PathParams},
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
        .routes(routes!(change_password))
        .routes(routes!(revoke_session))
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
    /// An invitation token: the account joins that workspace. Needed
    /// unless this is the installation's first account (which becomes the
    /// owner of a first workspace) or registration is open.
    #[serde(default)]
    pub invitation: Option<String>,
}

/// The account created.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    /// Its id.
    pub user_id: Uuid,
    /// The workspace it belongs to: the first one for the installation's
    /// first account, the inviting one for an invitee, none otherwise.
    pub workspace_id: Option<Uuid>,
}

/// Creates an account.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        JsonBodyErrors,
        (status = 201, description = "Registered", body = Registered),
        (status = 403, description = "Registration is by invitation (registration_closed)", body = ErrorBody),
        (status = 409, description = "The e-mail address has an account (email_taken)", body = ErrorBody),
        (status = 422, description = "Weak password, an invalid address or name, or an invalid invitation (invalid_invitation)", body = ErrorBody),
    )
)]
async fn register(
    State(state): State<AppState>,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    // Everything that can refuse is checked before the account is made.
    match &body.invitation {
        Some(invitation) => {
            state
                .workspaces
                .check_invitation(invitation, &body.email)
                .await?;
        }
        None if !state.open_registration && state.workspaces.has_first_owner().await? => {
            return Err(ApiError::RegistrationClosed);
        }
        None => {}
    }
    let user_id = state
        .accounts
        .register(&body.email, body.name, body.password, &metadata)
        .await?;
    let workspace_id = match &body.invitation {
        Some(invitation) => Some(
            state
                .workspaces
                .accept_invitation(invitation, user_id, &body.email, &metadata)
                .await?,
        ),
        None => {
            state
                .workspaces
                .set_up_first_owner(user_id, &metadata)
                .await?
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            user_id: user_id.as_uuid(),
            workspace_id: workspace_id.map(|w| w.as_uuid()),
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
    /// When the account's second factor is on: the code its authenticator
    /// shows now, or one of its recovery codes.
    #[serde(default)]
    pub totp: Option<String>,
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
    /// The workspace requests act in unless they name another with
    /// `X-Workspace-Id` (none for an account without a workspace).
    pub workspace_id: Option<Uuid>,
}

/// Signs in: a new session.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        JsonBodyErrors,
        (status = 200, description = "Signed in", body = Tokens),
        (status = 401, description = "Wrong address or password (invalid_credentials); the account's second factor is on and `totp` is missing (totp_required), or wrong or used already (invalid_totp)", body = ErrorBody),
        (status = 429, description = "Locked after failed sign-ins, wrong codes among them (account_locked); see Retry-After", body = ErrorBody),
    )
)]
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let source = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let signed_in = state
        .accounts
        .sign_in(
            &body.email,
            body.password,
            body.totp.as_deref(),
            source,
            &metadata,
        )
        .await?;
    tokens(&state, signed_in, &metadata).await.map(Json)
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
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let signed_in = state
        .accounts
        .refresh(&body.refresh_token, &metadata)
        .await?;
    tokens(&state, signed_in, &metadata).await.map(Json)
}

/// Signs out: ends the session of the access token.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No valid access token (unauthenticated)", body = ErrorBody),
    )
)]
async fn logout(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<StatusCode, ApiError> {
    let (user_id, session_id) = caller.account()?;
    state
        .accounts
        .sign_out(user_id, session_id, &metadata)
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
    /// The workspaces it belongs to, the default one first.
    pub workspaces: Vec<Uuid>,
    /// Whether signing in needs a code from an authenticator.
    pub totp_enabled: bool,
}

/// The account of the access token.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth",
    responses(
        (status = 200, description = "The account", body = Me),
        (status = 401, description = "No valid access token (unauthenticated)", body = ErrorBody),
    )
)]
async fn me(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Me>, ApiError> {
    let (user_id, session_id) = caller.account()?;
    let user = state
        .accounts
        .account(user_id)
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
            current: *id == session_id,
        })
        .collect();
    Ok(Json(Me {
        id: user_id.as_uuid(),
        email: user.email().to_owned(),
        name: user.name().to_owned(),
        sessions,
        workspaces: user.workspaces().iter().map(|w| w.as_uuid()).collect(),
        totp_enabled: user.second_factor().is_on(),
    }))
}

/// A session's tokens: a fresh access token beside the refresh token,
/// acting by default in the account's first workspace (the installation's
/// first account gets its workspace here if a crash cut registration short).
async fn tokens(
    state: &AppState,
    signed_in: SignedIn,
    metadata: &EventMetadata,
) -> Result<Tokens, ApiError> {
    let workspace_id = default_workspace(state, signed_in.user_id, metadata).await?;
    let principal = Principal {
        user_id: signed_in.user_id,
        session_id: signed_in.session_id,
        workspace_id,
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
        workspace_id: workspace_id.map(|w| w.as_uuid()),
    })
}

/// The account's first workspace, if it has one.
async fn default_workspace(
    state: &AppState,
    user_id: UserId,
    metadata: &EventMetadata,
) -> Result<Option<WorkspaceId>, ApiError> {
    let first = state
        .accounts
        .account(user_id)
        .await?
        .and_then(|user| user.workspaces().first().copied());
    match first {
        Some(workspace_id) => Ok(Some(workspace_id)),
        None => Ok(state
            .workspaces
            .finish_first_owner(user_id, metadata)
            .await?),
    }
}

/// The current password and the new one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password now.
    pub current_password: String,
    /// The new one: at least 10 characters, not one of the most common.
    pub new_password: String,
}

/// Changes the signed-in account's password; every other session ends.
#[utoipa::path(
    post, path = "/api/v1/me/password", tag = "auth",
    request_body = ChangePasswordRequest,
    responses(
        JsonBodyErrors,
        (status = 204, description = "Changed; this session stays, the others ended"),
        (status = 401, description = "Not signed in, or a wrong current password (invalid_credentials)", body = ErrorBody),
        (status = 422, description = "A weak new password (weak_password)", body = ErrorBody),
    )
)]
async fn change_password(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let (user_id, session_id) = caller.account()?;
    state
        .accounts
        .change_password(
            user_id,
            session_id,
            body.current_password,
            body.new_password,
            &metadata,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends one of the signed-in account's sessions (see `GET /api/v1/me` for
/// the list): its refresh token stops working, and so do its access tokens.
#[utoipa::path(
    delete, path = "/api/v1/me/sessions/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "The session")),
    responses(
        ParameterErrors,
        (status = 204, description = "Ended"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such live session of this account", body = ErrorBody),
    )
)]
async fn revoke_session(
    State(state): State<AppState>,
    PathParams(id): PathParams<Uuid>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<StatusCode, ApiError> {
    let (user_id, _) = caller.account()?;
    let session_id = SessionId::from_uuid(id);
    let live = state
        .accounts
        .account(user_id)
        .await?
        .is_some_and(|user| user.sessions().contains_key(&session_id));
    if !live {
        return Err(ApiError::NotFound(format!("session {id}")));
    }
    state
        .accounts
        .sign_out(user_id, session_id, &metadata)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
