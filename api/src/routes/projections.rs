//! How far the read side and the NATS publisher have got: each worker's
//! checkpoint (as stored, whichever instance wrote it) against the store's head.

use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ErrorBody},
    state::AppState,
};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_projections))
}

/// One worker's progress.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkerStatus {
    /// The projection (or `nats-publisher`).
    pub name: String,
    /// The last position it has applied (or published).
    pub position: u64,
    /// How many events it is behind the head.
    pub lag: u64,
}

/// The read side's progress.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectionsResponse {
    /// The store's newest position.
    pub head: u64,
    /// Each projection.
    pub projections: Vec<WorkerStatus>,
    /// The NATS publisher, when NATS is configured.
    pub publisher: Option<WorkerStatus>,
}

/// Each projection's position and lag behind the store's head.
#[utoipa::path(get, path = "/api/v1/projections", tag = "events",
    responses(
        (status = 200, description = "Positions and lag", body = ProjectionsResponse),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ))]
async fn list_projections(
    State(state): State<AppState>,
) -> Result<Json<ProjectionsResponse>, ApiError> {
    let stored = state
        .checkpoints
        .all()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let head = state.store.head().await?;
    let position_of = |name: &str| {
        stored
            .iter()
            .find(|(stored_name, _)| stored_name == name)
            .map_or(0, |(_, position)| *position)
    };
    let status = |name: &str| {
        let position = position_of(name);
        WorkerStatus {
            name: name.to_owned(),
            position,
            lag: head.saturating_sub(position),
        }
    };
    let mut names: Vec<&str> = state.progress.keys().copied().collect();
    names.sort_unstable();
    Ok(Json(ProjectionsResponse {
        head,
        projections: names.into_iter().map(status).collect(),
        publisher: state
            .publisher
            .as_ref()
            .map(|_| status(flowforge_infra::bus::jetstream::publisher::PUBLISHER_NAME)),
    }))
}
