//! Workflow commands (create, update, activate, deactivate, archive) and queries
//! (list, read). Handlers parse, call the command bus or the read model, map.

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use chrono::{DateTime, Utc};
use flowforge_commands::workflow_lifecycle::run_lifecycle;
use flowforge_domain::workflow::{
    RawWorkflowDefinition, Workflow, WorkflowCommand, WorkflowDefinition, WorkflowId,
    WorkflowLimits,
};
use flowforge_infra::{
    event_store::EventMetadata,
    read_model::{WorkflowListQuery, WorkflowStatus, WorkflowView, WORKFLOWS_PROJECTION},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    request_context::{Authenticated, RequestMetadata},
    shared_responses::{ConsistencyErrors, JsonBodyErrors, ParameterErrors},
    workflow_schema::{whole_numbers_as_integers, WorkflowRequest},
    workspace_scope::ensure_in_workspace,
};
use crate::{
    authentication::Caller,
    error::{ApiError, ErrorBody},
    extract::{JsonBody, PathParams, QueryParams},
    log_position::LogPosition,
    paging::{page_limit, split_page},
    state::AppState,
};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_workflow, list_workflows))
        .routes(routes!(get_workflow, update_workflow, archive_workflow))
        .routes(routes!(activate_workflow))
        .routes(routes!(deactivate_workflow))
}

/// What a command left behind.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CommandAccepted {
    /// The workflow.
    pub id: Uuid,
    /// The workflow's version after the command (send it back as `If-Match`).
    pub version: u64,
    /// The event log position of the change: pass it as `consistent_with` to read it back.
    pub position: u64,
}

/// A workflow as queries return it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkflowResponse {
    /// The workflow's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// `inactive`, `active` or `archived`.
    pub status: String,
    /// Whether its triggers fire.
    pub active: bool,
    /// Its tags.
    pub tags: Vec<String>,
    /// The optimistic-concurrency version (also the `ETag`).
    pub version: u64,
    /// The definition's revision; executions pin it.
    pub definition_version: u32,
    /// The definition.
    #[schema(value_type = Object)]
    pub definition: Value,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The log position this view reflects.
    pub position: u64,
}

impl From<WorkflowView> for WorkflowResponse {
    fn from(view: WorkflowView) -> Self {
        Self {
            id: view.id,
            name: view.name,
            status: view.status.as_str().to_owned(),
            active: view.status == WorkflowStatus::Active,
            tags: view.tags,
            version: view.version,
            definition_version: view.definition_version,
            definition: view.definition,
            created_at: view.created_at,
            updated_at: view.updated_at,
            position: view.position,
        }
    }
}

/// One page of workflows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkflowPage {
    /// The workflows, in id (creation) order.
    pub items: Vec<WorkflowResponse>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<Uuid>,
}

/// Filters and paging for the workflow list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only active (`true`) or inactive (`false`) workflows.
    active: Option<bool>,
    /// Only workflows with this tag.
    tag: Option<String>,
    /// Include archived workflows.
    #[serde(default)]
    include_archived: bool,
    /// The `next_after` of the previous page.
    after: Option<Uuid>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Wait until the read model reflects this log position (bounded: 503 after the consistency timeout; 409 at once for a position beyond the log's head).
    #[param(schema_with = crate::log_position::consistent_with_schema)]
    consistent_with: Option<LogPosition>,
}

/// Read-your-writes for single reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyParams {
    /// Wait until the read model reflects this log position (bounded: 503 after the consistency timeout; 409 at once for a position beyond the log's head).
    #[param(schema_with = crate::log_position::consistent_with_schema)]
    consistent_with: Option<LogPosition>,
}

/// The projection behind these queries.
const WORKFLOWS: &str = WORKFLOWS_PROJECTION;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

/// A workflow request body, parsed: a valid definition and the fields beside it.
struct ParsedWorkflowBody {
    definition: WorkflowDefinition,
    tags: Option<Vec<String>>,
    expected_version: Option<u64>,
}

