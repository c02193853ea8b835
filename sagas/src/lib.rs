//! Process managers: long-running coordinators that react to events with
//! commands. The execution orchestrator turns an execution's history into the
//! next steps (run a node, schedule a retry, wake a wait, finish) and records
//! each result back on the execution.
#![forbid(unsafe_code)]

mod nats_trigger;
mod node_executor;
mod orchestrator;
mod scheduler;
mod starter;

pub use nats_trigger::NatsTriggers;
pub use node_executor::{NodeExecutor, NodeOutcome, NodeRunRequest};
pub use orchestrator::{ExecutionOrchestrator, ORCHESTRATOR_NAME};
pub use scheduler::Scheduler;
pub use starter::{start_execution, StartError};
