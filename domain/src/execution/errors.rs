//! Why a command on an execution was refused. Each variant names the node and
//! attempt at fault, so the orchestrator can log it and the API can show it as is.
//! A refusal never means the history is broken: it means the command came too
//! early, too late, or twice with different content.

use super::aggregate::ExecutionStatus;
use super::id::ExecutionId;

/// A command the [`Execution`](super::Execution) aggregate refuses in its current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionError {
    /// Any command but `Request` on an execution that was never requested.
    #[error("execution not found")]
    NotFound,

    /// `Request` with other content on an execution that already exists.
    #[error("execution {execution_id} already exists")]
    AlreadyExists {
        /// The existing execution.
        execution_id: ExecutionId,
    },

    /// A command on an execution that has ended (other than repeating the command
    /// that ended it, which is accepted with no events).
    #[error("execution {execution_id} has already finished ({status})")]
    AlreadyFinished {
        /// The finished execution.
        execution_id: ExecutionId,
        /// How it ended.
        status: ExecutionStatus,
    },

    /// The command names a node the pinned definition does not have.
    #[error("the workflow has no node {node:?}")]
    UnknownNode {
        /// The name as given.
        node: String,
    },

    /// `Request` for a sub-workflow deeper than
    /// [`MAX_SUB_WORKFLOW_DEPTH`](super::MAX_SUB_WORKFLOW_DEPTH) calls: most
    /// likely a workflow that calls itself.
    #[error("sub-workflows nest at most {limit} calls deep; this one would be {depth}")]
    TooDeep {
        /// The depth the execution would have.
        depth: u32,
        /// The limit.
        limit: u32,
    },

    /// `Request` names a trigger node that is not a trigger.
    #[error("node {node:?} is not a trigger node")]
    NotATrigger {
        /// The node named as the trigger.
        node: String,
    },

    /// `StartNode` for a node the plan does not (yet) run: its predecessors have not
    /// all finished, or no items reach it.
    #[error("node {node:?} is not ready to run")]
    NodeNotReady {
        /// The node.
        node: String,
    },

    /// `StartNode` for a node that already succeeded (or whose outputs are reused);
    /// a node runs at most once per execution.
    #[error("node {node:?} has already succeeded")]
    NodeAlreadySucceeded {
        /// The node.
        node: String,
    },

    /// `StartNode` with a new attempt while another attempt of the node is in progress.
    #[error("node {node:?} is already running attempt {attempt}")]
    NodeAlreadyRunning {
        /// The node.
        node: String,
        /// The attempt in progress.
        attempt: u32,
    },

    /// An attempt number other than the next one: the first attempt is 1, a retry
    /// is the attempt that was scheduled, and attempts only go up.
    #[error("node {node:?}: expected attempt {expected}, got {got}")]
    UnexpectedAttempt {
        /// The node.
        node: String,
        /// The attempt the execution expects.
        expected: u32,
        /// The attempt the command named.
        got: u32,
    },

    /// `CompleteNode`, `FailNode` or `Wait` for an attempt that is not the one
    /// running (never started, another attempt, or already finished differently).
    #[error("attempt {attempt} of node {node:?} is not running")]
    AttemptNotRunning {
        /// The node.
        node: String,
        /// The attempt the command named.
        attempt: u32,
    },

    /// `CompleteNode` for a waiting node (a wait ends with `Resume`), or `Wait`
    /// again with another deadline or token.
    #[error("node {node:?} is waiting; a wait ends with Resume")]
    NodeWaiting {
        /// The node.
        node: String,
    },

    /// `Wait` for a node that has no attempt running.
    #[error("node {node:?} is not running")]
    NodeNotRunning {
        /// The node.
        node: String,
    },

    /// `Resume` for a node that is not waiting.
    #[error("node {node:?} is not waiting")]
    NodeNotWaiting {
        /// The node.
        node: String,
    },

    /// `ScheduleRetry` for a node whose latest attempt did not fail.
    #[error("node {node:?} has not failed; only a failed node is retried")]
    NodeNotFailed {
        /// The node.
        node: String,
    },

    /// `StartNode` again after a failure for which no retry was scheduled.
    #[error("node {node:?} failed and no retry is scheduled")]
    RetryNotScheduled {
        /// The node.
        node: String,
    },

    /// `ScheduleRetry` beyond the node's `retry.max_tries` (1 without a policy).
    #[error("node {node:?} may be tried at most {max_tries} time(s)")]
    RetriesExhausted {
        /// The node.
        node: String,
        /// The node's limit, first try included.
        max_tries: u32,
    },

    /// A result with more output lists than the node has outputs.
    #[error("node {node:?} has {outputs} output(s), but {got} output lists were given")]
    TooManyOutputs {
        /// The node.
        node: String,
        /// How many outputs the node has.
        outputs: usize,
        /// How many lists the command carried.
        got: usize,
    },

    /// `ScheduleRetry` whose due time cannot be represented.
    #[error("node {node:?}: a retry wait of {wait_ms} ms is out of range")]
    WaitOutOfRange {
        /// The node.
        node: String,
        /// The wait as given.
        wait_ms: u64,
    },

    /// `Succeed` while the plan still has work: nodes running, waiting, retrying,
    /// failed or ready to run.
    #[error("the execution is not complete; nodes still open: {}", nodes.join(", "))]
    NotComplete {
        /// The open nodes, in plan order.
        nodes: Vec<String>,
    },
}

/// A string that is not an execution id (a UUID).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid execution id {input:?}: {source}")]
pub struct InvalidExecutionId {
    /// The text that failed to parse.
    pub input: String,
    /// Why the UUID parser refused it.
    #[source]
    pub source: uuid::Error,
}
