//! Error workflows: a workflow whose settings name an `error_workflow` has that
//! workflow run, with one item describing the failure, whenever one of its
//! executions fails. The orchestrator starts it before it records the failure,
//! under an id derived from the failed execution, so a crash in between starts
//! it again at most once more, and that second start finds the first.

use flowforge_commands::{CommandBus, CommandError};
use flowforge_domain::execution::{Execution, ExecutionId, Item, NodeError, Trigger, TriggerKind};
use flowforge_infra::event_store::EventMetadata;
use serde_json::json;
use uuid::Uuid;

use crate::starter::{start_execution, ExecutionStart, StartError};

/// The id of the error-workflow execution started for failed execution `failed`.
pub fn error_execution_id(failed: ExecutionId) -> ExecutionId {
    ExecutionId::from_uuid(Uuid::new_v5(&failed.as_uuid(), b"error_workflow"))
}

/// The item an error workflow starts with, shaped like n8n's Error Trigger
/// output: `{"execution": {…}, "workflow": {…}}`.
pub fn failure_item(execution: &Execution, error: &NodeError, failed_node: Option<&str>) -> Item {
    let mut item = Item::new();
    item.insert(
        "execution".into(),
        json!({
            "id": execution.id(),
            "error": error,
            "last_node_executed": failed_node,
            "mode": execution.trigger().map(|t| t.kind),
            "started_at": execution.requested_at(),
        }),
    );
    item.insert(
        "workflow".into(),
        json!({
            "id": execution.workflow_id(),
            "name": execution.definition().map(|d| d.name()),
            "version": execution.definition_version(),
        }),
    );
    item
}

/// Starts the error workflow of `execution`, failing with `error`, if its
/// settings name one. Error-workflow executions never start another (no
/// loops). Returns the started (or already started) execution's id.
pub async fn start_error_workflow(
    commands: &CommandBus,
    execution: &Execution,
    error: &NodeError,
    failed_node: Option<&str>,
) -> Result<Option<ExecutionId>, StartError> {
    let (Some(id), Some(definition)) = (execution.id(), execution.definition()) else {
        return Ok(None);
    };
    let Some(target) = definition.workflow_settings().error_workflow else {
        return Ok(None);
    };
    if execution.trigger().map(|t| t.kind) == Some(TriggerKind::ErrorWorkflow) {
        return Ok(None);
    }
    let error_id = error_execution_id(id);
    let trigger = Trigger {
        kind: TriggerKind::ErrorWorkflow,
        node: None,
        details: json!({"failed_execution_id": id, "failed_workflow_id": execution.workflow_id()}),
    };
    let start = ExecutionStart::new(
        error_id,
        target,
        trigger,
        vec![failure_item(execution, error, failed_node)],
    )
    .even_if_inactive();
    let metadata = EventMetadata {
        actor: Some("error_workflow".to_owned()),
        causation_id: Some(id.as_uuid()),
        ..EventMetadata::default()
    };
    match start_execution(commands, start, &metadata).await {
        Ok(()) => Ok(Some(error_id)),
        Err(error) if error.already_started() => Ok(Some(error_id)),
        Err(error) => Err(error),
    }
}

/// Whether a failure to start an error workflow is worth another try (the
/// store did not answer), rather than final (no such workflow, archived).
pub(crate) fn is_transient(error: &StartError) -> bool {
    matches!(
        error,
        StartError::Workflow(CommandError::Store(_))
            | StartError::Execution(CommandError::Store(_))
    )
}
