//! Sagas: when an execution fails for good, the saga manager undoes the
//! compensable steps it had completed, in reverse order, through the node
//! library (a compensation is a node run like any other).
//!
//! Layout: `compensation` holds the saga manager (a process manager leading
//! under its own lease) and its compensation policy; `operator_controls` the
//! use cases an operator drives on a parked saga (resume, skip a step). The
//! Saga aggregate they drive lives in `flowforge_domain::saga`.
#![forbid(unsafe_code)]

mod compensation;
mod operator_controls;

pub use compensation::{default_compensation_policy, SagaManager, SAGA_MANAGER_NAME};
pub use operator_controls::{load_saga, resume_parked, skip_parked_step, SagaControlError};
