//! Who may call which route: one table, [`rule`], naming for every route of
//! the API what it needs (nothing, a signed-in account, or a permission in
//! a workspace), and the middleware that enforces it. A route missing from
//! the table answers 500 rather than run unguarded, and a test checks the
//! table against the OpenAPI document, so a new route cannot ship open by
//! accident.

use axum::{
    extract::{MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::{IntoResponse, Response},
};
use flowforge_domain::workspace::{Permission, WorkspaceId};

use crate::{
    authentication::{authenticate, WorkspaceChoice},
    error::ApiError,
    state::AppState,
};

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: probes, metrics, the API document, signing in, and webhooks
    /// (which carry their own checks).
    Public,
    /// A signed-in account (an access token), in no particular workspace.
    Account,
    /// A permission in the workspace the request acts in.
    Workspace(Permission),
    /// The same, held by a signed-in account (not an API key): keys do not
    /// make keys.
    AccountInWorkspace(Permission),
    /// A permission in the workspace the path names (`/workspaces/{id}/…`).
    WorkspaceInPath(Permission),
}

/// The rule for `method` on the route template `route` (as the router and
/// the OpenAPI document spell it); `None` for a route nobody wrote one for.
pub fn rule(method: &Method, route: &str) -> Option<Access> {
    use Access::{Account, AccountInWorkspace, Public, Workspace, WorkspaceInPath};
    use Permission::{Administer, Edit, Own, Read, Run};
    let rule = match (method.as_str(), route) {
        ("GET", "/health/live" | "/health/ready" | "/metrics" | "/api/v1/openapi.json") => Public,
        ("POST", "/api/v1/auth/register" | "/api/v1/auth/login" | "/api/v1/auth/refresh") => Public,
        (_, "/webhook/{*path}" | "/workspaces/{workspace_id}/webhook/{*path}") => Public,
        ("GET", "/api/docs" | "/api/docs/{file}") => Public,
        // The provider sends the user's browser here; the sealed state is
        // the authority.
        ("GET", "/api/v1/oauth2/callback") => Public,
        ("POST", "/api/v1/auth/logout" | "/api/v1/invitations/accept") => Account,
        ("GET", "/api/v1/me") => Account,
        ("POST", "/api/v1/me/password") | ("DELETE", "/api/v1/me/sessions/{id}") => Account,
        ("POST", "/api/v1/me/totp" | "/api/v1/me/totp/confirm" | "/api/v1/me/totp/disable") => {
            Account
        }
        ("GET" | "POST", "/api/v1/workspaces") => Account,
        ("POST", "/api/v1/workspaces/{id}/invitations") => WorkspaceInPath(Administer),
        ("GET", "/api/v1/workspaces/{id}/members" | "/api/v1/workspaces/{id}/members/{user}") => {
            WorkspaceInPath(Read)
        }
        ("PATCH" | "DELETE", "/api/v1/workspaces/{id}/members/{user}") => {
            WorkspaceInPath(Administer)
        }
        ("POST", "/api/v1/api-keys") => AccountInWorkspace(Administer),
        ("POST", "/api/v1/credentials/{id}/shares")
        | ("DELETE", "/api/v1/credentials/{id}/shares/{workspace_id}") => Workspace(Administer),
        ("GET", "/api/v1/api-keys") | ("DELETE", "/api/v1/api-keys/{id}") => Workspace(Administer),
        (
            "GET",
            "/api/v1/workflows"
            | "/api/v1/workflows/{id}"
            | "/api/v1/executions"
            | "/api/v1/executions/{id}"
            | "/api/v1/executions/{id}/stream"
            | "/api/v1/sagas"
            | "/api/v1/sagas/{id}"
            | "/api/v1/audit"
            | "/api/v1/credentials"
            | "/api/v1/credentials/{id}"
            | "/api/v1/variables",
        ) => Workspace(Read),
        (
            "POST",
            "/api/v1/workflows/{id}/executions" | "/api/v1/executions/{id}/resume/{token}",
        ) => Workspace(Run),
        ("POST", "/api/v1/workflows" | "/api/v1/credentials")
        | (
            "PUT" | "DELETE",
            "/api/v1/workflows/{id}" | "/api/v1/credentials/{id}" | "/api/v1/variables/{name}",
        )
        | (
            "POST",
            "/api/v1/workflows/{id}/activate"
            | "/api/v1/workflows/{id}/deactivate"
            | "/api/v1/executions/{id}/cancel"
            | "/api/v1/executions/{id}/retry"
            | "/api/v1/sagas/{id}/retry"
            | "/api/v1/sagas/{id}/skip-step"
            | "/api/v1/credentials/{id}/test"
            | "/api/v1/credentials/{id}/oauth2/authorize",
        ) => Workspace(Edit),
        // The raw log, any stream and the projections span every workspace
        // (and hold account and key hashes): owners only.
        (
            "GET",
            "/api/v1/events" | "/api/v1/streams/{aggregate_type}/{id}" | "/api/v1/projections",
        ) => Workspace(Own),
        _ => return None,
    };
    Some(rule)
}

/// Enforces [`rule`]: authenticates the caller where the route needs one,
/// checks its permission, and puts the [`Caller`](crate::authentication::Caller)
/// into the request for the handler.
pub async fn enforce(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(route) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
    else {
        return next.run(request).await;
    };
    let Some(access) = rule(request.method(), &route) else {
        return ApiError::Internal(format!(
            "route {} {route} has no access rule",
            request.method()
        ))
        .into_response();
    };
    let (choice, needs) = match access {
        Access::Public => return next.run(request).await,
        Access::Account => (WorkspaceChoice::None, None),
        Access::Workspace(needs) | Access::AccountInWorkspace(needs) => {
            (WorkspaceChoice::FromHeaders, Some(needs))
        }
        Access::WorkspaceInPath(needs) => match workspace_in_path(request.uri().path()) {
            Some(workspace_id) => (WorkspaceChoice::Named(workspace_id), Some(needs)),
            None => return ApiError::NotFound("workspace".to_owned()).into_response(),
        },
    };
    let caller = match authenticate(&state, request.headers(), choice).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    if matches!(access, Access::Account | Access::AccountInWorkspace(_)) {
        if let Err(error) = caller.account() {
            return error.into_response();
        }
    }
    if let Some(needs) = needs {
        let role = match caller.in_workspace() {
            Ok((_, role)) => role,
            Err(error) => return error.into_response(),
        };
        if !role.allows(needs) {
            return ApiError::Forbidden { role, needs }.into_response();
        }
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The workspace id in `/api/v1/workspaces/{id}/…`.
fn workspace_in_path(path: &str) -> Option<WorkspaceId> {
    path.strip_prefix("/api/v1/workspaces/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}