/// Splits a request body into the definition (checked against `limits`), tags
/// and expected version.
fn parse_workflow_body(
    body: Value,
    limits: &WorkflowLimits,
) -> Result<ParsedWorkflowBody, ApiError> {
    let Value::Object(mut fields) = body else {
        return Err(ApiError::InvalidBody("expected a JSON object".to_owned()));
    };
    whole_numbers_as_integers(&mut fields);
    let tags = take_field::<Vec<String>>(&mut fields, "tags")?;
    let expected_version = take_field::<u64>(&mut fields, "expected_version")?;
    let raw: RawWorkflowDefinition = serde_json::from_value(Value::Object(fields))
        .map_err(|e| ApiError::InvalidBody(e.to_string()))?;
    Ok(ParsedWorkflowBody {
        definition: WorkflowDefinition::parse_within(raw, limits)?,
        tags,
        expected_version,
    })
}

fn take_field<T: serde::de::DeserializeOwned>(
    fields: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| ApiError::InvalidBody(format!("{name}: {e}"))),
    }
}

fn parse_id(id: &str) -> Result<WorkflowId, ApiError> {
    id.parse::<WorkflowId>()
        .map_err(|_| ApiError::NotFound(format!("workflow {id}")))
}

/// What the `If-Match` header asks for.
enum IfMatch {
    /// No header.
    Absent,
    /// `If-Match: *`: change whatever the current version is.
    Any,
    /// `If-Match: "3"` (or `3`, or `W/"3"`): only if at this version.
    Version(u64),
}

impl IfMatch {
    /// The version a command must find, if any.
    fn expected(&self) -> Option<u64> {
        match self {
            IfMatch::Version(version) => Some(*version),
            IfMatch::Absent | IfMatch::Any => None,
        }
    }
}

/// The `If-Match` header as the document states it: `*`, or a version as a
/// strong (`"3"`) or weak (`W/"3"`) entity tag or bare (`3`).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documents the header; `if_match` reads it
struct IfMatchHeader {
    /// The version being changed (`"3"`, `W/"3"` or `3`), or `*` for any.
    /// Optional, except that a `PUT` needs it or `expected_version` in the body.
    #[param(
        rename = "If-Match",
        required = false,
        pattern = r#"^[ \t]*(\*|(W/)?"[0-9]+"|[0-9]+)[ \t]*$"#
    )]
    if_match: String,
}

fn if_match(headers: &HeaderMap) -> Result<IfMatch, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(IfMatch::Absent);
    };
    let invalid = || {
        ApiError::InvalidParameter(format!(
            "If-Match {value:?} is not *, \"<version>\", W/\"<version>\" or <version>"
        ))
    };
    let tag = value
        .to_str()
        .map_err(|_| invalid())?
        .trim_matches([' ', '\t']);
    if tag == "*" {
        return Ok(IfMatch::Any);
    }
    let digits = tag
        .strip_prefix("W/")
        .unwrap_or(tag)
        .strip_prefix('"')
        .and_then(|quoted| quoted.strip_suffix('"'))
        .unwrap_or(tag);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    // A version too large for u64 is well formed and matches no workflow: the
    // command answers with a version conflict, as for any other stale version.
    Ok(IfMatch::Version(digits.parse().unwrap_or(u64::MAX)))
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn accepted(status: StatusCode, id: WorkflowId, version: u64, position: u64) -> Response {
    let mut response = (
        status,
        Json(CommandAccepted {
            id: id.as_uuid(),
            version,
            position,
        }),
    )
        .into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// Runs a command on an existing workflow through the life cycle that keeps
/// webhook routes unique (see [`run_lifecycle`]).
async fn run(
    state: &AppState,
    caller: &Caller,
    id: WorkflowId,
    command: WorkflowCommand,
    expected: Option<u64>,
    metadata: &EventMetadata,
) -> Result<Response, ApiError> {
    let namespace = caller.path_namespace()?;
    let outcome =
        run_lifecycle(&state.commands, &namespace, id, command, expected, metadata).await?;
    state.webhooks.workflow_changed(outcome.position);
    Ok(accepted(
        StatusCode::OK,
        id,
        outcome.stream_version,
        outcome.position,
    ))
}

/// A life-cycle refusal as an API error: a taken webhook route names its holder.
/// Runs a lifecycle command (activate, deactivate, archive) on the workflow in
/// the path, with the optional `If-Match` version.
async fn lifecycle(
    state: &AppState,
    caller: &Caller,
    id: &str,
    headers: &HeaderMap,
    metadata: &EventMetadata,
    command: WorkflowCommand,
) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    ensure_in_workspace::<Workflow>(state, caller, &id.to_string(), "workflow").await?;
    let expected = if_match(headers)?.expected();
    run(state, caller, id, command, expected, metadata).await
}

