//! The variables of the workspace a request acts in: the values
//! expressions read as `$vars.<name>`. They are not secret (credentials
//! are for secrets): they are shown, exported and recorded in clear.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Utc};
use flowforge_domain::variable::Variables;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

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
        .routes(routes!(list_variables))
        .routes(routes!(set_variable, delete_variable))
}

/// A variable's new value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetVariable {
    /// The value (a string of at most 16 KiB; expressions convert it as
    /// they need, e.g. `Number($vars.limit)`).
    pub value: String,
}

/// A variable.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariableView {
    /// Its name: `$vars.<name>` in expressions.
    pub name: String,
    /// Its value.
    pub value: String,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

fn views(variables: &Variables) -> Vec<VariableView> {
    variables
        .all()
        .iter()
        .map(|(name, variable)| VariableView {
            name: name.clone(),
            value: variable.value.clone(),
            updated_at: variable.updated_at,
        })
        .collect()
}

/// The workspace's variables, by name.
#[utoipa::path(
    get, path = "/api/v1/variables", tag = "variables",
    responses((status = 200, description = "The variables", body = Vec<VariableView>)),
)]
async fn list_variables(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<VariableView>>, ApiError> {
    let variables = state.variables.list(&caller.tenant()?).await?;
    Ok(Json(views(&variables)))
}

/// Creates a variable or gives it a new value; executions that start from
/// now on read it.
#[utoipa::path(
    put, path = "/api/v1/variables/{name}", tag = "variables",
    params(("name" = String, Path, description = "The variable: letters, digits or `_`, not starting with a digit")),
    request_body = SetVariable,
    responses(
        JsonBodyErrors,
        (status = 200, description = "Set", body = VariableView),
        (status = 422, description = "A name expressions cannot write, a value over 16 KiB, or a 501st variable (invalid_variable)", body = ErrorBody),
    ),
)]
async fn set_variable(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<SetVariable>,
) -> Result<Json<VariableView>, ApiError> {
    let tenant = caller.tenant()?;
    state
        .variables
        .set(&tenant, name.clone(), body.value, &metadata)
        .await?;
    let variables = state.variables.list(&tenant).await?;
    views(&variables)
        .into_iter()
        .find(|view| view.name == name)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("variable {name:?}")))
}

/// Removes a variable: `$vars.<name>` is undefined from now on.
#[utoipa::path(
    delete, path = "/api/v1/variables/{name}", tag = "variables",
    params(("name" = String, Path, description = "The variable")),
    responses(
        ParameterErrors,
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such variable in this workspace", body = ErrorBody),
    ),
)]
async fn delete_variable(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<StatusCode, ApiError> {
    state
        .variables
        .delete(&caller.tenant()?, name, &metadata)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
