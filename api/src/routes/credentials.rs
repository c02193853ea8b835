//! The credentials vault of the workspace a request acts in: create, list,
//! read, change, delete and test credentials. Secret fields are write-only:
//! an answer shows which are set (`secrets_set`), never their values.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Utc};
use flowforge_commands::credentials::{CredentialView as Stored, SharedView, TestOutcome};
use flowforge_domain::{credential::CredentialId, workspace::WorkspaceId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    request_context::{Authenticated, RequestMetadata},
    shared_responses::{JsonBodyErrors, ParameterErrors},
};
use crate::{
    error::{ApiError, ErrorBody},
    extract::{JsonBody, PathParams},
    state::AppState,
};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_credential, list_credentials))
        .routes(routes!(
            get_credential,
            update_credential,
            delete_credential
        ))
        .routes(routes!(test_credential))
        .routes(routes!(share_credential))
        .routes(routes!(unshare_credential))
}

/// The workspace to share a credential with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareCredential {
    /// The other workspace's id.
    pub workspace_id: Uuid,
}

/// A credential to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    /// Its name, unique in the workspace (nodes may refer to it by name).
    pub name: String,
    /// Its type: `http_header_auth`, `http_basic_auth`, `http_bearer_auth`,
    /// `http_query_auth`, `postgres`, `mysql`, `redis`, `smtp`, `imap`,
    /// `amqp`, `mqtt` or `s3` (docs/credentials.md lists each one's fields).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its fields, e.g. `{"name": "Authorization", "value": "Bearer …"}`.
    pub data: Map<String, Value>,
}

/// A change to a credential: a new name, new data, or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCredential {
    /// Its new name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its type, if sent: it must be the credential's own.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Fields to change, laid over the stored ones: a field left out keeps
    /// its value (a secret need not be sent again), `null` removes it.
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
}

/// A credential, without its secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The fields that are not secret.
    pub data: Map<String, Value>,
    /// The secret fields that are set (their values are never shown).
    pub secrets_set: Vec<String>,
    /// The other workspaces that may use it (for a credential of this
    /// workspace).
    pub shared_with: Vec<String>,
    /// The workspace that owns it, for a credential another workspace
    /// shares with this one (such a credential is used, not changed, here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_from: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Stored> for CredentialView {
    fn from(stored: Stored) -> Self {
        let credential = stored.credential;
        Self {
            id: stored.id.as_uuid(),
            name: credential.name,
            kind: credential.kind.as_str().to_owned(),
            data: credential.data.public,
            secrets_set: credential.data.secrets_set,
            shared_with: credential.shared_with.into_iter().collect(),
            shared_from: None,
            created_at: credential.created_at,
            updated_at: credential.updated_at,
        }
    }
}

impl From<SharedView> for CredentialView {
    fn from(shared: SharedView) -> Self {
        let owner = shared.owner;
        let mut view = Self::from(Stored {
            id: shared.id,
            credential: shared.credential,
        });
        view.shared_with = Vec::new();
        view.shared_from = Some(owner);
        view
    }
}

/// What testing a credential found.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialTest {
    /// Whether it is usable.
    pub ok: bool,
    /// What was checked, or why it is not usable.
    pub message: String,
}

impl From<TestOutcome> for CredentialTest {
    fn from(outcome: TestOutcome) -> Self {
        Self {
            ok: outcome.ok,
            message: outcome.message,
        }
    }
}

/// Creates a credential in the workspace the request acts in; its data is
/// sealed before it is recorded.
#[utoipa::path(
    post, path = "/api/v1/credentials", tag = "credentials",
    request_body = CreateCredential,
    responses(
        JsonBodyErrors,
        (status = 201, description = "Created", body = CredentialView),
        (status = 409, description = "The workspace has a credential of this name (credential_name_taken)", body = ErrorBody),
        (status = 422, description = "An unknown type, data that is not of the type, or an invalid name (invalid_credential)", body = ErrorBody),
    ),
)]
async fn create_credential(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<CreateCredential>,
) -> Result<(StatusCode, Json<CredentialView>), ApiError> {
    let tenant = caller.tenant()?;
    let id = state
        .vault
        .create(&tenant, body.name, &body.kind, body.data, &metadata)
        .await?;
    let view = state.vault.get(&tenant, id).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// The workspace's credentials, by name, then those other workspaces share
/// with it (with `shared_from`).
#[utoipa::path(
    get, path = "/api/v1/credentials", tag = "credentials",
    responses((status = 200, description = "The credentials", body = Vec<CredentialView>)),
)]
async fn list_credentials(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<CredentialView>>, ApiError> {
    let tenant = caller.tenant()?;
    let own = state.vault.list(&tenant).await?;
    let shared = state.vault.shared_with(&tenant).await?;
    Ok(Json(
        own.into_iter()
            .map(Into::into)
            .chain(shared.into_iter().map(Into::into))
            .collect(),
    ))
}

/// One credential of the workspace.
#[utoipa::path(
    get, path = "/api/v1/credentials/{id}", tag = "credentials",
    params(("id" = Uuid, Path, description = "The credential")),
    responses(
        ParameterErrors,
        (status = 200, description = "The credential", body = CredentialView),
        (status = 404, description = "No such credential in this workspace", body = ErrorBody),
    ),
)]
async fn get_credential(
    State(state): State<AppState>,
    PathParams(id): PathParams<Uuid>,
    Authenticated(caller): Authenticated,
) -> Result<Json<CredentialView>, ApiError> {
    let view = state
        .vault
        .get(&caller.tenant()?, CredentialId::from_uuid(id))
        .await?;
    Ok(Json(view.into()))
}

