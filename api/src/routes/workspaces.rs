//! Workspaces and their members: create one, list one's own, invite by
//! e-mail, take an invitation up, read, change and remove members.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Utc};
use flowforge_domain::{
    user::UserId,
    workspace::{Role, WorkspaceId},
};
use serde::{Deserialize, Serialize};
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

/// A role as the API reads and writes it (the domain's [`Role`], with a
/// schema for the document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    /// Everything, owners included.
    Owner,
    /// Members, invitations, API keys, and everything an editor does.
    Admin,
    /// Builds and runs workflows.
    Editor,
    /// Reads.
    Viewer,
    /// Starts executions only.
    Runner,
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Owner => Role::Owner,
            RoleName::Admin => Role::Admin,
            RoleName::Editor => Role::Editor,
            RoleName::Viewer => Role::Viewer,
            RoleName::Runner => Role::Runner,
        }
    }
}

impl From<Role> for RoleName {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => RoleName::Owner,
            Role::Admin => RoleName::Admin,
            Role::Editor => RoleName::Editor,
            Role::Viewer => RoleName::Viewer,
            Role::Runner => RoleName::Runner,
        }
    }
}

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_workspace, list_workspaces))
        .routes(routes!(invite))
        .routes(routes!(accept_invitation))
        .routes(routes!(list_members))
        .routes(routes!(get_member, change_member, remove_member))
}

/// A new workspace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    /// Its name, 1–100 characters.
    pub name: String,
}

/// A workspace just created.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceCreated {
    /// Its id: send it as `X-Workspace-Id` to act in it.
    pub id: Uuid,
}

/// Creates a workspace owned by the signed-in account.
#[utoipa::path(
    post, path = "/api/v1/workspaces", tag = "workspaces",
    request_body = CreateWorkspace,
    responses(
        JsonBodyErrors,
        (status = 201, description = "Created", body = WorkspaceCreated),
        (status = 401, description = "No signed-in account", body = ErrorBody),
        (status = 422, description = "An invalid name (invalid_workspace_change)", body = ErrorBody),
    ),
)]
async fn create_workspace(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestMetadata(mut metadata): RequestMetadata,
    JsonBody(body): JsonBody<CreateWorkspace>,
) -> Result<(StatusCode, Json<WorkspaceCreated>), ApiError> {
    let (user_id, _) = caller.account()?;
    let workspace_id = WorkspaceId::from_uuid(Uuid::now_v7());
    metadata.tenant_id = workspace_id.to_string();
    state
        .workspaces
        .create_with_id(workspace_id, &body.name, user_id, &metadata)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(WorkspaceCreated {
            id: workspace_id.as_uuid(),
        }),
    ))
}

/// A workspace the account belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceView {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The account's role there.
    pub role: RoleName,
}

/// The signed-in account's workspaces, its default one first.
#[utoipa::path(
    get, path = "/api/v1/workspaces", tag = "workspaces",
    responses(
        (status = 200, description = "The workspaces", body = Vec<WorkspaceView>),
        (status = 401, description = "No signed-in account", body = ErrorBody),
    ),
)]
async fn list_workspaces(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<WorkspaceView>>, ApiError> {
    let (user_id, _) = caller.account()?;
    let user = state
        .accounts
        .account(user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("the account does not exist".to_owned()))?;
    let mut views = Vec::new();
    for workspace_id in user.workspaces() {
        let Some(workspace) = state.workspaces.workspace(*workspace_id).await? else {
            continue;
        };
        if let Some(role) = workspace.role_of(user_id) {
            views.push(WorkspaceView {
                id: workspace_id.as_uuid(),
                name: workspace.name().to_owned(),
                role: role.into(),
            });
        }
    }
    Ok(Json(views))
}

/// An address to invite, with the role it will have.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// The e-mail address.
    pub email: String,
    /// `owner` (owners only), `admin`, `editor`, `viewer` or `runner`.
    pub role: RoleName,
}

/// An invitation just made.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationCreated {
    /// Its id.
    pub id: Uuid,
    /// Give this to the invitee, who registers with it (or, with an
    /// account already, takes it up at `/api/v1/invitations/accept`).
    /// Shown once.
    pub token: String,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
}

/// Invites an address to the workspace.
#[utoipa::path(
    post, path = "/api/v1/workspaces/{id}/invitations", tag = "workspaces",
    params(("id" = Uuid, Path, description = "The workspace")),
    request_body = InviteRequest,
    responses(
        JsonBodyErrors,
        ParameterErrors,
        (status = 201, description = "Invited", body = InvitationCreated),
        (status = 403, description = "The role is not yours to give (forbidden)", body = ErrorBody),
        (status = 404, description = "No such workspace of yours", body = ErrorBody),
        (status = 422, description = "An invalid address", body = ErrorBody),
    ),
)]
async fn invite(
    State(state): State<AppState>,
    PathParams(_workspace): PathParams<Uuid>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<InviteRequest>,
) -> Result<(StatusCode, Json<InvitationCreated>), ApiError> {
    let (workspace_id, by) = caller.in_workspace()?;
    let invited = state
        .workspaces
        .invite(workspace_id, &body.email, body.role.into(), by, &metadata)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitationCreated {
            id: invited.invitation_id.as_uuid(),
            token: invited.token,
            expires_at: invited.expires_at,
        }),
    ))
}

/// An invitation token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// The token the invitation gave.
    pub token: String,
}

/// The workspace joined.
#[derive(Debug, Serialize, ToSchema)]
pub struct Joined {
    /// Its id.
    pub workspace_id: Uuid,
}

