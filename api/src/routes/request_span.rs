//! The span every routed request runs in: it continues the caller's W3C
//! trace (`traceparent`), is named by the route template, and carries the
//! request's correlation id, which is taken from `X-Correlation-Id` or made
//! here, passed to the handler in that header, and returned to the caller.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    http::HeaderValue,
    middleware::Next,
    response::Response,
};
use flowforge_monitoring::trace_context::continue_trace;
use tracing::{field::Empty, Instrument};
use uuid::Uuid;

use super::request_context::{CORRELATION_ID, TRACEPARENT};

/// Runs the request inside its `http.request` span.
pub async fn trace_request(
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let correlation_id = ensure_correlation_id(&mut request);
    let method = request.method().as_str().to_owned();
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let span = tracing::info_span!(
        "http.request",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = method,
        http.route = route,
        http.response.status_code = Empty,
        trace_id = Empty,
        correlation_id = %correlation_id,
    );
    let traceparent = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok());
    continue_trace(&span, traceparent);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "request handled"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&correlation_id.to_string()) {
        response.headers_mut().insert(CORRELATION_ID, value);
    }
    response
}

/// The request's correlation id: the caller's, if it sent a valid one, or a
/// new one, put in the request's header for the handler to record.
fn ensure_correlation_id(request: &mut Request) -> Uuid {
    let sent = request
        .headers()
        .get(CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v.trim()).ok());
    sent.unwrap_or_else(|| {
        let made = Uuid::now_v7();
        if let Ok(value) = HeaderValue::from_str(&made.to_string()) {
            request.headers_mut().insert(CORRELATION_ID, value);
        }
        made
    })
}
