//! The audit log: who did what to which aggregate, and when.

use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use flowforge_infra::read_model::{AuditEntry, AuditQuery, AUDIT_PROJECTION};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{request_context::Authenticated, shared_responses::ConsistencyErrors};
use crate::{
    error::ApiError,
    extract::QueryParams,
    log_position::LogPosition,
    paging::{page_limit, split_page},
    state::AppState,
};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(read_audit_log))
}

/// One audited change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryResponse {
    /// The event's position in the log.
    pub position: u64,
    /// The event's id.
    pub event_id: Uuid,
    /// The changed aggregate's type.
    pub aggregate_type: String,
    /// The changed aggregate's id.
    pub aggregate_id: String,
    /// The aggregate's version after the change.
    pub version: u64,
    /// What happened.
    pub event_type: String,
    /// The tenant.
    pub tenant_id: String,
    /// Who did it.
    pub actor: Option<String>,
    /// The request or process it belonged to.
    pub correlation_id: Option<Uuid>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditEntryResponse {
    fn from(e: AuditEntry) -> Self {
        Self {
            position: e.position,
            event_id: e.event_id,
            aggregate_type: e.aggregate_type,
            aggregate_id: e.aggregate_id,
            version: e.version,
            event_type: e.event_type,
            tenant_id: e.tenant_id,
            actor: e.actor,
            correlation_id: e.correlation_id,
            recorded_at: e.recorded_at,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// Entries in position order.
    pub entries: Vec<AuditEntryResponse>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<u64>,
}

/// Filters and paging for the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this aggregate type (e.g. `workflow`).
    aggregate_type: Option<String>,
    /// Only this aggregate id.
    aggregate_id: Option<String>,
    /// Only this actor.
    actor: Option<String>,
    /// Recorded at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Recorded before this time (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// The `next_after` of the previous page.
    #[serde(default)]
    #[param(schema_with = crate::log_position::after_schema)]
    after: LogPosition,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Wait until the audit log reflects this log position (bounded: 503 after the consistency timeout; 409 at once for a position beyond the log's head).
    #[param(schema_with = crate::log_position::consistent_with_schema)]
    consistent_with: Option<LogPosition>,
}

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// Who did what to which aggregate, when; filtered by aggregate, actor and time.
#[utoipa::path(get, path = "/api/v1/audit", tag = "events",
    params(AuditParams),
    responses(
        ConsistencyErrors,
        (status = 200, description = "A page of the audit log", body = AuditPage),
    ))]
async fn read_audit_log(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    QueryParams(params): QueryParams<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = page_limit(params.limit, DEFAULT_PAGE, MAX_PAGE)?;
    state
        .consistent_with(
            AUDIT_PROJECTION,
            params.consistent_with.map(LogPosition::get),
        )
        .await?;
    let entries = state
        .audit_log
        .query(&AuditQuery {
            aggregate_type: params.aggregate_type,
            aggregate_id: params.aggregate_id,
            actor: params.actor,
            from: params.from,
            to: params.to,
            after: params.after.get(),
            limit: limit + 1,
            scope: Some(caller.scope()?),
        })
        .await?;
    let (entries, next_after) = split_page(entries, limit, |entry| entry.position);
    let entries: Vec<AuditEntryResponse> =
        entries.into_iter().map(AuditEntryResponse::from).collect();
    Ok(Json(AuditPage {
        entries,
        next_after,
    }))
}
