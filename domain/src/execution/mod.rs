//! Executions: one run of a workflow, pinned to the definition version it started
//! with. The [`Execution`] aggregate records requests, node attempts (input,
//! outputs, errors, retries, waits) and how the run ended; the [`plan`] module
//! decides, from that history alone, what the orchestrator should do next. Items
//! ([`Item`]) are the JSON objects that flow between nodes.

mod aggregate;
mod commands;
mod errors;
mod events;
mod id;
mod item;
pub mod plan;

pub use aggregate::{
    resume_target, Attempt, Cancellation, Execution, ExecutionFailure, ExecutionStatus, NodeRun,
    NodeRunStatus, ResumeSecret, MAX_SUB_WORKFLOW_DEPTH,
};
pub use commands::{ExecutionCommand, RunOutcome};
pub use errors::{ExecutionError, InvalidExecutionId};
pub use events::{ExecutionEvent, NodeError, ParentExecution, Trigger, TriggerKind};
pub use id::ExecutionId;
pub use item::{concat_items, Item};
pub use plan::{
    decide, retry_delay, Completion, Decision, Finish, NodeState, Plan, RETRY_JITTER_SPREAD,
};
