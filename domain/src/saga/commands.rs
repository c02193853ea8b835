//! What the saga process manager and operators ask of a saga. Times and retry
//! due times come in the command, so deciding stays pure.

use chrono::{DateTime, Utc};

use super::events::CompensationReason;
use crate::{
    execution::{ExecutionId, Item, NodeError},
    workflow::{Node, WorkflowId},
};

/// A request to the [`Saga`](super::Saga) aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum SagaCommand {
    /// Records a completed compensable step; opens the saga on the first one.
    RecordStep {
        /// The execution (and saga) id.
        execution_id: ExecutionId,
        /// Its workflow.
        workflow_id: WorkflowId,
        /// The node that completed.
        step: String,
        /// Its compensation node.
        compensation: Node,
        /// What the node received.
        input: Vec<Item>,
        /// What it produced.
        output: Vec<Item>,
        /// When it completed.
        at: DateTime<Utc>,
    },
    /// Starts undoing the completed steps.
    StartCompensation {
        /// Why.
        reason: CompensationReason,
        /// The failure or cancellation, in words.
        detail: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Records that the next step's compensation succeeded.
    RecordCompensated {
        /// The step; must be the next one to undo.
        step: String,
        /// The attempt.
        attempt: u32,
        /// The compensation's output items.
        output: Vec<Item>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Records that an attempt of the next step's compensation failed; with
    /// no `retry_at` the saga parks.
    RecordCompensationFailed {
        /// The step; must be the next one to undo.
        step: String,
        /// The attempt; one more than the step's attempts so far.
        attempt: u32,
        /// Why.
        error: NodeError,
        /// When to try again; `None`: tries exhausted, park.
        retry_at: Option<DateTime<Utc>>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// An operator resumes a parked saga.
    Resume {
        /// Who.
        actor: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// An operator marks the parked step compensated by hand; compensation
    /// then goes on with the steps before it.
    SkipStep {
        /// The step; must be the parked one.
        step: String,
        /// Who.
        actor: String,
        /// Why.
        reason: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// The execution succeeded: close the saga.
    Close {
        /// Now.
        at: DateTime<Utc>,
    },
}