/// Renames a credential or changes its data; secret fields left out keep
/// their values.
#[utoipa::path(
    put, path = "/api/v1/credentials/{id}", tag = "credentials",
    params(("id" = Uuid, Path, description = "The credential")),
    request_body = UpdateCredential,
    responses(
        JsonBodyErrors,
        (status = 200, description = "Changed", body = CredentialView),
        (status = 404, description = "No such credential in this workspace", body = ErrorBody),
        (status = 409, description = "Another credential has the name (credential_name_taken)", body = ErrorBody),
        (status = 422, description = "Another type, data that is not of the type, or an invalid name (invalid_credential)", body = ErrorBody),
    ),
)]
async fn update_credential(
    State(state): State<AppState>,
    PathParams(id): PathParams<Uuid>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<UpdateCredential>,
) -> Result<Json<CredentialView>, ApiError> {
    let tenant = caller.tenant()?;
    let id = CredentialId::from_uuid(id);
    state
        .vault
        .update(
            &tenant,
            id,
            body.name,
            body.kind.as_deref(),
            body.data,
            &metadata,
        )
        .await?;
    Ok(Json(state.vault.get(&tenant, id).await?.into()))
}

/// Deletes a credential: workflows that use it fail from their next run,
/// naming it.
#[utoipa::path(
    delete, path = "/api/v1/credentials/{id}", tag = "credentials",
    params(("id" = Uuid, Path, description = "The credential")),
    responses(
        ParameterErrors,
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such credential in this workspace", body = ErrorBody),
    ),
)]
async fn delete_credential(
    State(state): State<AppState>,
    PathParams(id): PathParams<Uuid>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<StatusCode, ApiError> {
    state
        .vault
        .delete(&caller.tenant()?, CredentialId::from_uuid(id), &metadata)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tests a credential: its data opens and is complete, and for a type with
/// a server (`postgres`, `redis`, `smtp`, …) the server accepts a
/// connection.
#[utoipa::path(
    post, path = "/api/v1/credentials/{id}/test", tag = "credentials",
    params(("id" = Uuid, Path, description = "The credential")),
    responses(
        ParameterErrors,
        (status = 200, description = "What the test found", body = CredentialTest),
        (status = 404, description = "No such credential in this workspace", body = ErrorBody),
    ),
)]
async fn test_credential(
    State(state): State<AppState>,
    PathParams(id): PathParams<Uuid>,
    Authenticated(caller): Authenticated,
) -> Result<Json<CredentialTest>, ApiError> {
    let outcome = state
        .vault
        .test(&caller.tenant()?, CredentialId::from_uuid(id))
        .await?;
    Ok(Json(outcome.into()))
}

/// Lets another workspace use a credential of this one: its nodes may name
/// it by id (or by the name it has now). The credential stays sealed under
/// this workspace's key and is changed only here; each execution's use is
/// recorded in this workspace's audit log (`credential_use`).
#[utoipa::path(
    post, path = "/api/v1/credentials/{id}/shares", tag = "credentials",
    params(("id" = Uuid, Path, description = "The credential")),
    request_body = ShareCredential,
    responses(
        JsonBodyErrors,
        (status = 200, description = "Shared", body = CredentialView),
        (status = 404, description = "No such credential in this workspace, or no such workspace to share with", body = ErrorBody),
        (status = 422, description = "Sharing with the credential's own workspace (invalid_credential)", body = ErrorBody),
    ),
)]
async fn share_credential(
    State(state): State<AppState>,
    PathParams(id): PathParams<Uuid>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<ShareCredential>,
) -> Result<Json<CredentialView>, ApiError> {
    let tenant = caller.tenant()?;
    let with = WorkspaceId::from_uuid(body.workspace_id);
    if state.workspaces.workspace(with).await?.is_none() {
        return Err(ApiError::NotFound(format!("workspace {with}")));
    }
    let id = CredentialId::from_uuid(id);
    state
        .vault
        .share(&tenant, id, &with.to_string(), &metadata)
        .await?;
    Ok(Json(state.vault.get(&tenant, id).await?.into()))
}

/// Stops sharing a credential with another workspace: its nodes that use
/// the credential fail from their next run, naming it.
#[utoipa::path(
    delete, path = "/api/v1/credentials/{id}/shares/{workspace_id}", tag = "credentials",
    params(
        ("id" = Uuid, Path, description = "The credential"),
        ("workspace_id" = Uuid, Path, description = "The workspace it was shared with"),
    ),
    responses(
        ParameterErrors,
        (status = 204, description = "No longer shared"),
        (status = 404, description = "No such credential in this workspace", body = ErrorBody),
    ),
)]
async fn unshare_credential(
    State(state): State<AppState>,
    PathParams((id, with)): PathParams<(Uuid, Uuid)>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<StatusCode, ApiError> {
    state
        .vault
        .unshare(
            &caller.tenant()?,
            CredentialId::from_uuid(id),
            &WorkspaceId::from_uuid(with).to_string(),
            &metadata,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
