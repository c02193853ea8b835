//! Sub-workflows: an `execute_workflow` node starts a child execution and (by
//! default) waits for it; the child's end resumes the node with the child's
//! output, or fails it. The child's id is derived from the parent's node
//! attempt, so an attempt run again after a crash finds the child it already
//! started instead of starting a second, and the orchestrator finds the child
//! of a waiting node from the parent's history alone.
//!
//! Two bounds keep a workflow that starts itself (twice, without waiting) from
//! growing forever: the executions under one root are counted in its
//! [`ExecutionTree`] and refused past [`SubWorkflowLimits::max_descendants`],
//! and each calling workflow's starts pass a token bucket ([`StartRate`]).

use std::{sync::Arc, time::Instant};

use async_trait::async_trait;
use chrono::Utc;
use flowforge_commands::{CommandBus, CommandError};
use flowforge_domain::{
    execution::{
        concat_items, Execution, ExecutionCommand, ExecutionId, ExecutionStatus, Item, NodeError,
        ParentExecution, Trigger, TriggerKind,
    },
    execution_tree::{
        ExecutionTree, ExecutionTreeCommand, ExecutionTreeError, DEFAULT_MAX_DESCENDANTS,
    },
    workflow::WorkflowId,
};
use flowforge_infra::event_store::EventMetadata;
use flowforge_nodes::SubWorkflows;
use serde_json::json;
use uuid::Uuid;

use crate::start_rate::{StartRate, DEFAULT_MAX_STARTS_PER_SEC_PER_WORKFLOW};
use crate::starter::{start_execution, ExecutionStart, StartError};

/// The id of the child execution that attempt `attempt` of node `node` of
/// execution `parent` starts: the same every time it is asked.
pub fn child_execution_id(parent: ExecutionId, node: &str, attempt: u32) -> ExecutionId {
    let name = format!("execute_workflow/{node}/{attempt}");
    ExecutionId::from_uuid(Uuid::new_v5(&parent.as_uuid(), name.as_bytes()))
}

/// The bounds on sub-workflow starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubWorkflowLimits {
    /// The most executions that may be started under one root execution, at
    /// any depth.
    pub max_descendants: u32,
    /// The most sub-workflow executions one workflow may start per second
    /// (and in a burst).
    pub max_starts_per_sec_per_workflow: u32,
}

impl Default for SubWorkflowLimits {
    /// 1,000 descendants per root, 200 starts per second per workflow.
    fn default() -> Self {
        Self {
            max_descendants: DEFAULT_MAX_DESCENDANTS,
            max_starts_per_sec_per_workflow: DEFAULT_MAX_STARTS_PER_SEC_PER_WORKFLOW,
        }
    }
}

/// Starts the child executions of `execute_workflow` nodes.
#[derive(Clone)]
pub struct SubWorkflowStarter {
    commands: CommandBus,
    max_descendants: u32,
    start_rate: Arc<StartRate>,
}

impl SubWorkflowStarter {
    /// A starter recording through `commands`, with the default limits.
    pub fn new(commands: CommandBus) -> Self {
        Self::with_limits(commands, SubWorkflowLimits::default())
    }

    /// A starter recording through `commands`, within `limits`.
    pub fn with_limits(commands: CommandBus, limits: SubWorkflowLimits) -> Self {
        Self {
            commands,
            max_descendants: limits.max_descendants,
            start_rate: Arc::new(StartRate::new(limits.max_starts_per_sec_per_workflow)),
        }
    }

