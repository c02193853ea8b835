//! A start a caller asked for (the manual trigger, a webhook): admitted by the
//! backlog, and idempotent when the caller names the start with a key.

use flowforge_commands::CommandBus;
use flowforge_domain::{
    execution::{Execution, ExecutionId, Item, Trigger},
    workflow::WorkflowId,
};
use flowforge_infra::event_store::EventMetadata;
use uuid::Uuid;

use super::ControlError;
use crate::{
    backlog::{Backlog, StartMode},
    starter::{start_execution, ExecutionStart},
};

/// What a caller asks to start, and how.
#[derive(Debug, Clone)]
pub struct RequestedStart<'a> {
    /// The workflow to run, at its current definition.
    pub workflow_id: WorkflowId,
    /// What started it.
    pub trigger: Trigger,
    /// The start node's input items.
    pub input: Vec<Item>,
    /// Refuse an inactive workflow (webhooks); manual runs start any.
    pub require_active: bool,
    /// What share of the backlog the start may use.
    pub mode: StartMode,
    /// The execution id the caller's idempotency key derives, if it sent
    /// one: a start that finds that execution recorded answers with it.
    pub idempotent_id: Option<ExecutionId>,
    /// Who asked, for the events.
    pub metadata: &'a EventMetadata,
}

/// The execution a start request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    /// The execution.
    pub execution_id: ExecutionId,
    /// True when an earlier request with the same idempotency key started it.
    pub replayed: bool,
}

/// Starts the requested execution if the backlog has room for a start in the
/// request's mode. With an idempotent id, a start that finds that execution
/// recorded already (before, or by a request that won a race) answers with
/// it instead of starting another.
///
/// # Errors
/// [`ControlError::BacklogFull`] when the backlog has no room,
/// [`ControlError::Start`] when the workflow cannot be started, and whatever
/// loading the execution fails with.
pub async fn start_requested(
    commands: &CommandBus,
    backlog: &Backlog,
    request: RequestedStart<'_>,
) -> Result<Started, ControlError> {
    let keyed = request.idempotent_id.is_some();
    let execution_id = request
        .idempotent_id
        .unwrap_or_else(|| ExecutionId::from_uuid(Uuid::now_v7()));
    let workflow_id = request.workflow_id;
    let replay = Started {
        execution_id,
        replayed: true,
    };
    if keyed && started_before(commands, execution_id, workflow_id).await? {
        return Ok(replay);
    }
    backlog.admit(execution_id.as_uuid(), workflow_id.as_uuid(), request.mode)?;
    let mut start = ExecutionStart::new(execution_id, workflow_id, request.trigger, request.input);
    start.require_active = request.require_active;
    match start_execution(commands, start, request.metadata).await {
        Ok(()) => Ok(Started {
            execution_id,
            replayed: false,
        }),
        // Another request with the same key won the race to record it.
        Err(error)
            if keyed
                && error.already_started()
                && started_before(commands, execution_id, workflow_id).await? =>
        {
            Ok(replay)
        }
        Err(error) => {
            backlog.forget(execution_id.as_uuid());
            Err(error.into())
        }
    }
}

/// Whether execution `id` of `workflow_id` is recorded already.
async fn started_before(
    commands: &CommandBus,
    id: ExecutionId,
    workflow_id: WorkflowId,
) -> Result<bool, ControlError> {
    let (execution, _) = commands.load::<Execution>(&id.to_string()).await?;
    Ok(execution.workflow_id() == Some(workflow_id))
}
