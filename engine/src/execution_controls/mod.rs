//! The operator's and caller's controls over executions, as use cases the
//! HTTP API (or any other edge) calls: start one on request (bounded by the
//! backlog, idempotent by a derived id), retry a failed one, resume a node
//! that waits for a token, cancel one. Each returns a typed
//! [`ControlError`]; the edge decides what that means for its callers.
//!
//! Layout: `requested_start` (a start a caller asked for), `retry`,
//! `resume` (a waiting node's token), `cancel`, and this module's error and
//! loading helpers.

mod cancel;
mod requested_start;
mod resume;
mod retry;

use flowforge_commands::{CommandBus, CommandError};
use flowforge_domain::execution::{Execution, ExecutionError, ExecutionId};
use flowforge_infra::event_store::EventStoreError;

use crate::{backlog::BacklogFull, starter::StartError};

pub use cancel::cancel;
pub use requested_start::{start_requested, RequestedStart, Started};
pub use resume::resume_with_token;
pub use retry::retry;

/// Why an execution control did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No execution has this id.
    #[error("execution {0} not found")]
    ExecutionNotFound(ExecutionId),
    /// No node of the execution waits for the token that was given.
    #[error("no node of execution {0} waits for this token")]
    NoNodeWaiting(ExecutionId),
    /// Only a failed or cancelled execution can be retried.
    #[error(
        "execution {execution_id} is {status}; only a failed or cancelled execution can be retried"
    )]
    NotRetryable {
        /// The execution.
        execution_id: ExecutionId,
        /// Its status.
        status: &'static str,
    },
    /// The execution's stream holds no request to repeat: a bug or a damaged log.
    #[error("execution {0} has no request to retry")]
    NoRequest(ExecutionId),
    /// The backlog of pending executions has no room for the start.
    #[error(transparent)]
    BacklogFull(#[from] BacklogFull),
    /// Recording the start failed.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The execution aggregate refused the command, or the store failed.
    #[error(transparent)]
    Command(#[from] CommandError<ExecutionError>),
    /// Reading the event log failed.
    #[error(transparent)]
    Store(#[from] EventStoreError),
}

/// The execution with its stream version, if it exists.
///
/// # Errors
/// [`ControlError::ExecutionNotFound`] when no execution has the id, and
/// whatever loading it fails with.
pub async fn load_execution(
    commands: &CommandBus,
    id: ExecutionId,
) -> Result<(Execution, u64), ControlError> {
    let (execution, version) = commands.load::<Execution>(&id.to_string()).await?;
    if execution.exists() {
        Ok((execution, version))
    } else {
        Err(ControlError::ExecutionNotFound(id))
    }
}