/// The signed-in account takes an invitation up and joins its workspace.
#[utoipa::path(
    post, path = "/api/v1/invitations/accept", tag = "workspaces",
    request_body = AcceptRequest,
    responses(
        JsonBodyErrors,
        (status = 200, description = "Joined", body = Joined),
        (status = 401, description = "No signed-in account", body = ErrorBody),
        (status = 409, description = "A member already (already_member)", body = ErrorBody),
        (status = 422, description = "Not a live invitation for this account (invalid_invitation)", body = ErrorBody),
    ),
)]
async fn accept_invitation(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<AcceptRequest>,
) -> Result<Json<Joined>, ApiError> {
    let (user_id, _) = caller.account()?;
    let user = state
        .accounts
        .account(user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("the account does not exist".to_owned()))?;
    let workspace_id = state
        .workspaces
        .accept_invitation(&body.token, user_id, user.email(), &metadata)
        .await?;
    Ok(Json(Joined {
        workspace_id: workspace_id.as_uuid(),
    }))
}

/// A member of a workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// The account.
    pub user_id: Uuid,
    /// Its e-mail address.
    pub email: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: RoleName,
}

async fn member_view(
    state: &AppState,
    user_id: UserId,
    role: Role,
) -> Result<MemberView, ApiError> {
    let user = state.accounts.account(user_id).await?;
    Ok(MemberView {
        user_id: user_id.as_uuid(),
        email: user
            .as_ref()
            .map(|u| u.email().to_owned())
            .unwrap_or_default(),
        name: user
            .as_ref()
            .map(|u| u.name().to_owned())
            .unwrap_or_default(),
        role: role.into(),
    })
}

/// The workspace's members.
#[utoipa::path(
    get, path = "/api/v1/workspaces/{id}/members", tag = "workspaces",
    params(("id" = Uuid, Path, description = "The workspace")),
    responses(
        ParameterErrors,
        (status = 200, description = "The members", body = Vec<MemberView>),
        (status = 404, description = "No such workspace of yours", body = ErrorBody),
    ),
)]
async fn list_members(
    State(state): State<AppState>,
    PathParams(_workspace): PathParams<Uuid>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<MemberView>>, ApiError> {
    let (workspace_id, _) = caller.in_workspace()?;
    let workspace = state
        .workspaces
        .workspace(workspace_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("workspace".to_owned()))?;
    let mut members = Vec::new();
    for (user_id, role) in workspace.members() {
        members.push(member_view(&state, *user_id, *role).await?);
    }
    Ok(Json(members))
}

/// One member.
#[utoipa::path(
    get, path = "/api/v1/workspaces/{id}/members/{user}", tag = "workspaces",
    params(("id" = Uuid, Path, description = "The workspace"), ("user" = Uuid, Path, description = "The member")),
    responses(
        ParameterErrors,
        (status = 200, description = "The member", body = MemberView),
        (status = 404, description = "No such workspace of yours, or no such member", body = ErrorBody),
    ),
)]
async fn get_member(
    State(state): State<AppState>,
    PathParams(ids): PathParams<(Uuid, Uuid)>,
    Authenticated(caller): Authenticated,
) -> Result<Json<MemberView>, ApiError> {
    let (workspace_id, _) = caller.in_workspace()?;
    let (_, user) = ids;
    let user_id = UserId::from_uuid(user);
    let role = state
        .workspaces
        .workspace(workspace_id)
        .await?
        .and_then(|w| w.role_of(user_id))
        .ok_or_else(|| ApiError::NotFound(format!("member {user}")))?;
    Ok(Json(member_view(&state, user_id, role).await?))
}

/// A member's new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeMember {
    /// `owner` (owners only), `admin`, `editor`, `viewer` or `runner`.
    pub role: RoleName,
}

/// Gives a member another role.
#[utoipa::path(
    patch, path = "/api/v1/workspaces/{id}/members/{user}", tag = "workspaces",
    params(("id" = Uuid, Path, description = "The workspace"), ("user" = Uuid, Path, description = "The member")),
    request_body = ChangeMember,
    responses(
        JsonBodyErrors,
        ParameterErrors,
        (status = 200, description = "Changed", body = MemberView),
        (status = 403, description = "Not yours to change (forbidden)", body = ErrorBody),
        (status = 404, description = "No such workspace of yours, or no such member", body = ErrorBody),
        (status = 409, description = "The last owner stays (last_owner)", body = ErrorBody),
    ),
)]
async fn change_member(
    State(state): State<AppState>,
    PathParams(ids): PathParams<(Uuid, Uuid)>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<ChangeMember>,
) -> Result<Json<MemberView>, ApiError> {
    let (workspace_id, by) = caller.in_workspace()?;
    let user_id = UserId::from_uuid(ids.1);
    state
        .workspaces
        .change_role(workspace_id, user_id, body.role.into(), by, &metadata)
        .await?;
    Ok(Json(member_view(&state, user_id, body.role.into()).await?))
}

/// Takes a member out of the workspace.
#[utoipa::path(
    delete, path = "/api/v1/workspaces/{id}/members/{user}", tag = "workspaces",
    params(("id" = Uuid, Path, description = "The workspace"), ("user" = Uuid, Path, description = "The member")),
    responses(
        ParameterErrors,
        (status = 204, description = "Removed"),
        (status = 403, description = "Not yours to remove (forbidden)", body = ErrorBody),
        (status = 404, description = "No such workspace of yours, or no such member", body = ErrorBody),
        (status = 409, description = "The last owner stays (last_owner)", body = ErrorBody),
    ),
)]
async fn remove_member(
    State(state): State<AppState>,
    PathParams(ids): PathParams<(Uuid, Uuid)>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<StatusCode, ApiError> {
    let (workspace_id, by) = caller.in_workspace()?;
    state
        .workspaces
        .remove_member(workspace_id, UserId::from_uuid(ids.1), by, &metadata)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