/// Creates a workflow (inactive) from a definition.
#[utoipa::path(
    post, path = "/api/v1/workflows", tag = "workflows",
    request_body = WorkflowRequest,
    responses(
        JsonBodyErrors,
        (status = 201, description = "Created", body = CommandAccepted),
        (status = 422, description = "Invalid workflow (the node is named), or over a size limit (workflow_too_large: details name the limit, the value and the setting to raise)", body = ErrorBody),
    )
)]
async fn create_workflow(
    axum::extract::State(state): axum::extract::State<AppState>,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let ParsedWorkflowBody {
        definition, tags, ..
    } = parse_workflow_body(body, &state.workflow_limits)?;
    let id = WorkflowId::from_uuid(Uuid::now_v7());
    let command = WorkflowCommand::Create {
        workflow_id: id,
        definition,
        tags: tags.unwrap_or_default(),
    };
    let outcome = state
        .commands
        .execute::<Workflow>(&id.to_string(), command, None, &metadata)
        .await?;
    let mut response = accepted(
        StatusCode::CREATED,
        id,
        outcome.stream_version,
        outcome.position,
    );
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/workflows/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Lists workflows, filtered by status and tag, in pages.
#[utoipa::path(
    get, path = "/api/v1/workflows", tag = "workflows",
    params(ListParams),
    responses(
        ConsistencyErrors,
        (status = 200, description = "A page of workflows", body = WorkflowPage),
    )
)]
async fn list_workflows(
    axum::extract::State(state): axum::extract::State<AppState>,
    Authenticated(caller): Authenticated,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<WorkflowPage>, ApiError> {
    let limit = page_limit(params.limit, DEFAULT_PAGE, MAX_PAGE)?;
    state
        .consistent_with(WORKFLOWS, params.consistent_with.map(LogPosition::get))
        .await?;
    let views = state
        .workflows
        .list(&WorkflowListQuery {
            active: params.active,
            tag: params.tag,
            include_archived: params.include_archived,
            after: params.after,
            limit: limit + 1,
            scope: Some(caller.scope()?),
        })
        .await?;
    let (views, next_after) = split_page(views, limit, |view| view.id);
    let items: Vec<WorkflowResponse> = views.into_iter().map(WorkflowResponse::from).collect();
    Ok(Json(WorkflowPage { items, next_after }))
}

/// Reads one workflow (archived ones too).
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(("id" = Uuid, Path, description = "Workflow id"), ConsistencyParams),
    responses(
        ConsistencyErrors,
        (status = 200, description = "The workflow; ETag is its version", body = WorkflowResponse),
        (status = 404, description = "No such workflow", body = ErrorBody),
    )
)]
async fn get_workflow(
    axum::extract::State(state): axum::extract::State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
    QueryParams(params): QueryParams<ConsistencyParams>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    ensure_in_workspace::<Workflow>(&state, &caller, &id.to_string(), "workflow").await?;
    state
        .consistent_with(WORKFLOWS, params.consistent_with.map(LogPosition::get))
        .await?;
    let view = state
        .workflows
        .get(id.as_uuid())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("workflow {id}")))?;
    let version = view.version;
    let mut response = Json(WorkflowResponse::from(view)).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    Ok(response)
}

