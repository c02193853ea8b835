//! Who is calling: the credentials a request carries turned into a
//! [`Caller`], an account (by its access token) or an API key, and the
//! workspace the request acts in with the caller's role there.
//!
//! An access token acts in the workspace named by `X-Workspace-Id`, else
//! in the token's default one; the role is looked up in that workspace on
//! every request. An API key acts in its own workspace with its own role.
//! A workspace the caller is not a member of answers 404, as one that does
//! not exist does, so ids from elsewhere reveal nothing.

use axum::http::{header::AUTHORIZATION, HeaderMap};
use flowforge_commands::workspaces::ApiKeyToken;
use flowforge_domain::{
    user::{SessionId, UserId},
    webhook_path::PathNamespace,
    workspace::{ApiKeyId, Role, WorkspaceId},
};

use flowforge_infra::read_model::TenantScope;

use crate::{error::ApiError, state::AppState};

/// The header naming the workspace a request acts in.
pub const WORKSPACE_ID: &str = "x-workspace-id";
/// The header an API key may come in (besides `Authorization: Bearer`).
pub const API_KEY: &str = "x-api-key";

/// Who made the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in account, in one of its sessions.
    User {
        /// The account.
        user_id: UserId,
        /// The session of the access token.
        session_id: SessionId,
    },
    /// An API key.
    ApiKey {
        /// The key.
        key_id: ApiKeyId,
    },
}

impl Actor {
    /// How the actor is recorded in event metadata and the audit log.
    pub fn recorded_as(&self) -> String {
        match self {
            Self::User { user_id, .. } => format!("user:{user_id}"),
            Self::ApiKey { key_id } => format!("api_key:{key_id}"),
        }
    }
}

/// An authenticated request's caller, put into the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// Who.
    pub actor: Actor,
    /// The workspace the request acts in and the caller's role there (none
    /// for an account that belongs to no workspace).
    pub workspace: Option<(WorkspaceId, Role)>,
    /// Whether that workspace is the installation's first, which also holds
    /// what was recorded before workspaces existed.
    pub first_workspace: bool,
}

impl Caller {
    /// The workspace and role, or 404 for a caller without one.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] naming the workspace.
    pub fn in_workspace(&self) -> Result<(WorkspaceId, Role), ApiError> {
        self.workspace.ok_or_else(|| {
            ApiError::NotFound(
                "workspace (this account belongs to none: create one with POST /api/v1/workspaces)"
                    .to_owned(),
            )
        })
    }

    /// The workspace the request acts in, as the tenant its own streams
    /// (credentials, variables) are recorded under; 404 for a caller
    /// without one.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] naming the workspace.
    pub fn tenant(&self) -> Result<String, ApiError> {
        Ok(self.in_workspace()?.0.to_string())
    }

    /// The rows the caller may see: its workspace's (and, in the first
    /// workspace, those recorded before workspaces existed); 404 for a
    /// caller without a workspace.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] naming the workspace.
    pub fn scope(&self) -> Result<TenantScope, ApiError> {
        let (workspace_id, _) = self.in_workspace()?;
        Ok(if self.first_workspace {
            TenantScope::with_default(workspace_id.to_string())
        } else {
            TenantScope::only(workspace_id.to_string())
        })
    }

    /// The webhook paths the caller's workspace owns.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for a caller without a workspace.
    pub fn path_namespace(&self) -> Result<PathNamespace, ApiError> {
        let (workspace_id, _) = self.in_workspace()?;
        Ok(if self.first_workspace {
            PathNamespace::FirstWorkspace
        } else {
            PathNamespace::Workspace(workspace_id.to_string())
        })
    }

    /// The signed-in account, or 401 for an API key.
    ///
    /// # Errors
    /// [`ApiError::Unauthenticated`] for an API key.
    pub fn account(&self) -> Result<(UserId, SessionId), ApiError> {
        match self.actor {
            Actor::User {
                user_id,
                session_id,
            } => Ok((user_id, session_id)),
            Actor::ApiKey { .. } => Err(ApiError::Unauthenticated(
                "this route needs a signed-in account, not an API key".to_owned(),
            )),
        }
    }
}

