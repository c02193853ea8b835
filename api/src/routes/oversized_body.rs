//! Refuses a request whose declared `Content-Length` is over the body limit
//! before any handler runs, after reading (and throwing away) what the client
//! is sending anyway.
//!
//! Answering 413 and closing while the client is still writing makes the
//! kernel reset the connection; most HTTP clients then report a broken pipe
//! instead of the 413 they were sent. Reading the rest first ("lingering
//! close", as nginx does it) lets them see the answer. The reading is bounded
//! in bytes and time, so a client declaring gigabytes gets its 413 and a
//! closed connection straight away.

use std::time::Duration;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{
        header::{CONNECTION, CONTENT_LENGTH},
        HeaderValue,
    },
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures::StreamExt;

use crate::{error::ApiError, state::AppState};

/// The most an oversized body is read for before the connection is closed.
const MAX_DRAINED_BYTES: u64 = 64 * 1024 * 1024;

/// How long an oversized body is read for at most.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers 413 (with `Connection: close`) when the declared body is over
/// the limit; passes every other request on.
pub async fn refuse_oversized_body(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let Some(declared) = declared.filter(|length| *length > state.max_body_bytes) else {
        return next.run(request).await;
    };
    if declared <= MAX_DRAINED_BYTES {
        drain(request.into_body()).await;
    }
    let mut response = ApiError::PayloadTooLarge {
        limit: state.max_body_bytes,
    }
    .into_response();
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Reads `body` to its end (or its first error), for at most [`DRAIN_TIMEOUT`].
async fn drain(body: Body) {
    let mut chunks = body.into_data_stream();
    let read_all = async { while let Some(Ok(_)) = chunks.next().await {} };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, read_all).await;
}
