//! Starting an execution: load the workflow from its own stream (so a trigger
//! never runs a stale definition or an archived workflow), pin its current
//! definition, and record `ExecutionRequested`. Every trigger goes through here.

use std::collections::BTreeMap;

use chrono::Utc;
use flowforge_commands::{CommandBus, CommandError};
use flowforge_domain::{
    execution::{Execution, ExecutionCommand, ExecutionError, ExecutionId, Item, Trigger},
    workflow::{Workflow, WorkflowError, WorkflowId, WorkflowStatus},
};
use flowforge_infra::event_store::EventMetadata;

/// Why an execution did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No such workflow, or (for triggers that need it) not active.
    #[error("workflow {0} not found")]
    WorkflowNotFound(WorkflowId),
    /// The workflow is archived.
    #[error("workflow {0} is archived")]
    WorkflowArchived(WorkflowId),
    /// Loading the workflow failed.
    #[error(transparent)]
    Workflow(#[from] CommandError<WorkflowError>),
    /// Recording the request failed.
    #[error(transparent)]
    Execution(#[from] CommandError<ExecutionError>),
}

/// Starts `execution_id` of workflow `workflow_id` from `trigger` with `input`.
/// `require_active`: refuse an inactive workflow (every trigger but manual runs).
pub async fn start_execution(
    commands: &CommandBus,
    execution_id: ExecutionId,
    workflow_id: WorkflowId,
    trigger: Trigger,
    input: Vec<Item>,
    require_active: bool,
    metadata: &EventMetadata,
) -> Result<(), StartError> {
    let (workflow, _) = commands.load::<Workflow>(&workflow_id.to_string()).await?;
    let definition = workflow
        .definition()
        .cloned()
        .ok_or(StartError::WorkflowNotFound(workflow_id))?;
    match workflow.status() {
        WorkflowStatus::Archived => return Err(StartError::WorkflowArchived(workflow_id)),
        WorkflowStatus::Inactive if require_active => {
            return Err(StartError::WorkflowNotFound(workflow_id))
        }
        WorkflowStatus::Inactive | WorkflowStatus::Active => {}
    }
    let command = ExecutionCommand::Request {
        execution_id,
        workflow_id,
        definition_version: workflow.definition_version(),
        definition,
        trigger,
        input,
        parent: None,
        reuse: BTreeMap::new(),
        at: Utc::now(),
    };
    let mut metadata = metadata.clone();
    metadata.correlation_id = Some(execution_id.as_uuid());
    commands
        .execute::<Execution>(&execution_id.to_string(), command, Some(0), &metadata)
        .await?;
    Ok(())
}
