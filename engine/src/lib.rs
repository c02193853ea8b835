//! The workflow runtime: what turns a workflow definition and a trigger into an
//! execution that runs node by node, durably. The orchestrator (a process
//! manager under the `orchestrator` lease) follows execution events, asks the
//! pure planner in `flowforge_domain` what comes next and carries it out
//! through the node library's [`NodeExecutor`](flowforge_nodes::NodeExecutor).
//!
//! Layout: `orchestrator` (the run loop, with admission for concurrency caps
//! and the attempt pool), `execution_controls` (the use cases callers drive:
//! start on request, retry, resume a waiting node, cancel), `backlog` (the
//! bound on pending executions those starts pass through), `starter`
//! (recording an execution request), `sub_workflows` (child executions of
//! `execute_workflow` nodes and the
//! [`SubWorkflows`](flowforge_nodes::SubWorkflows) port), `start_rate`,
//! `error_workflow` (the workflow that runs when another fails), `triggers`
//! (schedules, NATS subjects, webhooks), `nats_publisher` (the node
//! library's message port over NATS), `vault_credentials` (the node
//! library's credentials port over the vault), `workspace_variables` (its
//! `$vars` port over the workspace variables), `execution_workspace` (the
//! workspace an execution runs in, for these ports), `call_budget` (the
//! outbound call limits port) and `clock` (the time the
//! orchestrator reads and sleeps on, which tests drive by hand).
#![forbid(unsafe_code)]

pub mod backlog;
mod call_budget;
mod clock;
mod error_workflow;
pub mod execution_controls;
mod execution_workspace;
mod nats_publisher;
mod orchestrator;
mod start_rate;
mod starter;
mod sub_workflows;
pub mod triggers;
mod vault_credentials;
mod workspace_variables;

pub use call_budget::WorkspaceCallBudget;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error_workflow::{error_execution_id, failure_item, start_error_workflow};
pub use execution_workspace::ExecutionWorkspace;
pub use nats_publisher::NatsPublisher;
pub use orchestrator::{
    AttemptLimits, ExecutionOrchestrator, OrchestratorSettings, ORCHESTRATOR_NAME,
};
pub use start_rate::{StartRate, DEFAULT_MAX_STARTS_PER_SEC_PER_WORKFLOW};
pub use starter::{start_execution, ExecutionStart, StartError};
pub use sub_workflows::{child_execution_id, child_outcome, SubWorkflowLimits, SubWorkflowStarter};
pub use triggers::{
    nats::NatsTriggers,
    schedule::{tick_execution_id, Scheduler},
};
pub use vault_credentials::VaultCredentials;
pub use workspace_variables::StoredVariables;
