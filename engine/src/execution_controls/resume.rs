//! Resuming a node that waits for a call with its resume token (a Wait node
//! on a webhook, an approval gate).

use chrono::Utc;
use flowforge_commands::CommandBus;
use flowforge_domain::execution::{Execution, ExecutionCommand, ExecutionId, Item, NodeRunStatus};
use flowforge_infra::event_store::EventMetadata;
use flowforge_nodes::resume::token_matches;

use super::{load_execution, ControlError};

/// Resumes the node of execution `id` that waits for a call with `token`,
/// with `item` as its output; returns the node and the log position. The
/// token is compared in constant time with what the execution keeps of it (a
/// digest). A token resumes once: afterwards no node waits for it, and of two
/// calls racing with it one resumes and the other is refused by the
/// aggregate. The resumption records who called, so the audit log shows it.
///
/// # Errors
/// [`ControlError::ExecutionNotFound`], [`ControlError::NoNodeWaiting`], and
/// the aggregate's refusal as [`ControlError::Command`].
pub async fn resume_with_token(
    commands: &CommandBus,
    id: ExecutionId,
    token: &str,
    item: Item,
    metadata: &EventMetadata,
) -> Result<(String, u64), ControlError> {
    let (execution, _) = load_execution(commands, id).await?;
    let node = execution
        .node_runs()
        .iter()
        .filter(|run| run.status() == NodeRunStatus::Waiting)
        .find(|run| {
            run.resume_token()
                .is_some_and(|secret| token_matches(secret, token))
        })
        .map(|run| run.node().to_owned())
        .ok_or(ControlError::NoNodeWaiting(id))?;
    let command = ExecutionCommand::ResumeWithToken {
        node: node.clone(),
        outputs: vec![vec![item]],
        actor: metadata.actor_or_anonymous(),
        at: Utc::now(),
    };
    let outcome = commands
        .execute::<Execution>(&id.to_string(), command, None, metadata)
        .await?;
    Ok((node, outcome.position))
}
