//! Probes: liveness (the process answers) and readiness (the store answers).

use axum::{extract::State, http::StatusCode, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// A probe's answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    /// `ok` or `unavailable`.
    pub status: String,
    /// Each dependency's state (`store`), when checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<HealthChecks>,
}

/// Dependency states.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthChecks {
    /// `ok`, or what failed.
    pub store: String,
    /// The store's newest position.
    pub head: Option<u64>,
    /// The workflows read model's position.
    pub workflows_projection: u64,
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, description = "Alive", body = HealthResponse)))]
async fn live() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".to_owned(),
        checks: None,
    })
}

/// The process can serve: its event store answers.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = HealthResponse),
        (status = 503, description = "A dependency is down", body = HealthResponse),
    ))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<HealthResponse>) {
    let (status, store, head) = match state.store.head().await {
        Ok(head) => (StatusCode::OK, "ok".to_owned(), Some(head)),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string(), None),
    };
    let body = HealthResponse {
        status: if status == StatusCode::OK {
            "ok"
        } else {
            "unavailable"
        }
        .to_owned(),
        checks: Some(HealthChecks {
            store,
            head,
            workflows_projection: state.workflows_progress.current(),
        }),
    };
    (status, Json(body))
}
