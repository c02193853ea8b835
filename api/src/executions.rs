//! Starting executions and waiting on them: the application logic behind the
//! manual trigger, the webhook trigger and the execution queries. Handlers call
//! these; the orchestrator does the running.

use std::time::Duration;

use chrono::Utc;
use flowforge_commands::CommandError;
use flowforge_domain::{
    execution::{
        Execution, ExecutionCommand, ExecutionError, ExecutionId, ExecutionStatus, Item,
        NodeRunStatus, Trigger, TriggerKind,
    },
    workflow::{NodeType, WorkflowError, WorkflowId},
};
use flowforge_domain::{saga::Saga, Aggregate};
use flowforge_engine::{start_execution, ExecutionStart, StartError};
use flowforge_infra::event_store::{EventMetadata, StreamAppended, StreamId};
use flowforge_nodes::resume::token_matches;
use serde_json::json;
use uuid::Uuid;

use crate::{
    backlog::StartMode,
    error::{command_error, ApiError},
    idempotency::IdempotencyKey,
    state::AppState,
};

/// An execution a start request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    /// The execution.
    pub execution_id: ExecutionId,
    /// True when an earlier request with the same idempotency key started it.
    pub replayed: bool,
}

/// How a start request came in: whether its caller waits for the answer, its
/// idempotency key, and its request metadata.
#[derive(Debug, Clone, Copy)]
pub struct StartRequest<'a> {
    /// What share of the backlog the start may use.
    pub mode: StartMode,
    /// The caller's `Idempotency-Key`, if it sent one.
    pub key: Option<&'a IdempotencyKey>,
    /// Who asked, for the events.
    pub metadata: &'a EventMetadata,
}

/// Starts an execution of workflow `workflow_id` (its current definition) from
/// `trigger` with `input` items, if the backlog has room for a start in the
/// request's mode. `require_active`: only for an active workflow. With an
/// idempotency key, the execution's id is derived from it, and a start that
/// finds that execution recorded already answers with it instead.
pub async fn start(
    state: &AppState,
    workflow_id: WorkflowId,
    trigger: Trigger,
    input: Vec<Item>,
    require_active: bool,
    request: StartRequest<'_>,
) -> Result<Started, ApiError> {
    let StartRequest {
        mode,
        key,
        metadata,
    } = request;
    let execution_id = match key {
        Some(key) => key.execution_id(workflow_id),
        None => ExecutionId::from_uuid(Uuid::now_v7()),
    };
    let replay = Started {
        execution_id,
        replayed: true,
    };
    if key.is_some() && started_before(state, execution_id, workflow_id).await? {
        return Ok(replay);
    }
    state
        .backlog
        .admit(execution_id.as_uuid(), workflow_id.as_uuid(), mode)?;
    let mut start = ExecutionStart::new(execution_id, workflow_id, trigger, input);
    start.require_active = require_active;
    match start_execution(&state.commands, start, metadata).await {
        Ok(()) => Ok(Started {
            execution_id,
            replayed: false,
        }),
        // Another request with the same key won the race to record it.
        Err(error)
            if key.is_some()
                && error.already_started()
                && started_before(state, execution_id, workflow_id).await? =>
        {
            Ok(replay)
        }
        Err(error) => {
            state.backlog.forget(execution_id.as_uuid());
            Err(start_error(error))
        }
    }
}

/// Whether execution `id` of `workflow_id` is recorded already.
async fn started_before(
    state: &AppState,
    id: ExecutionId,
    workflow_id: WorkflowId,
) -> Result<bool, ApiError> {
    let (execution, _) = state
        .commands
        .load::<Execution>(&id.to_string())
        .await
        .map_err(execution_error)?;
    Ok(execution.workflow_id() == Some(workflow_id))
}

fn start_error(error: StartError) -> ApiError {
    match error {
        StartError::WorkflowNotFound(id) => ApiError::NotFound(format!("workflow {id}")),
        StartError::WorkflowArchived(workflow_id) => {
            ApiError::Rejected(WorkflowError::Archived { workflow_id })
        }
        StartError::Workflow(error) => ApiError::from(error),
        StartError::Execution(error) => execution_error(error),
        // Only sub-workflow starts are counted in a tree or rate-limited; the
        // API starts roots.
        unexpected @ (StartError::TooManyDescendants { .. }
        | StartError::StartRateExceeded { .. }
        | StartError::Tree(_)) => ApiError::Internal(unexpected.to_string()),
    }
}

