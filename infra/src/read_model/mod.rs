//! Storage for read models: the tables queries read, written only by projections.
//! Each write carries the projection's checkpoint in the same transaction, so a
//! crash can never leave a read model ahead of or behind its checkpoint.

mod audit_log;
mod postgres;
mod sqlite;
mod workflow_views;

pub use audit_log::{AuditEntry, AuditLog, AuditQuery, AUDIT_PROJECTION};
pub use postgres::PostgresWorkflowViews;
pub use sqlite::SqliteWorkflowViews;
pub use workflow_views::{WorkflowListQuery, WorkflowStatus, WorkflowView, WorkflowViewStore};

/// Why a read-model operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// The database could not be reached or refused the statement.
    #[error("read model database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored row could not be decoded.
    #[error("corrupt read model row: {0}")]
    Corrupt(String),
}
