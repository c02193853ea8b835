//! The decisions that begin an execution: `Request` (a caller within the depth
//! limit, a trigger node that is one, reused outputs of known nodes; asking
//! again with the same content is a no-op) and `Queue` (held back by the
//! workflow's concurrency cap, once, before any node ran).

use chrono::{DateTime, Utc};

use super::Execution;
use crate::execution::{ExecutionCommand, ExecutionError, ExecutionEvent, ExecutionId};

/// How many sub-workflow calls deep an execution may run. Past it, the call
/// fails instead of starting yet another execution (a workflow that calls
/// itself would otherwise never stop).
pub const MAX_SUB_WORKFLOW_DEPTH: u32 = 32;

/// Checks a `Request` and turns it into the event it records.
pub(super) fn requested(command: ExecutionCommand) -> Result<ExecutionEvent, ExecutionError> {
    let ExecutionCommand::Request {
        execution_id,
        workflow_id,
        definition_version,
        definition,
        trigger,
        input,
        parent,
        reuse,
        at,
    } = command
    else {
        return Err(ExecutionError::NotFound);
    };
    if let Some(depth) = parent
        .as_ref()
        .map(|p| p.depth)
        .filter(|depth| *depth > MAX_SUB_WORKFLOW_DEPTH)
    {
        return Err(ExecutionError::TooDeep {
            depth,
            limit: MAX_SUB_WORKFLOW_DEPTH,
        });
    }
    if let Some(node) = &trigger.node {
        match definition.node(node) {
            None => return Err(ExecutionError::UnknownNode { node: node.clone() }),
            Some(found) if !found.is_trigger() => {
                return Err(ExecutionError::NotATrigger { node: node.clone() })
            }
            Some(_) => {}
        }
    }
    for (node, outputs) in &reuse {
        let Some(found) = definition.node(node) else {
            return Err(ExecutionError::UnknownNode { node: node.clone() });
        };
        Execution::check_outputs(found, outputs)?;
    }
    Ok(ExecutionEvent::Requested {
        execution_id,
        workflow_id,
        definition_version,
        definition,
        trigger,
        input,
        parent,
        reuse,
        requested_at: at,
    })
}

impl Execution {
    /// The `Requested` event this state was built from, so that a repeated
    /// request with the same content is told apart from a different one.
    pub(super) fn requested_event(&self, execution_id: ExecutionId) -> Option<ExecutionEvent> {
        Some(ExecutionEvent::Requested {
            execution_id,
            workflow_id: self.workflow_id?,
            definition_version: self.definition_version,
            definition: self.definition.as_deref()?.clone(),
            trigger: self.trigger.clone()?,
            input: self.input.clone(),
            parent: self.parent.clone(),
            reuse: self.reuse.clone(),
            requested_at: self.requested_at?,
        })
    }

    /// `Queue`: only before any node ran, and only once.
    pub(super) fn queue_command(
        &self,
        execution_id: ExecutionId,
        at: DateTime<Utc>,
    ) -> Vec<ExecutionEvent> {
        if self.queued || !self.node_runs.is_empty() {
            vec![]
        } else {
            vec![ExecutionEvent::Queued {
                execution_id,
                queued_at: at,
            }]
        }
    }
}