/// Replaces a workflow's definition (a new definition version), given the version being changed.
#[utoipa::path(
    put, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(("id" = Uuid, Path, description = "Workflow id"), IfMatchHeader),
    request_body = WorkflowRequest,
    responses(
        JsonBodyErrors,
        (status = 200, description = "Updated", body = CommandAccepted),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 409, description = "Stale version (details.current_version), archived, or (active workflow) a webhook route another workflow holds (webhook_path_taken: details name it)", body = ErrorBody),
        (status = 422, description = "Invalid workflow, or over a size limit (workflow_too_large)", body = ErrorBody),
        (status = 428, description = "No expected version given", body = ErrorBody),
    )
)]
async fn update_workflow(
    axum::extract::State(state): axum::extract::State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    ensure_in_workspace::<Workflow>(&state, &caller, &id.to_string(), "workflow").await?;
    let header_version = if_match(&headers)?;
    let ParsedWorkflowBody {
        definition,
        tags,
        expected_version,
    } = parse_workflow_body(body, &state.workflow_limits)?;
    let expected = match (header_version, expected_version) {
        (IfMatch::Version(version), _) => Some(version),
        (IfMatch::Any, _) => None,
        (IfMatch::Absent, Some(version)) => Some(version),
        (IfMatch::Absent, None) => return Err(ApiError::PreconditionRequired),
    };
    let command = WorkflowCommand::UpdateDefinition { definition, tags };
    run(&state, &caller, id, command, expected, &metadata).await
}

/// Turns a workflow's triggers on. A webhook route (method and path) belongs
/// to one active workflow at a time: if another workflow holds one of this
/// workflow's routes, the answer is 409 naming it and nothing changes.
#[utoipa::path(
    post, path = "/api/v1/workflows/{id}/activate", tag = "workflows",
    params(("id" = Uuid, Path, description = "Workflow id"), IfMatchHeader),
    responses(
        ParameterErrors,
        (status = 200, description = "Active (already active is fine)", body = CommandAccepted),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 409, description = "Stale version, archived, or a webhook route another active workflow holds (code webhook_path_taken; details: method, path, workflow_id, workflow_name); nothing changed", body = ErrorBody),
    )
)]
async fn activate_workflow(
    axum::extract::State(state): axum::extract::State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<Response, ApiError> {
    lifecycle(
        &state,
        &caller,
        &id,
        &headers,
        &metadata,
        WorkflowCommand::Activate,
    )
    .await
}

/// Turns a workflow's triggers off.
#[utoipa::path(
    post, path = "/api/v1/workflows/{id}/deactivate", tag = "workflows",
    params(("id" = Uuid, Path, description = "Workflow id"), IfMatchHeader),
    responses(
        ParameterErrors,
        (status = 200, description = "Inactive (already inactive is fine)", body = CommandAccepted),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 409, description = "Stale version or archived", body = ErrorBody),
    )
)]
async fn deactivate_workflow(
    axum::extract::State(state): axum::extract::State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<Response, ApiError> {
    lifecycle(
        &state,
        &caller,
        &id,
        &headers,
        &metadata,
        WorkflowCommand::Deactivate,
    )
    .await
}

/// Archives a workflow: it stops, stays readable with its history, and refuses further changes.
#[utoipa::path(
    delete, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(("id" = Uuid, Path, description = "Workflow id"), IfMatchHeader),
    responses(
        ParameterErrors,
        (status = 200, description = "Archived", body = CommandAccepted),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 409, description = "Stale version or already archived", body = ErrorBody),
    )
)]
async fn archive_workflow(
    axum::extract::State(state): axum::extract::State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<Response, ApiError> {
    lifecycle(
        &state,
        &caller,
        &id,
        &headers,
        &metadata,
        WorkflowCommand::Archive,
    )
    .await
}