    /// Starts the child of attempt `attempt` of node `node` of `parent`: workflow
    /// `workflow_id` (active or not, but not archived) with `input`. Starting it
    /// again returns the same id and records nothing.
    ///
    /// A new child must pass the calling workflow's start rate, then be
    /// admitted into its root's execution tree; a child already started (an
    /// attempt run again after a crash) passes neither again.
    pub async fn start_child(
        &self,
        parent: ExecutionId,
        node: &str,
        attempt: u32,
        workflow_id: WorkflowId,
        input: Vec<Item>,
    ) -> Result<ExecutionId, StartError> {
        let (caller, _) = self.commands.load::<Execution>(&parent.to_string()).await?;
        let child = child_execution_id(parent, node, attempt);
        let (existing, _) = self.commands.load::<Execution>(&child.to_string()).await?;
        if existing.exists() {
            return Ok(child);
        }
        if let Some(calling_workflow) = caller.workflow_id() {
            if !self.start_rate.try_start(calling_workflow, Instant::now()) {
                return Err(StartError::StartRateExceeded {
                    workflow_id: calling_workflow,
                    per_second: self.start_rate.per_second(),
                });
            }
        }
        let root = caller.root_id().unwrap_or(parent);
        self.admit(root, child, parent).await?;
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
                root: Some(root),
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

    /// Counts `child` in `root`'s execution tree, or refuses it past the bound.
    async fn admit(
        &self,
        root: ExecutionId,
        child: ExecutionId,
        parent: ExecutionId,
    ) -> Result<(), StartError> {
        let command = ExecutionTreeCommand::AdmitDescendant {
            root,
            execution_id: child,
            parent,
            limit: self.max_descendants,
        };
        let metadata = EventMetadata {
            actor: Some("execute_workflow".to_owned()),
            correlation_id: Some(root.as_uuid()),
            causation_id: Some(parent.as_uuid()),
            ..EventMetadata::default()
        };
        match self
            .commands
            .execute::<ExecutionTree>(&root.to_string(), command, None, &metadata)
            .await
        {
            Ok(_) => Ok(()),
            Err(CommandError::Rejected(ExecutionTreeError::TooManyDescendants { root, limit })) => {
                Err(StartError::TooManyDescendants { root, limit })
            }
            Err(error) => Err(StartError::Tree(error)),
        }
    }
}

#[async_trait]
impl SubWorkflows for SubWorkflowStarter {
    async fn start(
        &self,
        parent: ExecutionId,
        node: &str,
        attempt: u32,
        workflow_id: WorkflowId,
        input: Vec<Item>,
    ) -> Result<ExecutionId, NodeError> {
        self.start_child(parent, node, attempt, workflow_id, input)
            .await
            .map_err(|error| start_failure(workflow_id, &error))
    }
}

/// A refused or failed start as the `execute_workflow` node's error, with a
/// code naming why and the setting to raise where a bound was hit.
fn start_failure(workflow_id: WorkflowId, error: &StartError) -> NodeError {
    let code = match error {
        _ if error.too_deep() => "sub_workflow_depth",
        StartError::WorkflowNotFound(_) => "workflow_not_found",
        StartError::WorkflowArchived(_) => "workflow_archived",
        StartError::TooManyDescendants { .. } => "sub_workflow_descendants",
        StartError::StartRateExceeded { .. } => "sub_workflow_rate",
        StartError::Workflow(_) | StartError::Execution(_) | StartError::Tree(_) => {
            "sub_workflow_start"
        }
    };
    let details = match error {
        StartError::TooManyDescendants { root, limit } => json!({
            "workflow_id": workflow_id,
            "root_execution_id": root,
            "limit": limit,
            "setting": "FLOWFORGE_MAX_DESCENDANTS",
        }),
        StartError::StartRateExceeded {
            workflow_id: caller,
            per_second,
        } => json!({
            "workflow_id": workflow_id,
            "calling_workflow_id": caller,
            "limit": per_second,
            "setting": "FLOWFORGE_MAX_STARTS_PER_SEC_PER_WORKFLOW",
        }),
        StartError::WorkflowNotFound(_)
        | StartError::WorkflowArchived(_)
        | StartError::Workflow(_)
        | StartError::Execution(_)
        | StartError::Tree(_) => json!({"workflow_id": workflow_id}),
    };
    NodeError::new(format!("cannot start workflow {workflow_id}: {error}"))
        .with_code(code)
        .with_details(details)
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
