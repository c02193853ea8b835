//! Sagas: list them by state, read one step by step, and the operator's two
//! controls — resume a parked saga, or mark its parked step compensated by hand.

use axum::{extract::State, Json};
use flowforge_domain::{
    execution::{Execution, ExecutionId},
    saga::Saga,
};
use flowforge_infra::read_model::{SagaQuery, SAGAS_PROJECTION};
use flowforge_sagas::{load_saga, resume_parked, skip_parked_step};
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
    extract::{JsonBody, PathParams, QueryParams},
    log_position::LogPosition,
    paging::{self, check_status, page_limit, split_page},
    state::AppState,
};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sagas))
        .routes(routes!(get_saga))
        .routes(routes!(retry_saga))
        .routes(routes!(skip_step))
}

const STATUSES: [&str; 5] = ["open", "compensating", "parked", "compensated", "closed"];

/// The `status` filter's schema: one of [`STATUSES`].
fn status_schema() -> utoipa::openapi::Object {
    paging::status_schema(&STATUSES, "Only sagas in this state.")
}

/// Filters and paging for the saga list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SagaListParams {
    /// Only this state: open, compensating, parked, compensated, closed.
    #[param(schema_with = status_schema)]
    status: Option<String>,
    /// The `next_after` of the previous page.
    after: Option<Uuid>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Wait until the list reflects this log position (bounded: 503 after the consistency timeout; 409 at once for a position beyond the log's head).
    #[param(schema_with = crate::log_position::consistent_with_schema)]
    consistent_with: Option<LogPosition>,
}

/// A page of sagas.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SagaPage {
    /// Sagas in id order.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<Uuid>,
}

/// Lists sagas, filtered by state, in pages.
#[utoipa::path(
    get, path = "/api/v1/sagas", tag = "sagas",
    params(SagaListParams),
    responses(
        ConsistencyErrors,
        (status = 200, description = "A page of sagas", body = SagaPage),
    )
)]
async fn list_sagas(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    QueryParams(params): QueryParams<SagaListParams>,
) -> Result<Json<SagaPage>, ApiError> {
    let limit = page_limit(params.limit, 50, 500)?;
    check_status(params.status.as_deref(), &STATUSES)?;
    state
        .consistent_with(
            SAGAS_PROJECTION,
            params.consistent_with.map(LogPosition::get),
        )
        .await?;
    let rows = state
        .sagas
        .list(&SagaQuery {
            status: params.status,
            after: params.after,
            limit: limit + 1,
            scope: Some(caller.scope()?),
        })
        .await?;
    let (rows, next_after) = split_page(rows, limit, |row| row.id);
    let items = rows.iter().map(|row| json!(row)).collect();
    Ok(Json(SagaPage { items, next_after }))
}

fn parse_id(id: &str) -> Result<ExecutionId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::NotFound(format!("saga {id}")))
}

async fn load(state: &AppState, id: ExecutionId) -> Result<(Saga, u64), ApiError> {
    Ok(load_saga(&state.commands, id).await?)
}

fn view(id: ExecutionId, saga: &Saga, version: u64) -> Value {
    json!({
        "id": id,
        "execution_id": id,
        "execution": format!("/api/v1/executions/{id}"),
        "version": version,
        "saga": saga,
        "next_step": saga.next_step().map(|s| &s.step),
    })
}

/// One saga: its state, why it compensates, and each step — done,
/// compensated, failed or skipped — with its attempts and errors.
#[utoipa::path(
    get, path = "/api/v1/sagas/{id}", tag = "sagas",
    params(("id" = Uuid, Path, description = "The saga's (and its execution's) id")),
    responses(
        (status = 200, description = "The saga", body = Object),
        (status = 404, description = "No such saga", body = ErrorBody),
    )
)]
async fn get_saga(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    ensure_in_workspace::<Execution>(&state, &caller, &id.to_string(), "saga").await?;
    let (saga, version) = load(&state, id).await?;
    Ok(Json(view(id, &saga, version)))
}

/// Resumes a parked saga: its parked step is tried again with a fresh round
/// of tries, then the steps before it.
#[utoipa::path(
    post, path = "/api/v1/sagas/{id}/retry", tag = "sagas",
    params(("id" = Uuid, Path, description = "The saga's id")),
    responses(
        (status = 200, description = "Resumed", body = Object),
        (status = 404, description = "No such saga", body = ErrorBody),
        (status = 409, description = "Not parked", body = ErrorBody),
    )
)]
async fn retry_saga(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    ensure_in_workspace::<Execution>(&state, &caller, &id.to_string(), "saga").await?;
    let position = resume_parked(&state.commands, id, &metadata).await?;
    answer(&state, id, position).await
}

/// Which step an operator marks compensated, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkipStepRequest {
    /// The parked step.
    pub step: String,
    /// Recorded with the skip.
    pub reason: Option<String>,
}

/// Marks the parked step compensated by hand (recorded with the actor); the
/// steps before it are then compensated as usual.
#[utoipa::path(
    post, path = "/api/v1/sagas/{id}/skip-step", tag = "sagas",
    params(("id" = Uuid, Path, description = "The saga's id")),
    request_body = SkipStepRequest,
    responses(
        JsonBodyErrors,
        (status = 200, description = "Skipped", body = Object),
        (status = 404, description = "No such saga", body = ErrorBody),
        (status = 409, description = "Not parked, or not the parked step", body = ErrorBody),
    )
)]
async fn skip_step(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
    RequestMetadata(metadata): RequestMetadata,
    JsonBody(body): JsonBody<SkipStepRequest>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    ensure_in_workspace::<Execution>(&state, &caller, &id.to_string(), "saga").await?;
    let position = skip_parked_step(&state.commands, id, body.step, body.reason, &metadata).await?;
    answer(&state, id, position).await
}

/// The saga as a control left it, with the control's log position.
async fn answer(state: &AppState, id: ExecutionId, position: u64) -> Result<Json<Value>, ApiError> {
    let (saga, version) = load(state, id).await?;
    let mut body = view(id, &saga, version);
    body["position"] = json!(position);
    Ok(Json(body))
}
