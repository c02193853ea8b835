//! API keys of the workspace a request acts in: create one (shown once),
//! list them (never the secret), revoke one.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Utc};
use flowforge_commands::workspaces::ApiKeyRequest;
use flowforge_domain::workspace::ApiKeyId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    request_context::{Authenticated, RequestMetadata},
    shared_responses::{JsonBodyErrors, ParameterErrors},
    workspaces::RoleName,
};
use crate::{
    error::{ApiError, ErrorBody},
    extract::{JsonBody, PathParams},
    state::AppState,
};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(revoke_api_key))
}

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// What it is for, 1–100 characters.
    pub name: String,
    /// `admin`, `editor`, `viewer` or `runner` (a key is never an owner).
    pub role: RoleName,
    /// When it stops working (RFC 3339); never, if absent.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key just created.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    /// Its id.
    pub id: Uuid,
    /// The key: send it as `Authorization: Bearer <key>` or `X-API-Key`.
    /// Shown once; only its hash is kept.
    pub key: String,
}

/// Creates an API key in the workspace the request acts in.
#[utoipa::path(
    post, path = "/api/v1/api-keys", tag = "workspaces",
    request_body = CreateApiKey,
    responses(
        JsonBodyErrors,
        (status = 201, description = "Created; the key is shown this once", body = ApiKeyCreated),
        (status = 401, description = "No signed-in account (keys are made by people, not by keys)", body = ErrorBody),
        (status = 422, description = "An invalid name, the owner role, or an expiry in the past (invalid_workspace_change)", body = ErrorBody),
    ),
)]
async fn create_api_key(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<CreateApiKey>,
) -> Result<(StatusCode, Json<ApiKeyCreated>), ApiError> {
    let (user_id, _) = caller.account()?;
    let (workspace_id, by) = caller.in_workspace()?;
    let request = ApiKeyRequest {
        name: body.name,
        role: body.role.into(),
        expires_at: body.expires_at,
    };
    let (key_id, key) = state
        .workspaces
        .issue_api_key(workspace_id, request, user_id, by, &metadata)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            id: key_id.as_uuid(),
            key,
        }),
    ))
}

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// Its id.
    pub id: Uuid,
    /// What it is for.
    pub name: String,
    /// The role it acts with.
    pub role: RoleName,
    /// Who created it.
    pub created_by: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to within ten minutes), if ever.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The workspace's API keys that were not revoked.
#[utoipa::path(
    get, path = "/api/v1/api-keys", tag = "workspaces",
    responses(
        (status = 200, description = "The keys", body = Vec<ApiKeyView>),
    ),
)]
async fn list_api_keys(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<ApiKeyView>>, ApiError> {
    let (workspace_id, _) = caller.in_workspace()?;
    let workspace = state
        .workspaces
        .workspace(workspace_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("workspace".to_owned()))?;
    Ok(Json(
        workspace
            .api_keys()
            .iter()
            .map(|(id, key)| ApiKeyView {
                id: id.as_uuid(),
                name: key.name.clone(),
                role: key.role.into(),
                created_by: key.created_by.as_uuid(),
                created_at: key.created_at,
                expires_at: key.expires_at,
                last_used_at: key.last_used_at,
            })
            .collect(),
    ))
}

/// Revokes an API key for good.
#[utoipa::path(
    delete, path = "/api/v1/api-keys/{id}", tag = "workspaces",
    params(("id" = Uuid, Path, description = "The key")),
    responses(
        ParameterErrors,
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key in this workspace", body = ErrorBody),
    ),
)]
async fn revoke_api_key(
    State(state): State<AppState>,
    PathParams(id): PathParams<Uuid>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<StatusCode, ApiError> {
    let (workspace_id, _) = caller.in_workspace()?;
    state
        .workspaces
        .revoke_api_key(workspace_id, ApiKeyId::from_uuid(id), &metadata)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
