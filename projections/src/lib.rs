//! The read side: projections fold committed events into read models. Each has a
//! stable name and its own checkpoint, stored in the same transaction as its
//! rows, so a restart resumes exactly where it stopped and a redelivered event
//! changes nothing.
//!
//! Layout: one module per projection (`executions`, `workflows`, `sagas`,
//! `audit_log`), `runner` (leads a projection: lease, bus consumer, batches,
//! checkpoint), `batch` (grouping events for one transaction), `catalog` (the
//! projections by name, with checksums) and `rebuild` (replay into a shadow
//! read model and swap it in).
#![forbid(unsafe_code)]

mod audit_log;
mod batch;
pub mod catalog;
mod executions;
pub mod rebuild;
mod runner;
mod sagas;
mod workflows;

pub use audit_log::AuditLogProjection;
pub use executions::ExecutionsProjection;
pub use runner::{Projection, ProjectionError, ProjectionProgress, ProjectionRunner};
pub use sagas::SagasProjection;
pub use workflows::WorkflowProjection;
