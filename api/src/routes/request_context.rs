//! Who is asking and in which context: the event metadata a request's commands
//! record. Until authentication lands, the actor comes from `X-Actor` and the
//! tenant is the default one.

use axum::http::HeaderMap;
use flowforge_infra::event_store::EventMetadata;
use uuid::Uuid;

const ACTOR: &str = "x-actor";
const CORRELATION_ID: &str = "x-correlation-id";
const TRACEPARENT: &str = "traceparent";

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
        actor: Some(header(headers, ACTOR).unwrap_or("anonymous").to_owned()),
        correlation_id: Some(
            header(headers, CORRELATION_ID)
                .and_then(|v| Uuid::parse_str(v).ok())
                .unwrap_or_else(Uuid::now_v7),
        ),
        causation_id: None,
        traceparent: header(headers, TRACEPARENT)
            .filter(|v| is_traceparent(v))
            .map(str::to_owned),
        ..EventMetadata::default()
    }
}

/// `version-traceid-parentid-flags` in lowercase hex, per W3C Trace Context.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    parts.len() == 4
        && hex(parts[0], 2)
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
}
