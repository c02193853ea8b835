//! What happened to an execution, as stored forever. `ExecutionRequested` carries
//! the whole pinned definition, so an execution replays (and the planner decides)
//! from its own stream alone; node events carry the items that went in and came
//! out, so a reader sees every run without looking anything else up.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::id::ExecutionId;
use super::item::Item;
use crate::aggregate::DomainEvent;
use crate::workflow::{WorkflowDefinition, WorkflowId};

/// What started an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// An API call (`POST /api/v1/workflows/{id}/executions`).
    Manual,
    /// An HTTP request to a webhook path.
    Webhook,
    /// A cron tick.
    Schedule,
    /// A message on a NATS subject.
    Nats,
    /// An `execute_workflow` node of another execution (see [`ParentExecution`]).
    SubWorkflow,
    /// A retry of a failed execution, reusing its successful nodes' outputs.
    Retry,
    /// A failed execution of a workflow that names this one as its error workflow.
    ErrorWorkflow,
}

/// Why and where an execution started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// What started it.
    pub kind: TriggerKind,
    /// The trigger node that fired; `None` means the definition's first trigger
    /// node (in list order). See [`Execution::start_node`](super::Execution::start_node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Free-form facts about the trigger (webhook method and path, cron tick, NATS
    /// subject, the retried execution's id…); never secrets.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl Trigger {
    /// A trigger of this kind at the definition's first trigger node, with no details.
    pub fn new(kind: TriggerKind) -> Self {
        Self {
            kind,
            node: None,
            details: Value::Null,
        }
    }

    /// The same trigger, fired at the named trigger node.
    pub fn at_node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }
}

/// The execution and node that started a sub-workflow execution and wait for its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentExecution {
    /// The calling execution.
    pub execution_id: ExecutionId,
    /// Its `execute_workflow` node.
    pub node: String,
    /// How many calls deep the new execution is: 1 for the child of an
    /// execution nothing called. Events recorded before depth was kept read
    /// as 1.
    #[serde(default = "first_level")]
    pub depth: u32,
    /// The execution at the top of the call tree, which nothing called: the
    /// tree's descendants are counted under it. Events recorded before roots
    /// were kept have none; their caller stands in for it (see
    /// [`Execution::root_id`](super::Execution::root_id)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<ExecutionId>,
}

fn first_level() -> u32 {
    1
}

/// Why a node attempt (or an execution) failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeError {
    /// A human-readable message.
    pub message: String,
    /// A short machine-readable code, e.g. `timeout`, `http_status`, `expression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Anything else worth keeping (HTTP status and body excerpt, expression…); never secrets.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl NodeError {
    /// An error with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: None,
            details: Value::Null,
        }
    }

    /// The same error with a code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The same error with structured details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// A fact about one execution. Stored as `{"type": "NodeSucceeded", "data": {…}}`;
