//! Who is asking and in which context: the event metadata a request's
//! commands record. The actor and the tenant come from the authenticated
//! caller (never from a header a client could forge): `user:<id>` or
//! `api_key:<id>`, and the workspace the request acts in. A public route's
//! commands (a webhook, signing up) record the anonymous actor.

use axum::{
    extract::FromRequestParts,
    http::{request::Parts, HeaderMap},
};
use flowforge_infra::event_store::{EventMetadata, ANONYMOUS_ACTOR};
use flowforge_monitoring::trace_context::trace_id_of;
use uuid::Uuid;

use crate::authentication::Caller;

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

/// The metadata for events caused by a request with these headers, made by
/// `caller` (if it was authenticated).
pub fn request_metadata(headers: &HeaderMap, caller: Option<&Caller>) -> EventMetadata {
    let mut metadata = EventMetadata {
        actor: Some(caller.map_or_else(|| ANONYMOUS_ACTOR.to_owned(), |c| c.actor.recorded_as())),
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
    };
    if let Some((workspace_id, _)) = caller.and_then(|c| c.workspace) {
        metadata.tenant_id = workspace_id.to_string();
    }
    metadata
}

/// The request's event metadata, as a handler argument.
pub struct RequestMetadata(pub EventMetadata);

impl<S: Send + Sync> FromRequestParts<S> for RequestMetadata {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(request_metadata(
            &parts.headers,
            parts.extensions.get::<Caller>(),
        )))
    }
}

/// The authenticated caller, as a handler argument (the access middleware
/// put it there; a route without one answers 401).
pub struct Authenticated(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .copied()
            .map(Self)
            .ok_or_else(|| crate::error::ApiError::Unauthenticated("no credentials".to_owned()))
    }
}
