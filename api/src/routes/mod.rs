//! The HTTP routes, one module per resource, gathered into one router whose
//! OpenAPI document is generated from the same declarations.

pub mod audit;
mod auth;
pub mod events;
mod execution_stream;
pub mod executions;
pub mod health;
mod metrics;
pub mod projections;
mod request_context;
mod request_span;
mod sagas;
mod security_headers;
mod shared_responses;
mod webhooks;
mod workflow_schema;
pub mod workflows;

use std::sync::Arc;

use axum::{extract::DefaultBodyLimit, Extension, Json, Router};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{error::ApiError, state::AppState};

/// The OpenAPI document's fixed parts; paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "FlowForge API",
        description = "Commands and queries of FlowForge, an event-sourced workflow-automation platform."
    ),
    tags(
        (name = "auth", description = "Accounts: register, sign in, refresh and sign out; access tokens (JWT) and rotating refresh tokens"),
        (name = "workflows", description = "Create, change, activate and read workflows"),
        (name = "events", description = "The event log (one stream, or the global log), the audit log, and projection progress"),
        (name = "executions", description = "Run workflows and follow their executions node by node"),
        (name = "health", description = "Liveness and readiness probes, and Prometheus metrics")
    )
)]
struct ApiDoc;

/// The webhook route takes any method, so it is registered by hand; this puts
/// it in the document.
#[derive(OpenApi)]
#[openapi(paths(webhooks::webhook))]
struct WebhookDoc;

/// The whole API with its OpenAPI document served at `/api/v1/openapi.json`.
pub fn router(state: AppState) -> Router {
    let max_body = usize::try_from(state.max_body_bytes).unwrap_or(usize::MAX);
    let (router, openapi) = documented_routes().split_for_parts();
    router
        .layer(Extension(Arc::new(openapi)))
        .route("/webhook/{*path}", axum::routing::any(webhooks::webhook))
        .route_layer(axum::middleware::from_fn(metrics::record_http))
        .route_layer(axum::middleware::from_fn(request_span::trace_request))
        .fallback(|| async { ApiError::NotFound("route".to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(
            security_headers::add_security_headers,
        ))
        .with_state(state)
}

/// The OpenAPI document alone, for tooling and tests.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes().split_for_parts().1
}

fn documented_routes() -> OpenApiRouter<AppState> {
    let mut doc = ApiDoc::openapi();
    doc.merge(WebhookDoc::openapi());
    OpenApiRouter::with_openapi(doc)
        .merge(auth::routes())
        .merge(workflows::routes())
        .merge(events::routes())
        .merge(executions::routes())
        .merge(execution_stream::routes())
        .merge(sagas::routes())
        .merge(audit::routes())
        .merge(projections::routes())
        .merge(health::routes())
        .merge(metrics::routes())
        .routes(routes!(openapi_document))
}

/// This document: every route of the API, generated from the code.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_document(
    Extension(openapi): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json(openapi.as_ref().clone())
}
