//! The `Execution` aggregate: one run of a workflow, pinned to the definition
//! version it was requested with. It records each node attempt (input, outputs,
//! error, waits, retries) and how the run ended. `handle` guards the life cycle —
//! nothing after the end, a node runs once, attempts only go up — and asks the
//! [`Plan`] whether a node is ready or the run complete, so the orchestrator and
//! the aggregate can never disagree about the graph.
//!
//! Layout: `state` is what an execution remembers and `node_run` what it
//! remembers of each node. The decisions are grouped by command: `request`
//! (Request, Queue), `node_attempts` (StartNode, RecordRun, CompleteNode,
//! FailNode, ScheduleRetry), `resume` (Wait, Resume, ResumeWithToken) and
//! `endings` (Succeed, Fail, Cancel). This module holds the [`Aggregate`] impl:
//! `handle` checks the life cycle and hands each command to its decision,
//! `apply` records each event.
//!
//! [`Plan`]: crate::execution::Plan

use std::sync::Arc;

use crate::aggregate::Aggregate;
use crate::execution::{ExecutionCommand, ExecutionError, ExecutionEvent};

mod endings;
mod node_attempts;
mod node_run;
mod request;
mod resume;
mod state;

pub(crate) use node_attempts::max_tries;
pub use node_run::{Attempt, NodeRun, NodeRunStatus};
pub use request::MAX_SUB_WORKFLOW_DEPTH;
pub use resume::{resume_target, ResumeSecret};
pub use state::{Cancellation, Execution, ExecutionFailure, ExecutionStatus};

impl Aggregate for Execution {
    const TYPE: &'static str = "execution";
    type Command = ExecutionCommand;
    type Event = ExecutionEvent;
    type Error = ExecutionError;

