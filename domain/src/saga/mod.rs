//! Sagas: one per execution whose workflow has compensable nodes (nodes with a
//! `compensation`). The saga records each compensable step as it completes,
//! with the data its compensation needs; when the execution fails for good, is
//! cancelled or passes its deadline, the saga undoes the completed steps in
//! reverse order of completion, each until it succeeds or the saga parks for
//! an operator. Its state is the fold of its events; the saga process manager
//! (in `sagas/`) runs the compensations and records their outcomes here.

mod aggregate;
mod commands;
mod errors;
mod events;

pub use aggregate::{Saga, SagaStatus, SagaStep, StepStatus};
pub use commands::SagaCommand;
pub use errors::SagaError;
pub use events::{CompensationReason, SagaEvent};
