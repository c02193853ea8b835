//! Sagas: when an execution fails for good, the saga manager undoes the
//! compensable steps it had completed, in reverse order, through the node
//! library (a compensation is a node run like any other).
//!
//! Layout: `compensation` holds the saga manager (a process manager leading
//! under its own lease) and its compensation policy. The Saga aggregate it
//! drives lives in `flowforge_domain::saga`.
#![forbid(unsafe_code)]

mod compensation;

pub use compensation::{default_compensation_policy, SagaManager, SAGA_MANAGER_NAME};