/// Starts a new execution that retries failed (or cancelled) execution `id`:
/// the same pinned definition and input, with the outputs of every node that
/// succeeded (or was reused) taken over, so only the failed node and what
/// follows it run again.
pub async fn retry(
    state: &AppState,
    id: ExecutionId,
    metadata: &EventMetadata,
) -> Result<ExecutionId, ApiError> {
    let failed = load(state, id).await?;
    if !matches!(
        failed.status(),
        ExecutionStatus::Failed | ExecutionStatus::Cancelled
    ) {
        return Err(ApiError::NotRetryable {
            execution_id: id.to_string(),
            status: failed.status().as_str(),
        });
    }
    let (Some(workflow_id), Some(definition), Some(previous)) = (
        failed.workflow_id(),
        failed.definition().cloned(),
        failed.trigger(),
    ) else {
        return Err(ApiError::Internal(format!("execution {id} has no request")));
    };
    let mut reuse = failed.reuse().clone();
    for run in failed.node_runs() {
        if run.status() == NodeRunStatus::Succeeded {
            if let Some(outputs) = run.latest_attempt().and_then(|a| a.outputs()) {
                reuse.insert(run.node().to_owned(), outputs.to_vec());
            }
        }
    }
    let trigger = Trigger {
        kind: TriggerKind::Retry,
        node: failed.start_node().map(str::to_owned),
        details: json!({"retry_of": id, "original_trigger": previous.kind}),
    };
    let execution_id = ExecutionId::from_uuid(Uuid::now_v7());
    let command = ExecutionCommand::Request {
        execution_id,
        workflow_id,
        definition_version: failed.definition_version(),
        definition,
        trigger,
        input: failed.input().to_vec(),
        parent: None,
        reuse,
        at: Utc::now(),
    };
    let mut metadata = metadata.clone();
    metadata.correlation_id = Some(execution_id.as_uuid());
    metadata.causation_id = Some(id.as_uuid());
    state
        .commands
        .execute::<Execution>(&execution_id.to_string(), command, Some(0), &metadata)
        .await
        .map_err(execution_error)?;
    flowforge_monitoring::metrics()
        .executions_started
        .with_label_values(&["retry"])
        .inc();
    Ok(execution_id)
}

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
    let (execution, version) = state
        .commands
        .load::<Execution>(&id.to_string())
        .await
        .map_err(execution_error)?;
    if execution.exists() {
        Ok((execution, version))
    } else {
        Err(ApiError::NotFound(format!("execution {id}")))
    }
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

/// Resumes the node of execution `id` that waits for a call with `token`,
/// with `item` as its output; returns the node and the log position. The
/// token is compared in constant time with what the execution keeps of it (a
/// digest). A token resumes once: afterwards no node waits for it (404), and
/// of two calls racing with it one resumes and the other is refused (409).
/// The resumption records who called (`X-Actor`), so the audit log shows it.
pub async fn resume_with_token(
    state: &AppState,
    id: ExecutionId,
    token: &str,
    item: Item,
    metadata: &EventMetadata,
) -> Result<(String, u64), ApiError> {
    let execution = load(state, id).await?;
    let node = execution
        .node_runs()
        .iter()
        .filter(|run| run.status() == NodeRunStatus::Waiting)
        .find(|run| {
            run.resume_token()
                .is_some_and(|secret| token_matches(secret, token))
        })
        .map(|run| run.node().to_owned())
        .ok_or_else(|| ApiError::NotFound("a node waiting for this token".to_owned()))?;
    let command = ExecutionCommand::ResumeWithToken {
        node: node.clone(),
        outputs: vec![vec![item]],
        actor: metadata
            .actor
            .clone()
            .unwrap_or_else(|| "anonymous".to_owned()),
        at: Utc::now(),
    };
    let outcome = state
        .commands
        .execute::<Execution>(&id.to_string(), command, None, metadata)
        .await
        .map_err(execution_error)?;
    Ok((node, outcome.position))
}

/// Cancels an execution on behalf of `actor`.
pub async fn cancel(
    state: &AppState,
    id: ExecutionId,
    reason: String,
    metadata: &EventMetadata,
) -> Result<u64, ApiError> {
    load(state, id).await?;
    let actor = metadata
        .actor
        .clone()
        .unwrap_or_else(|| "anonymous".to_owned());
    let outcome = state
        .commands
        .execute::<Execution>(
            &id.to_string(),
            ExecutionCommand::Cancel {
                reason,
                actor,
                at: Utc::now(),
            },
            None,
            metadata,
        )
        .await
        .map_err(execution_error)?;
    Ok(outcome.position)
}

/// Maps the execution aggregate's refusals to API errors.
pub fn execution_error(error: CommandError<ExecutionError>) -> ApiError {
    command_error(
        error,
        |rejected| match rejected {
            ExecutionError::NotFound => ApiError::NotFound("execution".to_owned()),
            rejected => ApiError::ExecutionRejected(rejected),
        },
        |_, actual| ApiError::VersionConflict {
            expected: "a new execution".to_owned(),
            current_version: actual,
        },
    )
}
