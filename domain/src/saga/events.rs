//! What happened to a saga, as stored forever.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    aggregate::DomainEvent,
    execution::{ExecutionId, Item, NodeError},
    workflow::{Node, WorkflowId},
};

/// Why a saga compensates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompensationReason {
    /// A node failed for good (retries exhausted, not continue-on-fail).
    Failure,
    /// The execution was cancelled.
    Cancel,
    /// The execution passed its time limit.
    Deadline,
}

/// A fact about one saga. Stored as `{"type": "SagaStepCompleted", "data": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum SagaEvent {
    /// A compensable node succeeded; its compensation, input and output are
    /// kept so the step can be undone from the saga alone. The first one opens
    /// the saga.
    #[serde(rename = "SagaStepCompleted")]
    StepCompleted {
        /// The execution (and saga) id.
        execution_id: ExecutionId,
        /// Its workflow.
        workflow_id: WorkflowId,
        /// The node that completed.
        step: String,
        /// The node that undoes it.
        compensation: Node,
        /// What the node received (`$input` of its compensation).
        input: Vec<Item>,
        /// What it produced (`$json` of its compensation, one run per item).
        output: Vec<Item>,
        /// When the node completed.
        completed_at: DateTime<Utc>,
    },
    /// Undoing began.
    #[serde(rename = "SagaCompensationStarted")]
    CompensationStarted {
        /// The saga.
        execution_id: ExecutionId,
        /// Why.
        reason: CompensationReason,
        /// The failure or cancellation, in words.
        detail: String,
        /// When.
        started_at: DateTime<Utc>,
    },
    /// A step's compensation succeeded.
    #[serde(rename = "SagaStepCompensated")]
    StepCompensated {
        /// The saga.
        execution_id: ExecutionId,
        /// The step undone.
        step: String,
        /// The attempt that succeeded.
        attempt: u32,
        /// The compensation's output items.
        output: Vec<Item>,
        /// When.
        compensated_at: DateTime<Utc>,
    },
    /// An attempt of a step's compensation failed.
    #[serde(rename = "SagaStepCompensationFailed")]
    StepCompensationFailed {
        /// The saga.
        execution_id: ExecutionId,
        /// The step.
        step: String,
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: NodeError,
        /// When the next attempt is due; none if the saga parks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<DateTime<Utc>>,
        /// When it failed.
        failed_at: DateTime<Utc>,
    },
    /// A step's compensation failed its last try: an operator must act.
    #[serde(rename = "SagaCompensationParked")]
    CompensationParked {
        /// The saga.
        execution_id: ExecutionId,
        /// The step that could not be undone.
        step: String,
        /// The last error.
        error: NodeError,
        /// When.
        parked_at: DateTime<Utc>,
    },
    /// An operator resumed a parked saga (or skipped its step).
    #[serde(rename = "SagaCompensationResumed")]
    CompensationResumed {
        /// The saga.
        execution_id: ExecutionId,
        /// Who.
        actor: String,
        /// When.
        resumed_at: DateTime<Utc>,
    },
    /// An operator marked a step compensated by hand.
    #[serde(rename = "SagaStepSkipped")]
    StepSkipped {
        /// The saga.
        execution_id: ExecutionId,
        /// The step.
        step: String,
        /// Who.
        actor: String,
        /// Why, as given.
        reason: String,
        /// When.
        skipped_at: DateTime<Utc>,
    },
    /// Every completed step is undone (or skipped).
    #[serde(rename = "SagaCompensated")]
    Compensated {
        /// The saga.
        execution_id: ExecutionId,
        /// When.
        compensated_at: DateTime<Utc>,
    },
    /// The execution succeeded: nothing will be undone.
    #[serde(rename = "SagaClosed")]
    Closed {
        /// The saga.
        execution_id: ExecutionId,
        /// When.
        closed_at: DateTime<Utc>,
    },
}

impl DomainEvent for SagaEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::StepCompleted { .. } => "SagaStepCompleted",
            Self::CompensationStarted { .. } => "SagaCompensationStarted",
            Self::StepCompensated { .. } => "SagaStepCompensated",
            Self::StepCompensationFailed { .. } => "SagaStepCompensationFailed",
            Self::CompensationParked { .. } => "SagaCompensationParked",
            Self::CompensationResumed { .. } => "SagaCompensationResumed",
            Self::StepSkipped { .. } => "SagaStepSkipped",
            Self::Compensated { .. } => "SagaCompensated",
            Self::Closed { .. } => "SagaClosed",
        }
    }
}