/// The credentials a request carries.
enum Credentials<'a> {
    AccessToken(&'a str),
    ApiKey(&'a str),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// What `Authorization: <scheme> <credentials>` carries for `scheme`
/// (case-insensitive), if the request sends that scheme.
pub fn authorization<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    header(headers, AUTHORIZATION.as_str())?
        .split_once(' ')
        .filter(|(sent, _)| sent.eq_ignore_ascii_case(scheme))
        .map(|(_, credentials)| credentials.trim())
}

fn credentials(headers: &HeaderMap) -> Result<Credentials<'_>, ApiError> {
    if let Some(key) = header(headers, API_KEY) {
        return Ok(Credentials::ApiKey(key));
    }
    let bearer = authorization(headers, "bearer").ok_or_else(|| {
        ApiError::Unauthenticated(
            "send Authorization: Bearer <access token or API key>, or X-API-Key: <API key>"
                .to_owned(),
        )
    })?;
    Ok(if ApiKeyToken::looks_like_one(bearer) {
        Credentials::ApiKey(bearer)
    } else {
        Credentials::AccessToken(bearer)
    })
}

/// The workspace named by `X-Workspace-Id`, if the request names one.
fn named_workspace(headers: &HeaderMap) -> Result<Option<WorkspaceId>, ApiError> {
    header(headers, WORKSPACE_ID)
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::InvalidParameter(format!("X-Workspace-Id {v:?} is not a workspace id"))
            })
        })
        .transpose()
}

fn workspace_not_found() -> ApiError {
    ApiError::NotFound("workspace".to_owned())
}

/// Which workspace a request acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspaceChoice {
    /// None: an account-level route (so an account removed from its default
    /// workspace can still see itself and switch).
    None,
    /// `X-Workspace-Id`, else the access token's default.
    FromHeaders,
    /// This one (named in the route's path).
    Named(WorkspaceId),
}

/// The caller of a request with these headers, acting in the workspace
/// `choice` says.
///
/// # Errors
/// 401 without valid credentials, 404 for a workspace the caller is not in,
/// 400 for a malformed `X-Workspace-Id`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    choice: WorkspaceChoice,
) -> Result<Caller, ApiError> {
    let in_workspace = choice != WorkspaceChoice::None;
    let named = match choice {
        WorkspaceChoice::Named(workspace_id) => Some(workspace_id),
        _ => named_workspace(headers)?,
    };
    match credentials(headers)? {
        Credentials::ApiKey(key) => {
            let holder = state.workspaces.authenticate_key(key).await?;
            if named.is_some_and(|named| named != holder.workspace_id) {
                return Err(workspace_not_found());
            }
            Ok(Caller {
                actor: Actor::ApiKey {
                    key_id: holder.key_id,
                },
                workspace: Some((holder.workspace_id, holder.role)),
                first_workspace: is_first(state, holder.workspace_id).await?,
            })
        }
        Credentials::AccessToken(token) => {
            let principal = state
                .access_tokens
                .verify(token)
                .map_err(|e| ApiError::Unauthenticated(e.to_string()))?;
            let user = state
                .accounts
                .account(principal.user_id)
                .await?
                .filter(|user| user.sessions().contains_key(&principal.session_id))
                .ok_or_else(|| ApiError::Unauthenticated("the session has ended".to_owned()))?;
            let actor = Actor::User {
                user_id: principal.user_id,
                session_id: principal.session_id,
            };
            let chosen = named
                .or(principal.workspace_id)
                .or_else(|| user.workspaces().first().copied());
            let Some(workspace_id) = chosen.filter(|_| in_workspace) else {
                return Ok(Caller {
                    actor,
                    workspace: None,
                    first_workspace: false,
                });
            };
            let role = state
                .workspaces
                .workspace(workspace_id)
                .await?
                .and_then(|workspace| workspace.role_of(principal.user_id))
                .ok_or_else(workspace_not_found)?;
            Ok(Caller {
                actor,
                workspace: Some((workspace_id, role)),
                first_workspace: is_first(state, workspace_id).await?,
            })
        }
    }
}

/// Whether `workspace_id` is the installation's first workspace.
async fn is_first(state: &AppState, workspace_id: WorkspaceId) -> Result<bool, ApiError> {
    Ok(state.workspaces.first_workspace().await? == Some(workspace_id))
}