/// the type names are stable forever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ExecutionEvent {
    /// The execution was asked for, pinned to one definition version.
    #[serde(rename = "ExecutionRequested")]
    Requested {
        /// The execution.
        execution_id: ExecutionId,
        /// The workflow it runs.
        workflow_id: WorkflowId,
        /// The definition version it is pinned to.
        definition_version: u32,
        /// That version's definition, so the execution replays without the workflow stream.
        definition: WorkflowDefinition,
        /// What started it.
        trigger: Trigger,
        /// The start node's input items.
        #[serde(default)]
        input: Vec<Item>,
        /// The calling execution, for a sub-workflow.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<ParentExecution>,
        /// Outputs (one list per output index) taken over from an earlier execution
        /// instead of running the node: retry-from-failed.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        reuse: BTreeMap<String, Vec<Vec<Item>>>,
        /// When it was asked for.
        requested_at: DateTime<Utc>,
    },
    /// An attempt of a node started with these input items.
    #[serde(rename = "NodeStarted")]
    NodeStarted {
        /// The execution.
        execution_id: ExecutionId,
        /// The node.
        node: String,
        /// The attempt, from 1.
        attempt: u32,
        /// The input items, one list per input index (a `merge` node has several;
        /// every other node has one).
        input: Vec<Vec<Item>>,
        /// When it started.
        started_at: DateTime<Utc>,
    },
    /// An attempt of a node succeeded with these outputs.
    #[serde(rename = "NodeSucceeded")]
    NodeSucceeded {
        /// The execution.
        execution_id: ExecutionId,
        /// The node.
        node: String,
        /// The attempt that succeeded.
        attempt: u32,
        /// The output items, one list per output index (an `if` node has two).
        outputs: Vec<Vec<Item>>,
        /// When it finished.
        finished_at: DateTime<Utc>,
    },
    /// An attempt of a node failed.
    #[serde(rename = "NodeFailed")]
    NodeFailed {
        /// The execution.
        execution_id: ExecutionId,
        /// The node.
        node: String,
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: NodeError,
        /// When it failed.
        failed_at: DateTime<Utc>,
    },
    /// A failed node will be tried again at `due_at`.
    #[serde(rename = "NodeRetryScheduled")]
    NodeRetryScheduled {
        /// The execution.
        execution_id: ExecutionId,
        /// The node.
        node: String,
        /// The attempt that will run: one more than the failed one.
        attempt: u32,
        /// The wait chosen (backoff and jitter included), in milliseconds.
        wait_ms: u64,
        /// When the retry was scheduled.
        scheduled_at: DateTime<Utc>,
        /// `scheduled_at` + `wait_ms`.
        due_at: DateTime<Utc>,
    },
    /// A running node paused: until a time, until resumed (webhook, sub-workflow), or both.
    #[serde(rename = "NodeWaiting")]
    NodeWaiting {
        /// The execution.
        execution_id: ExecutionId,
        /// The node.
        node: String,
        /// The attempt that waits.
        attempt: u32,
        /// When the wait ends by itself, if it does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<DateTime<Utc>>,
        /// Only in events recorded before tokens were kept secret: the token
        /// itself, in clear. Never written any more.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_token: Option<String>,
        /// The SHA-256 (lower-case hex) of the token a resume call must
        /// present, if the node may be resumed that way. The token itself is
        /// never stored: the log and the bus are read by many.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_token_sha256: Option<String>,
        /// When the wait began.
        waiting_since: DateTime<Utc>,
    },
    /// A waiting node's wait ended; these outputs flow on as the node's result.
    #[serde(rename = "NodeResumed")]
    NodeResumed {
        /// The execution.
        execution_id: ExecutionId,
        /// The node.
        node: String,
        /// The attempt that waited.
        attempt: u32,
        /// The output items, one list per output index.
        outputs: Vec<Vec<Item>>,
        /// Who resumed it with its resume token (the caller's actor); absent
        /// when the wait ended by itself or a sub-workflow's end resumed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resumed_by: Option<String>,
        /// When it resumed.
        resumed_at: DateTime<Utc>,
    },
    /// Every node that was to run has finished; the execution succeeded.
    #[serde(rename = "ExecutionSucceeded")]
    Succeeded {
        /// The execution.
        execution_id: ExecutionId,
        /// The node that finished last, whose outputs are the execution's output.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_node: Option<String>,
        /// That node's outputs, one list per output index (empty if no node ran).
        output: Vec<Vec<Item>>,
        /// When it ended.
        finished_at: DateTime<Utc>,
    },
    /// The execution failed for good.
    #[serde(rename = "ExecutionFailed")]
    Failed {
        /// The execution.
        execution_id: ExecutionId,
        /// The node whose failure ended it, if a node's did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failed_node: Option<String>,
        /// Why.
        error: NodeError,
        /// When it ended.
        finished_at: DateTime<Utc>,
    },
    /// The execution waits for a slot: its workflow's concurrency cap is
    /// reached. Recorded once, before any node runs; the first node start
    /// ends the wait.
    #[serde(rename = "ExecutionQueued")]
    Queued {
        /// The execution.
        execution_id: ExecutionId,
        /// When it was held back.
        queued_at: DateTime<Utc>,
    },
    /// The execution was stopped on request.
    #[serde(rename = "ExecutionCancelled")]
    Cancelled {
        /// The execution.
        execution_id: ExecutionId,
        /// Why, as given.
        reason: String,
        /// Who asked (a user id, or `system` for a timeout).
        actor: String,
        /// When it ended.
        finished_at: DateTime<Utc>,
    },
}

impl ExecutionEvent {
    /// The stored type names of the events that end an execution: nothing
    /// follows one of them in the execution's stream.
    pub const FINAL_TYPES: [&'static str; 3] = [
        "ExecutionSucceeded",
        "ExecutionFailed",
        "ExecutionCancelled",
    ];

    /// The execution this event belongs to.
    pub fn execution_id(&self) -> ExecutionId {
        match self {
            Self::Requested { execution_id, .. }
            | Self::NodeStarted { execution_id, .. }
            | Self::NodeSucceeded { execution_id, .. }
            | Self::NodeFailed { execution_id, .. }
            | Self::NodeRetryScheduled { execution_id, .. }
            | Self::NodeWaiting { execution_id, .. }
            | Self::NodeResumed { execution_id, .. }
            | Self::Succeeded { execution_id, .. }
            | Self::Failed { execution_id, .. }
            | Self::Queued { execution_id, .. }
            | Self::Cancelled { execution_id, .. } => *execution_id,
        }
    }

    /// The node this event is about, for node events.
    pub fn node(&self) -> Option<&str> {
        match self {
            Self::NodeStarted { node, .. }
            | Self::NodeSucceeded { node, .. }
            | Self::NodeFailed { node, .. }
            | Self::NodeRetryScheduled { node, .. }
            | Self::NodeWaiting { node, .. }
            | Self::NodeResumed { node, .. } => Some(node),
            Self::Requested { .. }
            | Self::Queued { .. }
            | Self::Succeeded { .. }
            | Self::Failed { .. }
            | Self::Cancelled { .. } => None,
        }
    }
}

impl DomainEvent for ExecutionEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Requested { .. } => "ExecutionRequested",
            Self::NodeStarted { .. } => "NodeStarted",
            Self::NodeSucceeded { .. } => "NodeSucceeded",
            Self::NodeFailed { .. } => "NodeFailed",
            Self::NodeRetryScheduled { .. } => "NodeRetryScheduled",
            Self::NodeWaiting { .. } => "NodeWaiting",
            Self::NodeResumed { .. } => "NodeResumed",
            Self::Succeeded { .. } => "ExecutionSucceeded",
            Self::Failed { .. } => "ExecutionFailed",
            Self::Queued { .. } => "ExecutionQueued",
            Self::Cancelled { .. } => "ExecutionCancelled",
        }
    }
}