    fn handle(&self, command: ExecutionCommand) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        let Some(execution_id) = self.id else {
            return request::requested(command).map(|event| vec![event]);
        };
        let finished = |status| ExecutionError::AlreadyFinished {
            execution_id,
            status,
        };
        // Ending commands first: repeating the one that ended the run is a no-op.
        match (&command, self.status) {
            (ExecutionCommand::Request { .. }, _) => {
                let event = request::requested(command)?;
                return if Some(&event) == self.requested_event(execution_id).as_ref() {
                    Ok(vec![])
                } else {
                    Err(ExecutionError::AlreadyExists { execution_id })
                };
            }
            (ExecutionCommand::Succeed { .. }, ExecutionStatus::Succeeded)
            | (ExecutionCommand::Fail { .. }, ExecutionStatus::Failed)
            | (ExecutionCommand::Cancel { .. }, ExecutionStatus::Cancelled) => return Ok(vec![]),
            (_, status) if status.is_finished() => return Err(finished(status)),
            _ => {}
        }
        match command {
            ExecutionCommand::Request { .. } => Err(ExecutionError::AlreadyExists { execution_id }),
            ExecutionCommand::StartNode {
                node,
                attempt,
                input,
                at,
            } => self.start_node_command(execution_id, node, attempt, input, at),
            ExecutionCommand::RecordRun {
                node,
                attempt,
                input,
                outcome,
                started_at,
                finished_at,
            } => self.record_run_command(
                execution_id,
                (node, attempt),
                input,
                outcome,
                (started_at, finished_at),
            ),
            ExecutionCommand::CompleteNode {
                node,
                attempt,
                outputs,
                at,
            } => self.complete_node_command(execution_id, node, attempt, outputs, at),
            ExecutionCommand::FailNode {
                node,
                attempt,
                error,
                at,
            } => self.fail_node_command(execution_id, node, attempt, error, at),
            ExecutionCommand::ScheduleRetry {
                node,
                next_attempt,
                wait_ms,
                at,
            } => self.schedule_retry_command(execution_id, node, next_attempt, wait_ms, at),
            ExecutionCommand::Wait {
                node,
                until,
                resume_token_sha256,
                at,
            } => self.wait_command(execution_id, node, until, resume_token_sha256, at),
            ExecutionCommand::Resume { node, outputs, at } => {
                self.resume_command(execution_id, node, outputs, at)
            }
            ExecutionCommand::ResumeWithToken {
                node,
                outputs,
                actor,
                at,
            } => self.resume_with_token_command(execution_id, node, outputs, actor, at),
            ExecutionCommand::Succeed { at } => self.succeed_command(execution_id, at),
            ExecutionCommand::Fail {
                error,
                failed_node,
                at,
            } => self.fail_command(execution_id, failed_node, error, at),
            ExecutionCommand::Queue { at } => Ok(self.queue_command(execution_id, at)),
            ExecutionCommand::Cancel { reason, actor, at } => {
                Ok(Self::cancel_command(execution_id, reason, actor, at))
            }
        }
    }

    fn apply(&mut self, event: ExecutionEvent) {
        match event {
            ExecutionEvent::Requested {
                execution_id,
                workflow_id,
                definition_version,
                definition,
                trigger,
                input,
                parent,
                reuse,
                requested_at,
            } => {
                *self = Self {
                    id: Some(execution_id),
                    workflow_id: Some(workflow_id),
                    definition_version,
                    definition: Some(Arc::new(definition)),
                    trigger: Some(trigger),
                    input,
                    parent,
                    reuse,
                    requested_at: Some(requested_at),
                    ..Self::default()
                };
            }
            ExecutionEvent::NodeStarted {
                node,
                attempt,
                input,
                started_at,
                ..
            } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::Running;
                run.next_retry_at = None;
                let record = run.attempt_mut(attempt, started_at);
                record.input = Arc::new(input);
                record.started_at = started_at;
            }
            ExecutionEvent::NodeSucceeded {
                node,
                attempt,
                outputs,
                finished_at,
                ..
            } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::Succeeded;
                let record = run.attempt_mut(attempt, finished_at);
                record.outputs = Some(Arc::new(outputs));
                record.finished_at = Some(finished_at);
                self.finish_order.push(node);
            }
            ExecutionEvent::NodeFailed {
                node,
                attempt,
                error,
                failed_at,
                ..
            } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::Failed;
                run.waiting_until = None;
                run.set_resume_token(None);
                let record = run.attempt_mut(attempt, failed_at);
                record.error = Some(error);
                record.finished_at = Some(failed_at);
                self.finish_order.push(node);
            }
            ExecutionEvent::NodeRetryScheduled { node, due_at, .. } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::RetryScheduled;
                run.next_retry_at = Some(due_at);
            }
            ExecutionEvent::NodeWaiting {
                node,
                attempt,
                until,
                resume_token,
                resume_token_sha256,
                waiting_since,
                ..
            } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::Waiting;
                run.waiting_until = until;
                run.set_resume_token(
                    resume_token_sha256
                        .map(ResumeSecret::Sha256)
                        .or(resume_token.map(ResumeSecret::Clear)),
                );
                run.attempt_mut(attempt, waiting_since).waiting_since = Some(waiting_since);
            }
            ExecutionEvent::NodeResumed {
                node,
                attempt,
                outputs,
                resumed_at,
                ..
            } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::Succeeded;
                run.waiting_until = None;
                run.set_resume_token(None);
                let record = run.attempt_mut(attempt, resumed_at);
                record.outputs = Some(Arc::new(outputs));
                record.finished_at = Some(resumed_at);
                self.finish_order.push(node);
            }
            ExecutionEvent::Succeeded {
                last_node,
                output,
                finished_at,
                ..
            } => {
                self.status = ExecutionStatus::Succeeded;
                self.finished_at = Some(finished_at);
                self.last_node = last_node;
                self.output = Some(output);
            }
            ExecutionEvent::Failed {
                failed_node,
                error,
                finished_at,
                ..
            } => {
                self.status = ExecutionStatus::Failed;
                self.finished_at = Some(finished_at);
                self.failure = Some(ExecutionFailure {
                    node: failed_node,
                    error,
                });
            }
            ExecutionEvent::Queued { .. } => self.queued = true,
            ExecutionEvent::Cancelled {
                reason,
                actor,
                finished_at,
                ..
            } => {
                self.status = ExecutionStatus::Cancelled;
                self.finished_at = Some(finished_at);
                self.cancellation = Some(Cancellation { reason, actor });
            }
        }
        self.refresh_status();
    }
}
