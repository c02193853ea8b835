//! `GET /metrics` in the Prometheus text format, and the middleware that
//! counts and times every HTTP request by route template.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use flowforge_monitoring::{metrics, CONTENT_TYPE};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{error::ApiError, state::AppState};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(serve_metrics))
}

/// Every FlowForge metric, for Prometheus to scrape.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 503, description = "The database is unavailable", body = crate::error::ErrorBody),
    ))]
async fn serve_metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let metrics = metrics();
    let head = state.store.head().await?;
    let stored = state
        .checkpoints
        .all()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let position = |name: &str| {
        stored
            .iter()
            .find(|(stored, _)| stored == name)
            .map_or(0, |(_, position)| *position)
    };
    let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    metrics.head_position.set(gauge(head));
    metrics
        .outbound_circuits_open
        .set(i64::try_from(state.circuits.open().len()).unwrap_or(i64::MAX));
    for name in state.progress.keys() {
        let at = position(name);
        metrics
            .projection_position
            .with_label_values(&[*name])
            .set(gauge(at));
        metrics
            .projection_lag
            .with_label_values(&[*name])
            .set(gauge(head.saturating_sub(at)));
    }
    if state.publisher.is_some() {
        let at = position(flowforge_infra::bus::jetstream::publisher::PUBLISHER_NAME);
        metrics.publisher_position.set(gauge(at));
        metrics.publisher_lag.set(gauge(head.saturating_sub(at)));
    }
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render()).into_response())
}

/// Counts and times a request under its route template (`/api/v1/workflows/{id}`),
/// never its concrete path, so the label set stays bounded.
pub async fn record_http(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let metrics = metrics();
    metrics
        .http_requests
        .with_label_values(&[method.as_str(), route.as_str(), response.status().as_str()])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}
