//! Reading an execution for a request, and waiting on one for a caller that
//! asked for its answer (a webhook in `last_node` or `respond_node` mode, a
//! start with `wait`, the live event stream). The use cases that change
//! executions live in `flowforge_engine::execution_controls`.

use std::time::Duration;

use flowforge_domain::{
    execution::{Execution, ExecutionId, Item},
    saga::Saga,
    workflow::NodeType,
    Aggregate,
};
use flowforge_engine::execution_controls::load_execution;
use flowforge_infra::event_store::{StreamAppended, StreamId};

use crate::{error::ApiError, state::AppState};

/// Whether the execution has a saga (a compensable step completed).
pub async fn has_saga(
    state: &AppState,
    id: ExecutionId,
    execution: &Execution,
) -> Result<bool, ApiError> {
    let compensable = execution
        .definition()
        .is_some_and(|d| d.nodes().iter().any(|n| n.compensation().is_some()));
    if !compensable {
        return Ok(false);
    }
    let stream =
        StreamId::new(Saga::TYPE, id.to_string()).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(state.store.stream_version(&stream).await? > 0)
}

/// An execution id from a path; a malformed one names no execution (404).
pub fn parse_execution_id(id: &str) -> Result<ExecutionId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::NotFound(format!("execution {id}")))
}

/// The execution as its events made it.
pub async fn load(state: &AppState, id: ExecutionId) -> Result<Execution, ApiError> {
    Ok(load_versioned(state, id).await?.0)
}

/// How often a waiter checks for appends by other processes (this process's
/// own appends to the execution wake it at once).
const OTHER_PROCESS_POLL: Duration = Duration::from_millis(50);

/// Waits (up to `timeout`) until `ready` finds what it waits for in the
/// execution; returns the execution as last seen and what `ready` found.
/// It re-reads the execution only when its stream grew: woken by this
/// process's appends to that stream, or by a cheap version check for other
/// processes' — never by appends to other streams.
pub async fn wait_until<T>(
    state: &AppState,
    id: ExecutionId,
    timeout: Duration,
    ready: impl Fn(&Execution) -> Option<T>,
) -> Result<(Execution, Option<T>), ApiError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let stream = StreamId::new(Execution::TYPE, id.to_string())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut appends = state.store.stream_appends();
    loop {
        let (execution, version) = load_versioned(state, id).await?;
        if let Some(found) = ready(&execution) {
            return Ok((execution, Some(found)));
        }
        if !stream_grew(state, &stream, version, &mut appends, deadline).await? {
            return Ok((execution, None));
        }
    }
}

/// Waits until `stream` is past `version`; false if `deadline` came first,
/// an error if this instance stopped running executions (shutdown).
pub async fn stream_grew(
    state: &AppState,
    stream: &StreamId,
    version: u64,
    appends: &mut tokio::sync::broadcast::Receiver<StreamAppended>,
    deadline: tokio::time::Instant,
) -> Result<bool, ApiError> {
    use tokio::sync::broadcast::error::RecvError;
    let mut poll = tokio::time::interval(OTHER_PROCESS_POLL);
    poll.tick().await;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return Ok(false),
            () = state.stopped.cancelled() => {
                return Err(ApiError::ShuttingDown(stream.aggregate_id().to_owned()));
            }
            notice = appends.recv() => match notice {
                Ok(notice) if notice.stream == *stream && notice.version > version => return Ok(true),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => return Ok(true),
                Err(RecvError::Closed) => tokio::time::sleep(OTHER_PROCESS_POLL).await,
            },
            _ = poll.tick() => {
                if state.store.stream_version(stream).await? > version {
                    return Ok(true);
                }
            }
        }
    }
}

/// The execution and its stream version; 404 if it does not exist.
async fn load_versioned(state: &AppState, id: ExecutionId) -> Result<(Execution, u64), ApiError> {
    Ok(load_execution(&state.commands, id).await?)
}

/// Waits for the execution to end.
pub async fn wait_for_end(
    state: &AppState,
    id: ExecutionId,
    timeout: Duration,
) -> Result<(Execution, bool), ApiError> {
    let (execution, ended) =
        wait_until(state, id, timeout, |e| e.is_finished().then_some(())).await?;
    Ok((execution, ended.is_some()))
}

/// The response a Respond-to-Webhook node produced, once one has run.
pub fn webhook_response(execution: &Execution) -> Option<Item> {
    let definition = execution.definition()?;
    execution.node_runs().iter().find_map(|run| {
        let node = definition.node(run.node())?;
        if node.node_type() != NodeType::RespondToWebhook {
            return None;
        }
        run.latest_attempt()?.outputs()?.first()?.first().cloned()
    })
}
