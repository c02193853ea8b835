//! Executions: start one by hand, read it node by node, cancel it.

use std::time::Duration;

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use flowforge_domain::{
    execution::{Execution, ExecutionId, Item, Trigger, TriggerKind},
    workflow::{Workflow, WorkflowId},
};
use flowforge_engine::{
    backlog::StartMode,
    execution_controls::{cancel, resume_with_token, retry, start_requested, RequestedStart},
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    request_context::{Authenticated, RequestMetadata},
    shared_responses::{ConsistencyErrors, JsonBodyErrors},
    workspace_scope::ensure_in_workspace,
};
use crate::{
    error::{ApiError, ErrorBody},
    execution_watch,
    extract::{OptionalJsonBody, PathParams, QueryParams},
    idempotency::{IdempotencyKey, IDEMPOTENT_REPLAYED},
    log_position::LogPosition,
    paging::{self, check_status, page_limit, split_page},
    state::AppState,
};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_execution))
        .routes(routes!(list_executions))
        .routes(routes!(get_execution))
        .routes(routes!(cancel_execution))
        .routes(routes!(retry_execution))
        .routes(routes!(resume_execution))
}

/// How long `?wait=true` waits at most.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Input for a manual run.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The trigger node's input items (JSON objects); one empty item if absent.
    #[schema(value_type = Option<Vec<Object>>)]
    pub input: Option<Vec<Value>>,
}

/// `?wait=true`: answer when the execution has ended (bounded).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartParams {
    /// Wait for the end (at most `timeout_ms`, default and maximum 60 s).
    #[serde(default)]
    wait: bool,
    /// How long to wait, in milliseconds.
    timeout_ms: Option<u64>,
}

/// A started execution.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionStarted {
    /// The execution's id.
    pub execution_id: Uuid,
    /// Its status when answered (`running` unless waited for).
    pub status: String,
    /// With `wait=true`: the last node's outputs.
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    /// With `wait=true` and a failure: what failed.
    #[schema(value_type = Option<Object>)]
    pub failure: Option<Value>,
}

fn parse_items(input: Option<Vec<Value>>) -> Result<Vec<Item>, ApiError> {
    let Some(values) = input else {
        return Ok(vec![Item::new()]);
    };
    values
        .into_iter()
        .enumerate()
        .map(|(index, value)| match value {
            Value::Object(item) => Ok(item),
            other => Err(ApiError::InvalidBody(format!(
                "input[{index}] must be a JSON object, not {other}"
            ))),
        })
        .collect()
}

/// Runs a workflow now with the given input items.
#[utoipa::path(
    post, path = "/api/v1/workflows/{id}/executions", tag = "executions",
    params(
        ("id" = Uuid, Path, description = "Workflow id"),
        StartParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Up to 255 visible ASCII characters naming this start: a retry with the same key (for the same workflow), on any instance, starts nothing and answers with the execution the first request started (same id and status code, marked `Idempotent-Replayed: true`)", nullable = false, pattern = r"^[!-~]([ -~]{0,253}[!-~])?$"),
    ),
    request_body = StartRequest,
    responses(
        JsonBodyErrors,
        (status = 202, description = "Started (or, with a known Idempotency-Key, started before)", body = ExecutionStarted),
        (status = 200, description = "With wait=true: ended", body = ExecutionStarted),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 409, description = "Archived workflow", body = ErrorBody),
        (status = 429, description = "The workflow's backlog is full; see Retry-After", body = ErrorBody),
        (status = 503, description = "The execution backlog is full; see Retry-After", body = ErrorBody),
    )
)]
async fn start_execution(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
    QueryParams(params): QueryParams<StartParams>,
    headers: HeaderMap,
    RequestMetadata(metadata): RequestMetadata,
    OptionalJsonBody(body): OptionalJsonBody<StartRequest>,
) -> Result<Response, ApiError> {
    let workflow_id: WorkflowId = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("workflow {id}")))?;
    ensure_in_workspace::<Workflow>(&state, &caller, &workflow_id.to_string(), "workflow").await?;
    let key = IdempotencyKey::from_headers(&headers)?;
    let input = parse_items(body.and_then(|b| b.input))?;
    let trigger = Trigger::new(TriggerKind::Manual);
    let request = RequestedStart {
        workflow_id,
        trigger,
        input,
        require_active: false,
        mode: if params.wait {
            StartMode::Waiting
        } else {
            StartMode::FireAndForget
        },
        idempotent_id: key.map(|key| key.execution_id(workflow_id)),
        metadata: &metadata,
    };
    let started = start_requested(&state.commands, &state.backlog, request).await?;
    let mut response = started_response(&state, started.execution_id, &params).await?;
    if started.replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The answer about a started execution: at once, or (`wait=true`) when it
