//! Probes: liveness (the process answers) and readiness (its dependencies do).

use axum::{extract::State, http::StatusCode, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use flowforge_infra::bus::{jetstream::ownership::check_stream, SubscriptionError};

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
    /// Each dependency's state, when checked.
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
    /// `ok`, `not configured` (in-process bus), `disconnected; following the
    /// store` (ready: work goes on from the store), or why the stream is
    /// refused (not ready: it holds another store's log).
    pub nats: String,
    /// `ok`, or `resuming` while the executions left open by earlier
    /// processes are being taken up (not ready until then).
    pub executions: String,
    /// Each projection's position in this instance.
    #[schema(value_type = Object)]
    pub projections: serde_json::Map<String, serde_json::Value>,
    /// The NATS publisher (with NATS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<PublisherCheck>,
    /// Outbound hosts whose circuit breaker is open in this instance: nodes
    /// calling them fail at once until a probe succeeds. Reported only; an
    /// outside service being down does not make this instance unready.
    #[serde(default)]
    pub circuits: Vec<CircuitCheck>,
}

/// An open circuit.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CircuitCheck {
    /// The host and port.
    pub host: String,
    /// Failures in a row.
    pub failures: u32,
    /// Seconds until a probe may go through.
    pub retry_after_secs: u64,
}

/// Whether the NATS publisher keeps up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublisherCheck {
    /// `ok` (caught up, or moving), or `stalled` (events wait and its
    /// position has not moved for the configured time).
    pub status: String,
    /// The last position it published.
    pub position: u64,
    /// Events waiting to be published.
    pub lag: u64,
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

/// The process can serve: its event store (and NATS, when configured) answer.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = HealthResponse),
        (status = 503, description = "A dependency is down", body = HealthResponse),
    ))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<HealthResponse>) {
    let (store_ok, store, head) = match state.store.head().await {
        Ok(head) => (true, "ok".to_owned(), Some(head)),
        Err(error) => (false, error.to_string(), None),
    };
    let (nats_ok, nats) = nats_check(&state).await;
    let projections = state
        .progress
        .iter()
        .map(|(name, progress)| ((*name).to_owned(), progress.current().into()))
        .collect();
    let publisher = match (&state.publisher, head) {
        (Some(_), Some(head)) => publisher_check(&state, head).await,
        _ => None,
    };
    // Without NATS the instance follows the store and the publisher catches
    // up later: only a stall while NATS is there is a fault.
    let nats_connected = state.nats.as_ref().is_some_and(|bus| bus.is_connected());
    let publisher_ok = !nats_connected || publisher.as_ref().is_none_or(|p| p.status == "ok");
    let resumed = *state.resumed.borrow();
    let ready = store_ok && nats_ok && publisher_ok && resumed;
    let body = HealthResponse {
        status: if ready { "ok" } else { "unavailable" }.to_owned(),
        checks: Some(HealthChecks {
            store,
            head,
            nats,
            executions: if resumed { "ok" } else { "resuming" }.to_owned(),
            projections,
            publisher,
            circuits: state
                .circuits
                .open()
                .into_iter()
                .map(|open| CircuitCheck {
                    host: open.host,
                    failures: open.failures,
                    retry_after_secs: open.retry_after_secs,
                })
                .collect(),
        }),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// How long readiness waits for NATS to say whose log its stream holds.
const NATS_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether NATS is usable, and whether its stream holds this store's log: a
/// foreign stream makes the instance unready (an operator must act); an
/// unreachable NATS does not (every reader follows the store meanwhile).
async fn nats_check(state: &AppState) -> (bool, String) {
    let Some(bus) = &state.nats else {
        return (true, "not configured".to_owned());
    };
    if !bus.is_connected() {
        return (true, "disconnected; following the store".to_owned());
    }
    let checked = tokio::time::timeout(NATS_CHECK_TIMEOUT, check_stream(bus, &state.store)).await;
    match checked {
        Ok(Ok(_)) => (true, "ok".to_owned()),
        Ok(Err(error @ SubscriptionError::ForeignStream { .. })) => (false, error.to_string()),
        Ok(Err(error)) => (true, format!("{error}; following the store")),
        Err(_elapsed) => (true, "not answering; following the store".to_owned()),
    }
}

/// The publisher's stored position against the head: stalled when events
/// have waited and its position has not moved for `state.publisher_stall`,
/// as seen by this endpoint's successive calls (probes call it regularly).
async fn publisher_check(state: &AppState, head: u64) -> Option<PublisherCheck> {
    let position = state
        .checkpoints
        .get(flowforge_infra::bus::jetstream::publisher::PUBLISHER_NAME)
        .await
        .ok()?;
    let lag = head.saturating_sub(position);
    // Since when it has been behind without moving: caught up or moved
    // starts the clock again.
    let since = {
        let mut seen = state.publisher_seen.lock().ok()?;
        match *seen {
            Some((seen_position, since)) if seen_position == position && lag > 0 => since,
            _ => {
                let now = std::time::Instant::now();
                *seen = Some((position, now));
                now
            }
        }
    };
    let stalled = lag > 0 && since.elapsed() >= state.publisher_stall;
    Some(PublisherCheck {
        status: if stalled { "stalled" } else { "ok" }.to_owned(),
        position,
        lag,
    })
}
