//! Starting an execution: load the workflow from its own stream (so a trigger
//! never runs a stale definition or an archived workflow), pin its current
//! definition, and record `ExecutionRequested`. Every trigger goes through here.

use std::collections::BTreeMap;

use chrono::Utc;
use flowforge_commands::{CommandBus, CommandError};
use flowforge_domain::{
    execution::{
        Execution, ExecutionCommand, ExecutionError, ExecutionId, Item, ParentExecution, Trigger,
        TriggerKind,
    },
    execution_tree::ExecutionTreeError,
    workflow::{NodeType, Workflow, WorkflowError, WorkflowId, WorkflowStatus},
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
    /// A sub-workflow start would take the executions under one root past
    /// the bound.
    #[error(
        "execution tree under root {root} reached {limit} descendants; raise FLOWFORGE_MAX_DESCENDANTS"
    )]
    TooManyDescendants {
        /// The root execution of the tree.
        root: ExecutionId,
        /// The bound that was reached.
        limit: u32,
    },
    /// The calling workflow starts sub-workflows faster than the rate allows.
    #[error(
        "workflow {workflow_id} starts more than {per_second} sub-workflow executions per second; raise FLOWFORGE_MAX_STARTS_PER_SEC_PER_WORKFLOW"
    )]
    StartRateExceeded {
        /// The calling workflow.
        workflow_id: WorkflowId,
        /// The rate (and burst) per workflow.
        per_second: u32,
    },
    /// Counting the start in its execution tree failed.
    #[error(transparent)]
    Tree(CommandError<ExecutionTreeError>),
}

/// What to start: which execution of which workflow, from what, with what.
#[derive(Debug, Clone)]
pub struct ExecutionStart {
    /// The new execution's id (random for API calls, derived where a retried
    /// start must find the same execution: schedule ticks, sub-workflows).
    pub execution_id: ExecutionId,
    /// The workflow to run, at its current definition.
    pub workflow_id: WorkflowId,
    /// What started it. An error workflow run without a trigger node starts at
    /// the workflow's first `error_trigger` node, if it has one.
    pub trigger: Trigger,
    /// The start node's input items.
    pub input: Vec<Item>,
    /// The calling execution, for a sub-workflow.
    pub parent: Option<ParentExecution>,
    /// Refuse an inactive workflow (every trigger but manual runs, sub-workflows
    /// and error workflows).
    pub require_active: bool,
}

impl ExecutionStart {
    /// A start of `workflow_id` from `trigger` with `input`, no parent, active
    /// workflows only.
    pub fn new(
        execution_id: ExecutionId,
        workflow_id: WorkflowId,
        trigger: Trigger,
        input: Vec<Item>,
    ) -> Self {
        Self {
            execution_id,
            workflow_id,
            trigger,
            input,
            parent: None,
            require_active: true,
        }
    }

    /// The same start, allowed for an inactive workflow too.
    pub fn even_if_inactive(mut self) -> Self {
        self.require_active = false;
        self
    }

    /// The same start, as a sub-workflow of `parent`.
    pub fn with_parent(mut self, parent: ParentExecution) -> Self {
        self.parent = Some(parent);
        self
    }
}

/// Records the start: loads the workflow, pins its current definition and
/// appends `ExecutionRequested` as the stream's first event, in the
/// workflow's tenant (workspace) whoever started it: a webhook, a schedule,
/// a parent execution.
pub async fn start_execution(
    commands: &CommandBus,
    start: ExecutionStart,
    metadata: &EventMetadata,
) -> Result<(), StartError> {
    let ExecutionStart {
        execution_id,
        workflow_id,
        mut trigger,
        input,
        parent,
        require_active,
    } = start;
    let (workflow, _, tenant) = commands
        .load_with_tenant::<Workflow>(&workflow_id.to_string())
        .await?;
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
    if trigger.kind == TriggerKind::ErrorWorkflow && trigger.node.is_none() {
        trigger.node = definition
            .trigger_nodes()
            .find(|node| node.node_type() == NodeType::ErrorTrigger)
            .map(|node| node.name().to_owned());
    }
    let trigger_kind = trigger_label(trigger.kind);
    let command = ExecutionCommand::Request {
        execution_id,
        workflow_id,
        definition_version: workflow.definition_version(),
        definition,
        trigger,
        input,
        parent,
        reuse: BTreeMap::new(),
        at: Utc::now(),
    };
    let mut metadata = metadata.clone();
    metadata.correlation_id = Some(execution_id.as_uuid());
    if let Some(tenant) = tenant {
        metadata.tenant_id = tenant;
    }
    let kind = trigger_kind;
    commands
        .execute::<Execution>(&execution_id.to_string(), command, Some(0), &metadata)
        .await?;
    flowforge_monitoring::metrics()
        .executions_started
        .with_label_values(&[kind])
        .inc();
    Ok(())
}

impl StartError {
    /// Whether the execution was already recorded: a repeated start of a
    /// derived id, which is not a failure.
    pub fn already_started(&self) -> bool {
        matches!(
            self,
            Self::Execution(
                CommandError::Conflict { .. }
                    | CommandError::Rejected(ExecutionError::AlreadyExists { .. })
            )
        )
    }

    /// Whether a sub-workflow was refused for nesting too deep.
    pub fn too_deep(&self) -> bool {
        matches!(
            self,
            Self::Execution(CommandError::Rejected(ExecutionError::TooDeep { .. }))
        )
    }
}

/// A trigger kind as a metric label.
pub(crate) fn trigger_label(kind: TriggerKind) -> &'static str {
    match kind {
        TriggerKind::Manual => "manual",
        TriggerKind::Webhook => "webhook",
        TriggerKind::Schedule => "schedule",
        TriggerKind::Nats => "nats",
        TriggerKind::SubWorkflow => "sub_workflow",
        TriggerKind::Retry => "retry",
        TriggerKind::ErrorWorkflow => "error_workflow",
    }
}
