//! What a caller may ask of an execution. The API requests one; the orchestrator
//! reports each node's progress (started, succeeded, failed, waiting, resumed) and
//! ends it; an operator cancels it. Times, ids and retry waits come in the command
//! — the aggregate reads no clock and draws no random numbers — so deciding stays
//! a pure function and a redelivered command decides the same way.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::events::{NodeError, ParentExecution, Trigger};
use super::id::ExecutionId;
use super::item::Item;
use crate::workflow::{WorkflowDefinition, WorkflowId};

/// How a node attempt recorded with [`ExecutionCommand::RecordRun`] ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Its output items, one list per output index.
    Succeeded(Vec<Vec<Item>>),
    /// Why it failed.
    Failed(NodeError),
}

/// A request to the [`Execution`](super::Execution) aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutionCommand {
    /// Starts an execution of a workflow, pinned to one definition version.
    Request {
        /// The id the edge generated for the new execution.
        execution_id: ExecutionId,
        /// The workflow to run.
        workflow_id: WorkflowId,
        /// The definition version to pin.
        definition_version: u32,
        /// That version's definition.
        definition: WorkflowDefinition,
        /// What started it; its node, if given, must be a trigger of the definition.
        trigger: Trigger,
        /// The start node's input items.
        input: Vec<Item>,
        /// The calling execution, for a sub-workflow.
        parent: Option<ParentExecution>,
        /// Outputs to take over instead of running these nodes (retry-from-failed);
        /// every key must be a node of the definition.
        reuse: BTreeMap<String, Vec<Vec<Item>>>,
        /// Now, as the edge saw it.
        at: DateTime<Utc>,
    },
    /// Records that an attempt of a node started; attempt 1 only once the plan has
    /// the node ready, a later attempt only once it is scheduled.
    StartNode {
        /// The node.
        node: String,
        /// The attempt: 1, or the scheduled retry's.
        attempt: u32,
        /// The input items, one list per input index, as the plan handed them out.
        input: Vec<Vec<Item>>,
        /// When it started.
        at: DateTime<Utc>,
    },
    /// Records a whole attempt of a node that has no effect outside the
    /// execution (see [`NodeType::is_pure`](crate::workflow::NodeType::is_pure)),
    /// run before anything was recorded: its start and its outcome in one
    /// append, and the execution's success too when nothing is left to run.
    /// If the record is lost, the node simply runs again.
    RecordRun {
        /// The node.
        node: String,
        /// The attempt: 1, or the scheduled retry's.
        attempt: u32,
        /// The input items, one list per input index, as the plan handed them out.
        input: Vec<Vec<Item>>,
        /// How it ended.
        outcome: RunOutcome,
        /// When it started.
        started_at: DateTime<Utc>,
        /// When it ended.
        finished_at: DateTime<Utc>,
    },
    /// Records that the running attempt of a node succeeded.
    CompleteNode {
        /// The node.
        node: String,
        /// The running attempt.
        attempt: u32,
        /// The output items, one list per output index (at most the node's output count).
        outputs: Vec<Vec<Item>>,
        /// When it finished.
        at: DateTime<Utc>,
    },
    /// Records that the running (or waiting) attempt of a node failed.
    FailNode {
        /// The node.
        node: String,
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: NodeError,
        /// When it failed.
        at: DateTime<Utc>,
    },
    /// Schedules the next attempt of a node whose latest attempt failed.
    ScheduleRetry {
        /// The node.
        node: String,
        /// One more than the failed attempt, and at most the node's `retry.max_tries`.
        next_attempt: u32,
        /// How long to wait, backoff and jitter included (see [`retry_delay`](super::retry_delay)).
        wait_ms: u64,
        /// Now; the retry is due at `at + wait_ms`.
        at: DateTime<Utc>,
    },
    /// Pauses the running attempt of a node.
    Wait {
        /// The node.
        node: String,
        /// When the wait ends by itself, if it does.
        until: Option<DateTime<Utc>>,
        /// The SHA-256 (lower-case hex) of the token a resume call must
        /// present, if the node may be resumed that way.
        resume_token_sha256: Option<String>,
        /// When the wait began.
        at: DateTime<Utc>,
    },
    /// Ends a node's wait; the outputs flow on as the node's result.
    Resume {
        /// The waiting node.
        node: String,
        /// Its output items, one list per output index.
        outputs: Vec<Vec<Item>>,
        /// When it resumed.
        at: DateTime<Utc>,
    },
    /// Ends a node's wait for a resume call that presented the node's resume
    /// token (the caller checked it). Only a node waiting for such a call
    /// resumes, so a token works once: a second call, or one that raced the
    /// first, is refused.
    ResumeWithToken {
        /// The waiting node the token belongs to.
        node: String,
        /// Its output items, one list per output index.
        outputs: Vec<Vec<Item>>,
        /// Who called (recorded with the resumption).
        actor: String,
        /// When it resumed.
        at: DateTime<Utc>,
    },
    /// Ends the execution successfully; accepted only when the plan is complete.
    Succeed {
        /// When it ended.
        at: DateTime<Utc>,
    },
    /// Ends the execution as failed (a node failed for good, or a timeout).
    Fail {
        /// Why.
        error: NodeError,
        /// The node whose failure ended it, if a node's did.
        failed_node: Option<String>,
        /// When it ended.
        at: DateTime<Utc>,
    },
    /// Holds the execution back until its workflow's concurrency cap leaves a
    /// slot. Records nothing once queued or once a node has run.
    Queue {
        /// When.
        at: DateTime<Utc>,
    },
    /// Stops the execution on request.
    Cancel {
        /// Why.
        reason: String,
        /// Who asked.
        actor: String,
        /// When.
        at: DateTime<Utc>,
    },
}