/// has ended or the wait is over.
async fn started_response(
    state: &AppState,
    execution_id: ExecutionId,
    params: &StartParams,
) -> Result<Response, ApiError> {
    if !params.wait {
        let started = ExecutionStarted {
            execution_id: execution_id.as_uuid(),
            status: "running".to_owned(),
            output: None,
            failure: None,
        };
        return Ok((StatusCode::ACCEPTED, Json(started)).into_response());
    }
    let timeout = params
        .timeout_ms
        .map_or(MAX_WAIT, Duration::from_millis)
        .min(MAX_WAIT);
    let (execution, ended) = execution_watch::wait_for_end(state, execution_id, timeout).await?;
    let status = if ended {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let body = ExecutionStarted {
        execution_id: execution_id.as_uuid(),
        status: execution.status().as_str().to_owned(),
        output: execution.output().map(|o| json!(o)),
        failure: execution.failure().map(|f| json!(f)),
    };
    Ok((status, Json(body)).into_response())
}

/// An execution node by node: status, timings, each node's attempts with their
/// input, outputs and errors.
#[utoipa::path(
    get, path = "/api/v1/executions/{id}", tag = "executions",
    params(("id" = Uuid, Path, description = "Execution id")),
    responses(
        (status = 200, description = "The execution", body = Object),
        (status = 404, description = "No such execution", body = ErrorBody),
    )
)]
async fn get_execution(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let id = execution_watch::parse_execution_id(&id)?;
    ensure_in_workspace::<Execution>(&state, &caller, &id.to_string(), "execution").await?;
    let execution = execution_watch::load(&state, id).await?;
    let saga = execution_watch::has_saga(&state, id, &execution)
        .await?
        .then(|| format!("/api/v1/sagas/{id}"));
    Ok(Json(json!({
        "id": id,
        "saga": saga,
        "workflow_id": execution.workflow_id(),
        "definition_version": execution.definition_version(),
        "status": execution.status(),
        "trigger": execution.trigger(),
        "input": execution.input(),
        "requested_at": execution.requested_at(),
        "finished_at": execution.finished_at(),
        "duration_ms": execution.duration().map(|d| d.num_milliseconds()),
        "last_node": execution.last_node(),
        "output": execution.output(),
        "failure": execution.failure(),
        "cancellation": execution.cancellation(),
        "nodes": execution.node_runs(),
    })))
}

/// Why an execution is cancelled.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Recorded with the cancellation.
    pub reason: Option<String>,
}

/// Cancels a running, queued or waiting execution.
#[utoipa::path(
    post, path = "/api/v1/executions/{id}/cancel", tag = "executions",
    params(("id" = Uuid, Path, description = "Execution id")),
    request_body = CancelRequest,
    responses(
        JsonBodyErrors,
        (status = 200, description = "Cancelled", body = Object),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 409, description = "Already finished", body = ErrorBody),
    )
)]
async fn cancel_execution(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    OptionalJsonBody(body): OptionalJsonBody<CancelRequest>,
) -> Result<Json<Value>, ApiError> {
    let id = execution_watch::parse_execution_id(&id)?;
    ensure_in_workspace::<Execution>(&state, &caller, &id.to_string(), "execution").await?;
    let reason = body
        .and_then(|b| b.reason)
        .unwrap_or_else(|| "cancelled by request".to_owned());
    let position = cancel(&state.commands, id, reason, &metadata).await?;
    Ok(Json(
        json!({"execution_id": id, "status": "cancelled", "position": position}),
    ))
}

