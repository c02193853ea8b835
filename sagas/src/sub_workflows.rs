//! Sub-workflows: an `execute_workflow` node starts a child execution and (by
//! default) waits for it; the child's end resumes the node with the child's
//! output, or fails it. The child's id is derived from the parent's node
//! attempt, so an attempt run again after a crash finds the child it already
//! started instead of starting a second, and the orchestrator finds the child
//! of a waiting node from the parent's history alone.

use chrono::Utc;
use flowforge_commands::CommandBus;
use flowforge_domain::{
    execution::{
        concat_items, Execution, ExecutionCommand, ExecutionId, ExecutionStatus, Item, NodeError,
        ParentExecution, Trigger, TriggerKind,
    },
    workflow::WorkflowId,
};
use flowforge_infra::event_store::EventMetadata;
use serde_json::json;
use uuid::Uuid;

use crate::starter::{start_execution, ExecutionStart, StartError};

/// The id of the child execution that attempt `attempt` of node `node` of
/// execution `parent` starts: the same every time it is asked.
pub fn child_execution_id(parent: ExecutionId, node: &str, attempt: u32) -> ExecutionId {
    let name = format!("execute_workflow/{node}/{attempt}");
    ExecutionId::from_uuid(Uuid::new_v5(&parent.as_uuid(), name.as_bytes()))
}

/// Starts the child executions of `execute_workflow` nodes.
#[derive(Clone)]
pub struct SubWorkflowStarter {
    commands: CommandBus,
}

impl SubWorkflowStarter {
    /// A starter recording through `commands`.
    pub fn new(commands: CommandBus) -> Self {
        Self { commands }
    }

    /// Starts the child of attempt `attempt` of node `node` of `parent`: workflow
    /// `workflow_id` (active or not, but not archived) with `input`. Starting it
    /// again returns the same id and records nothing.
    pub async fn start(
        &self,
        parent: ExecutionId,
        node: &str,
        attempt: u32,
        workflow_id: WorkflowId,
        input: Vec<Item>,
    ) -> Result<ExecutionId, StartError> {
        let (caller, _) = self.commands.load::<Execution>(&parent.to_string()).await?;
        let child = child_execution_id(parent, node, attempt);
        let trigger = Trigger {
            kind: TriggerKind::SubWorkflow,
            node: None,
            details: json!({"parent_execution_id": parent, "parent_node": node}),
        };
        let start = ExecutionStart::new(child, workflow_id, trigger, input)
            .even_if_inactive()
            .with_parent(ParentExecution {
                execution_id: parent,
                node: node.to_owned(),
                depth: caller.depth() + 1,
            });
        let metadata = EventMetadata {
            actor: Some("execute_workflow".to_owned()),
            causation_id: Some(parent.as_uuid()),
            ..EventMetadata::default()
        };
        match start_execution(&self.commands, start, &metadata).await {
            Ok(()) => Ok(child),
            Err(error) if error.already_started() => Ok(child),
            Err(error) => Err(error),
        }
    }
}

/// What the end of `child` means for the parent's waiting node attempt: resume
/// it with the child's output items, or fail it. `None` while the child runs.
pub fn child_outcome(node: &str, attempt: u32, child: &Execution) -> Option<ExecutionCommand> {
    let child_id = child.id()?;
    let at = Utc::now();
    let failure = |code: &str, message: String| ExecutionCommand::FailNode {
        node: node.to_owned(),
        attempt,
        error: NodeError::new(message)
            .with_code(code)
            .with_details(json!({"execution_id": child_id})),
        at,
    };
    match child.status() {
        ExecutionStatus::Succeeded => Some(ExecutionCommand::Resume {
            node: node.to_owned(),
            outputs: vec![concat_items(child.output().unwrap_or_default())],
            at,
        }),
        ExecutionStatus::Failed => {
            let why = child
                .failure()
                .map(|f| f.error.message.clone())
                .unwrap_or_default();
            Some(failure(
                "sub_workflow_failed",
                format!("sub-workflow execution {child_id} failed: {why}"),
            ))
        }
        ExecutionStatus::Cancelled => Some(failure(
            "sub_workflow_cancelled",
            format!("sub-workflow execution {child_id} was cancelled"),
        )),
        ExecutionStatus::Running | ExecutionStatus::Queued | ExecutionStatus::Waiting => None,
    }
}
