//! Storage for read models: the tables queries read, written only by projections.
//!
//! Layout: `store` is the one way a read model touches its database — a write
//! is one transaction that claims the projection's checkpoint, applies the read
//! model's SQL and advances the checkpoint, so a crash can never leave a read
//! model ahead of or behind its checkpoint; reads go to SQLite's reader pool
//! (or PostgreSQL's one pool).
//! `workflow_views`, `executions`, `sagas` and `audit_log` each hold one
//! read model: its rows, its queries and its SQL once per dialect. `columns`
//! reads back the columns the dialects store differently, `tenant_scope`
//! limits queries to a workspace's rows, and `rebuild` rebuilds a read model
//! beside the live one and swaps it in.

mod audit_log;
mod columns;
mod executions;
pub mod rebuild;
mod sagas;
mod store;
mod tenant_scope;
mod workflow_views;

pub use audit_log::{live_audit_log, AuditEntry, AuditLog, AuditQuery, AUDIT_PROJECTION};
pub use executions::{
    live_execution_views, ExecutionChange, ExecutionQuery, ExecutionView, ExecutionViews,
    EXECUTIONS_PROJECTION,
};
pub use sagas::{live_saga_views, SagaChange, SagaQuery, SagaView, SagaViews, SAGAS_PROJECTION};
pub use tenant_scope::TenantScope;
pub use workflow_views::{
    active_workflows, live_workflow_views, WorkflowListQuery, WorkflowStatus, WorkflowView,
    WorkflowViewStore, WorkflowViews, WORKFLOWS_PROJECTION,
};

/// Why a read-model operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// The database could not be reached or refused the statement.
    #[error("read model database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored row could not be decoded.
    #[error("corrupt read model row: {0}")]
    Corrupt(String),
    /// The checkpoint is not where the writer left it: the read model was
    /// rebuilt and swapped in meanwhile. Resume from the stored checkpoint.
    #[error("checkpoint {name} is at {actual}, expected {expected}: resume from it")]
    CheckpointMoved {
        /// The checkpoint.
        name: String,
        /// Where the writer believed it was.
        expected: u64,
        /// Where it is.
        actual: u64,
    },
}

/// Where a projection writes: its table and its checkpoint row. Rebuilds write
/// to a shadow target and swap it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadModelTarget {
    /// The table holding the rows.
    pub table: String,
    /// The name of the checkpoint row in `projection_checkpoints`.
    pub checkpoint: String,
}

impl ReadModelTarget {
    /// A target with this table and checkpoint name.
    pub fn new(table: impl Into<String>, checkpoint: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            checkpoint: checkpoint.into(),
        }
    }

    /// Where a rebuild of this target writes before the swap.
    pub fn shadow(&self) -> Self {
        Self {
            table: format!("{}_rebuild", self.table),
            checkpoint: format!("{}:rebuild", self.checkpoint),
        }
    }
}
