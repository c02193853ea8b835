//! The operator's two controls over a parked saga: resume it (its parked
//! step gets a fresh round of tries, then the steps before it), or mark the
//! parked step compensated by hand. Both are recorded with who asked.

use chrono::Utc;
use flowforge_commands::{CommandBus, CommandError};
use flowforge_domain::{
    execution::ExecutionId,
    saga::{Saga, SagaCommand, SagaError},
};
use flowforge_infra::event_store::EventMetadata;

/// Why an operator control did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SagaControlError {
    /// The execution has no saga.
    #[error("saga {0} not found")]
    SagaNotFound(ExecutionId),
    /// The saga refused the command (it is not parked, or that is not the
    /// parked step), or the store failed.
    #[error(transparent)]
    Command(#[from] CommandError<SagaError>),
}

/// The saga of execution `id` with its stream version, if it has one.
///
/// # Errors
/// [`SagaControlError::SagaNotFound`], and whatever loading fails with.
pub async fn load_saga(
    commands: &CommandBus,
    id: ExecutionId,
) -> Result<(Saga, u64), SagaControlError> {
    let (saga, version) = commands.load::<Saga>(&id.to_string()).await?;
    if saga.exists() {
        Ok((saga, version))
    } else {
        Err(SagaControlError::SagaNotFound(id))
    }
}

/// Resumes the parked saga of execution `id`; returns the log position of
/// the resumption.
///
/// # Errors
/// [`SagaControlError::SagaNotFound`], and the saga's refusal when it is not
/// parked.
pub async fn resume_parked(
    commands: &CommandBus,
    id: ExecutionId,
    metadata: &EventMetadata,
) -> Result<u64, SagaControlError> {
    let command = SagaCommand::Resume {
        actor: metadata.actor_or_anonymous(),
        at: Utc::now(),
    };
    execute(commands, id, command, metadata).await
}

/// Marks `step`, the parked step of execution `id`'s saga, compensated by
/// hand, recording `reason`; returns the log position of the skip.
///
/// # Errors
/// [`SagaControlError::SagaNotFound`], and the saga's refusal when it is not
/// parked or `step` is not the parked step.
pub async fn skip_parked_step(
    commands: &CommandBus,
    id: ExecutionId,
    step: String,
    reason: Option<String>,
    metadata: &EventMetadata,
) -> Result<u64, SagaControlError> {
    let command = SagaCommand::SkipStep {
        step,
        actor: metadata.actor_or_anonymous(),
        reason: reason.unwrap_or_else(|| "compensated by hand".to_owned()),
        at: Utc::now(),
    };
    execute(commands, id, command, metadata).await
}

async fn execute(
    commands: &CommandBus,
    id: ExecutionId,
    command: SagaCommand,
    metadata: &EventMetadata,
) -> Result<u64, SagaControlError> {
    load_saga(commands, id).await?;
    let outcome = commands
        .execute::<Saga>(&id.to_string(), command, None, metadata)
        .await?;
    Ok(outcome.position)
}
