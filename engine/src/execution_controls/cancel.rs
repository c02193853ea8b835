//! Cancelling an execution on a caller's behalf.

use chrono::Utc;
use flowforge_commands::CommandBus;
use flowforge_domain::execution::{Execution, ExecutionCommand, ExecutionId};
use flowforge_infra::event_store::EventMetadata;

use super::{load_execution, ControlError};

/// Cancels execution `id` for the request's actor, with `reason`; returns
/// the log position of the cancellation.
///
/// # Errors
/// [`ControlError::ExecutionNotFound`], and the aggregate's refusal (an
/// execution that has ended) as [`ControlError::Command`].
pub async fn cancel(
    commands: &CommandBus,
    id: ExecutionId,
    reason: String,
    metadata: &EventMetadata,
) -> Result<u64, ControlError> {
    load_execution(commands, id).await?;
    let command = ExecutionCommand::Cancel {
        reason,
        actor: metadata.actor_or_anonymous(),
        at: Utc::now(),
    };
    let outcome = commands
        .execute::<Execution>(&id.to_string(), command, None, metadata)
        .await?;
    Ok(outcome.position)
}