/// Retries a failed or cancelled execution as a new one: the successful
/// nodes' outputs are reused, and the run goes on from the node that failed.
#[utoipa::path(
    post, path = "/api/v1/executions/{id}/retry", tag = "executions",
    params(("id" = Uuid, Path, description = "The failed execution's id")),
    responses(
        (status = 202, description = "The retry started", body = Object),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 409, description = "Not failed or cancelled", body = ErrorBody),
    )
)]
async fn retry_execution(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<Response, ApiError> {
    let id = execution_watch::parse_execution_id(&id)?;
    ensure_in_workspace::<Execution>(&state, &caller, &id.to_string(), "execution").await?;
    let execution_id = retry(&state.commands, id, &metadata).await?;
    let body = json!({"execution_id": execution_id, "retry_of": id, "status": "running"});
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Filters and paging for the execution list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this workflow's executions.
    workflow_id: Option<Uuid>,
    /// Only this status: running, queued, waiting, succeeded, failed, cancelled.
    #[param(schema_with = status_schema)]
    status: Option<String>,
    /// Requested at or after this time (RFC 3339).
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Requested before this time (RFC 3339).
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// The `next_after` of the previous page.
    after: Option<Uuid>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Wait until the list reflects this log position (bounded: 503 after the consistency timeout; 409 at once for a position beyond the log's head).
    #[param(schema_with = crate::log_position::consistent_with_schema)]
    consistent_with: Option<LogPosition>,
}

/// A page of executions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionPage {
    /// Executions in id (time) order.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<Uuid>,
}

const STATUSES: [&str; 6] = [
    "running",
    "queued",
    "waiting",
    "succeeded",
    "failed",
    "cancelled",
];

/// The `status` filter's schema: one of [`STATUSES`].
fn status_schema() -> utoipa::openapi::Object {
    paging::status_schema(&STATUSES, "Only this status.")
}

/// Lists executions, filtered by workflow, status and time, in pages.
#[utoipa::path(
    get, path = "/api/v1/executions", tag = "executions",
    params(ListParams),
    responses(
        ConsistencyErrors,
        (status = 200, description = "A page of executions", body = ExecutionPage),
    )
)]
async fn list_executions(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<ExecutionPage>, ApiError> {
    let limit = page_limit(params.limit, 50, 500)?;
    check_status(params.status.as_deref(), &STATUSES)?;
    state
        .consistent_with(
            flowforge_infra::read_model::EXECUTIONS_PROJECTION,
            params.consistent_with.map(LogPosition::get),
        )
        .await?;
    let rows = state
        .executions
        .list(&flowforge_infra::read_model::ExecutionQuery {
            workflow_id: params.workflow_id,
            status: params.status,
            from: params.from,
            to: params.to,
            after: params.after,
            limit: limit + 1,
            scope: Some(caller.scope()?),
        })
        .await?;
    let (rows, next_after) = split_page(rows, limit, |row| row.id);
    let items = rows.iter().map(|row| json!(row)).collect();
    Ok(Json(ExecutionPage { items, next_after }))
}

/// Resumes a Wait node waiting for a call (`resume: webhook`). The request's
/// JSON body becomes the node's output item. The token is a secret no query
/// shows: the workflow hands the link on from the nodes before the wait as
/// `$execution.resumeUrl` (this path; prefix the server's public URL). A token
/// resumes once, and the resumption is recorded with the signed-in caller.
#[utoipa::path(
    post, path = "/api/v1/executions/{id}/resume/{token}", tag = "executions",
    params(
        ("id" = Uuid, Path, description = "Execution id"),
        ("token" = String, Path, description = "The waiting node's resume token, from `$execution.resumeUrl`"),
    ),
    request_body(content = Object, description = "Becomes the Wait node's output item"),
    responses(
        JsonBodyErrors,
        (status = 200, description = "Resumed", body = Object),
        (status = 404, description = "No such execution, or no node waits for this token (a wrong token, or one already used)", body = ErrorBody),
        (status = 409, description = "Another call with this token resumed the node first", body = ErrorBody),
    )
)]
async fn resume_execution(
    State(state): State<AppState>,
    PathParams((id, token)): PathParams<(String, String)>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    OptionalJsonBody(body): OptionalJsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = execution_watch::parse_execution_id(&id)?;
    ensure_in_workspace::<Execution>(&state, &caller, &id.to_string(), "execution").await?;
    let item = match body {
        Some(Value::Object(item)) => item,
        Some(other) => Item::from_iter([("data".to_owned(), other)]),
        None => Item::new(),
    };
    let (node, position) = resume_with_token(&state.commands, id, &token, item, &metadata).await?;
    Ok(Json(
        json!({"execution_id": id, "node": node, "position": position}),
    ))
}
