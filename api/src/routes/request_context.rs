//! Who is asking and in which context: the event metadata a request's commands
//! record. Until authentication lands, the actor comes from `X-Actor` and the
//! tenant is the default one.

use axum::http::HeaderMap;
use flowforge_infra::event_store::{EventMetadata, ANONYMOUS_ACTOR};
use flowforge_monitoring::trace_context::trace_id_of;
use uuid::Uuid;

const ACTOR: &str = "x-actor";
/// The header naming the request (or conversation) a command belongs to.
pub const CORRELATION_ID: &str = "x-correlation-id";
/// The W3C Trace Context header.
pub const TRACEPARENT: &str = "traceparent";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// The metadata for events caused by a request with these headers.
pub fn request_metadata(headers: &HeaderMap) -> EventMetadata {
    EventMetadata {
        actor: Some(header(headers, ACTOR).unwrap_or(ANONYMOUS_ACTOR).to_owned()),
        correlation_id: Some(
            header(headers, CORRELATION_ID)
                .and_then(|v| Uuid::parse_str(v).ok())
                .unwrap_or_else(Uuid::now_v7),
        ),
        causation_id: None,
        traceparent: header(headers, TRACEPARENT)
            .filter(|v| trace_id_of(v).is_some())
            .map(str::to_owned),
        ..EventMetadata::default()
    }
}
