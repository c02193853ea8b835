//! Process managers: long-running coordinators that react to events with
//! commands. The execution orchestrator turns an execution's history into the
//! next steps (run a node, schedule a retry, wake a wait, finish) and records
//! each result back on the execution; the saga manager records compensable
//! steps and undoes them when an execution fails for good.
#![forbid(unsafe_code)]

mod compensation;
mod error_workflow;
mod leader;
mod nats_trigger;
mod node_executor;
mod orchestrator;
mod refresh;
mod scheduler;
mod spans;
mod start_rate;
mod starter;
mod sub_workflows;

pub use compensation::{default_compensation_policy, SagaManager, SAGA_MANAGER_NAME};
pub use error_workflow::{error_execution_id, failure_item, start_error_workflow};
pub use nats_trigger::NatsTriggers;
pub use node_executor::{NodeExecutor, NodeOutcome, NodeRunRequest};
pub use orchestrator::{
    AttemptLimits, ExecutionOrchestrator, OrchestratorSettings, ORCHESTRATOR_NAME,
};
pub use scheduler::{tick_execution_id, Scheduler};
pub use start_rate::{StartRate, DEFAULT_MAX_STARTS_PER_SEC_PER_WORKFLOW};
pub use starter::{start_execution, ExecutionStart, StartError};
pub use sub_workflows::{child_execution_id, child_outcome, SubWorkflowLimits, SubWorkflowStarter};
