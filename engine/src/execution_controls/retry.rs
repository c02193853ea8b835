//! Retrying a failed or cancelled execution as a new one that takes over what
//! already succeeded.

use chrono::Utc;
use flowforge_commands::CommandBus;
use flowforge_domain::execution::{
    Execution, ExecutionCommand, ExecutionId, ExecutionStatus, NodeRunStatus, Trigger, TriggerKind,
};
use flowforge_infra::event_store::EventMetadata;
use serde_json::json;
use uuid::Uuid;

use super::{load_execution, ControlError};

/// Starts a new execution that retries failed (or cancelled) execution `id`:
/// the same pinned definition and input, with the outputs of every node that
/// succeeded (or was reused) taken over, so only the failed node and what
/// follows it run again. Returns the new execution's id.
///
/// # Errors
/// [`ControlError::ExecutionNotFound`], [`ControlError::NotRetryable`] for an
/// execution that did not fail or was not cancelled, and what recording the
/// new execution fails with.
pub async fn retry(
    commands: &CommandBus,
    id: ExecutionId,
    metadata: &EventMetadata,
) -> Result<ExecutionId, ControlError> {
    let (failed, _) = load_execution(commands, id).await?;
    if !matches!(
        failed.status(),
        ExecutionStatus::Failed | ExecutionStatus::Cancelled
    ) {
        return Err(ControlError::NotRetryable {
            execution_id: id,
            status: failed.status().as_str(),
        });
    }
    let (Some(workflow_id), Some(definition), Some(previous)) = (
        failed.workflow_id(),
        failed.definition().cloned(),
        failed.trigger(),
    ) else {
        return Err(ControlError::NoRequest(id));
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
    commands
        .execute::<Execution>(&execution_id.to_string(), command, Some(0), &metadata)
        .await?;
    flowforge_monitoring::metrics()
        .executions_started
        .with_label_values(&["retry"])
        .inc();
    Ok(execution_id)
}
