//! The decisions that end an execution: `Succeed` (only once the [`Plan`] says
//! every node is done or skipped), `Fail` (from outside, e.g. a timeout, at any
//! time) and `Cancel`. Repeating the command that ended the run is a no-op and
//! any other command afterwards is refused; that guard is in `handle`.

use chrono::{DateTime, Utc};

use super::Execution;
use crate::execution::plan::{Finish, Plan};
use crate::execution::{ExecutionError, ExecutionEvent, ExecutionId, NodeError};

impl Execution {
    /// `Succeed`: only when the plan says the run is complete; a refusal names
    /// the nodes still open.
    pub(super) fn succeed_command(
        &self,
        execution_id: ExecutionId,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        let plan = Plan::of(self);
        match plan.finish() {
            Some(Finish::Succeeded { last_node, output }) => Ok(vec![ExecutionEvent::Succeeded {
                execution_id,
                last_node,
                output,
                finished_at: at,
            }]),
            Some(Finish::Failed { .. }) | None => Err(ExecutionError::NotComplete {
                nodes: plan.open_nodes().map(str::to_owned).collect(),
            }),
        }
    }

    /// `Fail`: accepted while nodes still run; a failed node it names must exist.
    pub(super) fn fail_command(
        &self,
        execution_id: ExecutionId,
        failed_node: Option<String>,
        error: NodeError,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        if let Some(node) = &failed_node {
            self.node_definition(node)?;
        }
        Ok(vec![ExecutionEvent::Failed {
            execution_id,
            failed_node,
            error,
            finished_at: at,
        }])
    }

    /// `Cancel`: always accepted while the run has not ended.
    pub(super) fn cancel_command(
        execution_id: ExecutionId,
        reason: String,
        actor: String,
        at: DateTime<Utc>,
    ) -> Vec<ExecutionEvent> {
        vec![ExecutionEvent::Cancelled {
            execution_id,
            reason,
            actor,
            finished_at: at,
        }]
    }
}
