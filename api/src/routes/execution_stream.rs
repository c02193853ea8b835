//! `GET /api/v1/executions/{id}/stream`: an execution's events as
//! Server-Sent Events, from its first (or after `Last-Event-ID`, a stream
//! version) and then live, until it ends. Each SSE message has the stream
//! version as `id`, the event type as `event`, and the stored event as JSON
//! `data`, in the shape of `GET /api/v1/streams/{type}/{id}`.

use std::{collections::VecDeque, convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use flowforge_domain::{
    execution::{Execution, ExecutionEvent},
    Aggregate,
};
use flowforge_infra::event_store::{RecordedEvent, StreamAppended, StreamId};
use futures::{stream, Stream};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    events::EventResponse, request_context::Authenticated, shared_responses::ParameterErrors,
    workspace_scope::ensure_in_workspace,
};
use crate::{error::ApiError, execution_watch, extract::PathParams, state::AppState};

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream_execution))
}

/// How long a follower of a quiet stream waits before reading it again
/// anyway (new events wake it at once).
const IDLE_RECHECK: Duration = Duration::from_secs(5);

/// Streams an execution's events, live, as Server-Sent Events; the stream
/// ends after the execution's last event.
#[utoipa::path(
    get, path = "/api/v1/executions/{id}/stream", tag = "executions",
    params(
        ("id" = Uuid, Path, description = "Execution id"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this stream version", nullable = false),
    ),
    responses(
        (status = 200, description = "text/event-stream of the execution's events", content_type = "text/event-stream", body = String),
        ParameterErrors,
        (status = 404, description = "No such execution", body = crate::error::ErrorBody),
    )
)]
async fn stream_execution(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = execution_watch::parse_execution_id(&id)?;
    ensure_in_workspace::<Execution>(&state, &caller, &id.to_string(), "execution").await?;
    let after = match headers.get("last-event-id") {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                ApiError::InvalidParameter("Last-Event-ID must be a stream version".to_owned())
            })?,
    };
    let execution = execution_watch::load(&state, id).await?;
    let stream_id = StreamId::new(Execution::TYPE, id.to_string())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // A client reconnecting after the final event gets an empty stream that
    // ends at once, not one that waits for events that will never come.
    let nothing_left =
        execution.is_finished() && after >= state.store.stream_version(&stream_id).await?;
    let follower = Follower {
        appends: state.store.stream_appends(),
        state,
        stream: stream_id,
        after,
        pending: VecDeque::new(),
        ended: nothing_left,
    };
    Ok(Sse::new(stream::unfold(follower, Follower::next)).keep_alive(KeepAlive::default()))
}

/// Where a live stream stands.
struct Follower {
    state: AppState,
    appends: tokio::sync::broadcast::Receiver<StreamAppended>,
    stream: StreamId,
    after: u64,
    pending: VecDeque<RecordedEvent>,
    ended: bool,
}

impl Follower {
    /// The next SSE message; `None` once the execution's last event was sent
    /// (or the store fails, which ends the stream for the client to resume).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.after = event.version;
                self.ended = ExecutionEvent::FINAL_TYPES.contains(&event.event_type.as_str());
                return Some((Ok(message(event)), self));
            }
            if self.ended {
                return None;
            }
            match self.state.store.read_stream(&self.stream, self.after).await {
                Ok(events) if !events.is_empty() => self.pending.extend(events),
                Ok(_) => {
                    // Wakes for this stream only; a quiet stream gets a
                    // keep-alive from axum meanwhile.
                    let until = tokio::time::Instant::now() + IDLE_RECHECK;
                    let grew = execution_watch::stream_grew(
                        &self.state,
                        &self.stream,
                        self.after,
                        &mut self.appends,
                        until,
                    )
                    .await;
                    if let Err(error) = grew {
                        tracing::warn!(%error, stream = %self.stream, "execution stream ended by a store error");
                        return None;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, stream = %self.stream, "execution stream ended by a store error");
                    return None;
                }
            }
        }
    }
}

fn message(event: RecordedEvent) -> Event {
    let id = event.version.to_string();
    let kind = event.event_type.clone();
    let body = EventResponse::from(event);
    let data = serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned());
    Event::default().id(id).event(kind).data(data)
}
