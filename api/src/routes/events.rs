//! History queries: one aggregate's stream, and the global log in position order.
//! These read the event store itself, so they are always current.

use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use flowforge_infra::event_store::{EventMetadata, RecordedEvent, StreamId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{request_context::Authenticated, shared_responses::ParameterErrors};
use crate::{
    error::{ApiError, ErrorBody},
    extract::{PathParams, QueryParams},
    log_position::LogPosition,
    state::AppState,
};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read_stream))
        .routes(routes!(read_log))
}

/// One stored event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventResponse {
    /// Unique forever.
    pub event_id: Uuid,
    /// Its place in the global log.
    pub position: u64,
    /// The aggregate type of its stream.
    pub aggregate_type: String,
    /// The aggregate id of its stream.
    pub aggregate_id: String,
    /// Its version within the stream.
    pub version: u64,
    /// e.g. `WorkflowActivated`.
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// The event's data.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Tenant, actor, correlation id, causation id, traceparent.
    #[schema(value_type = Object)]
    pub metadata: EventMetadata,
    /// When it was committed.
    pub recorded_at: DateTime<Utc>,
}

impl From<RecordedEvent> for EventResponse {
    fn from(event: RecordedEvent) -> Self {
        Self {
            event_id: event.event_id,
            position: event.position,
            aggregate_type: event.stream.aggregate_type().to_owned(),
            aggregate_id: event.stream.aggregate_id().to_owned(),
            version: event.version,
            event_type: event.event_type,
            schema_version: event.schema_version,
            payload: event.payload,
            metadata: event.metadata,
            recorded_at: event.recorded_at,
        }
    }
}

/// A stream's whole history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StreamResponse {
    /// The aggregate type.
    pub aggregate_type: String,
    /// The aggregate id.
    pub aggregate_id: String,
    /// The stream's current version.
    pub version: u64,
    /// Its events, oldest first.
    pub events: Vec<EventResponse>,
}

/// A page of the global log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    /// Events in position order.
    pub events: Vec<EventResponse>,
    /// Pass as `after` for the next page (the last position returned, or `after` if none).
    pub next_after: u64,
    /// The store's newest position.
    pub head: u64,
}

/// Paging through the global log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Only events after this position (default 0: from the start).
    #[serde(default)]
    #[param(schema_with = crate::log_position::after_schema)]
    after: LogPosition,
    /// At most this many events, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

const DEFAULT_LOG_PAGE: usize = 100;
const MAX_LOG_PAGE: usize = 1000;

/// The events that made an aggregate what it is, oldest first.
#[utoipa::path(
    get, path = "/api/v1/streams/{aggregate_type}/{id}", tag = "events",
    params(
        ("aggregate_type" = String, Path, description = "e.g. `workflow`"),
        ("id" = String, Path, description = "The aggregate id"),
    ),
    responses(
        (status = 200, description = "The stream", body = StreamResponse),
        (status = 404, description = "No such stream", body = ErrorBody),
    )
)]
async fn read_stream(
    State(state): State<AppState>,
    PathParams((aggregate_type, id)): PathParams<(String, String)>,
    Authenticated(caller): Authenticated,
) -> Result<Json<StreamResponse>, ApiError> {
    let not_found = || ApiError::NotFound(format!("stream {aggregate_type}/{id}"));
    let stream = StreamId::new(aggregate_type.as_str(), id.as_str()).map_err(|_| not_found())?;
    let events = state.store.read_stream(&stream, 0).await?;
    let Some(version) = events.last().map(|e| e.version) else {
        return Err(not_found());
    };
    // A stream belongs to the tenant of its first event.
    let scope = caller.scope()?;
    if !events
        .first()
        .is_some_and(|first| scope.contains(&first.metadata.tenant_id))
    {
        return Err(not_found());
    }
    Ok(Json(StreamResponse {
        aggregate_type: stream.aggregate_type().to_owned(),
        aggregate_id: stream.aggregate_id().to_owned(),
        version,
        events: events.into_iter().map(EventResponse::from).collect(),
    }))
}

/// The global event log in position order, in pages.
#[utoipa::path(
    get, path = "/api/v1/events", tag = "events",
    params(LogParams),
    responses(
        ParameterErrors,
        (status = 200, description = "A page of the log", body = LogPage),
    )
)]
async fn read_log(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    QueryParams(params): QueryParams<LogParams>,
) -> Result<Json<LogPage>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_LOG_PAGE);
    if !(1..=MAX_LOG_PAGE).contains(&limit) {
        return Err(ApiError::InvalidParameter(format!(
            "limit must be between 1 and {MAX_LOG_PAGE}"
        )));
    }
    let head = state.store.head().await?;
    let events = state.store.read_all(params.after.get(), limit).await?;
    let next_after = events.last().map_or(params.after.get(), |e| e.position);
    // Other workspaces' events are left out; paging still walks the whole log.
    let scope = caller.scope()?;
    Ok(Json(LogPage {
        events: events
            .into_iter()
            .filter(|e| scope.contains(&e.metadata.tenant_id))
            .map(EventResponse::from)
            .collect(),
        next_after,
        head,
    }))
}
