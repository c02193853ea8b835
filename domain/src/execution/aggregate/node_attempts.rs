//! The decisions about one node's attempts: `StartNode` (only a ready node, or
//! the scheduled retry), `CompleteNode` and `FailNode` (only the running
//! attempt; a redelivered result is a no-op), `ScheduleRetry` (only after a
//! failure, within `retry.max_tries`) and `RecordRun` (a pure node's start and
//! outcome in one append). Readiness comes from the [`Plan`], so the aggregate
//! and the orchestrator never disagree about the graph.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Execution, NodeRunStatus};
use crate::aggregate::Aggregate;
use crate::execution::plan::{Finish, NodeState, Plan};
use crate::execution::{ExecutionError, ExecutionEvent, ExecutionId, Item, NodeError, RunOutcome};
use crate::workflow::Node;

impl Execution {
    /// The named node of the pinned definition; every decision that names a
    /// node refuses one the definition lacks.
    pub(super) fn node_definition(&self, node: &str) -> Result<&Node, ExecutionError> {
        self.definition
            .as_deref()
            .and_then(|definition| definition.node(node))
            .ok_or_else(|| ExecutionError::UnknownNode {
                node: node.to_owned(),
            })
    }

    /// Refuses more output lists than `node` has outputs.
    pub(super) fn check_outputs(node: &Node, outputs: &[Vec<Item>]) -> Result<(), ExecutionError> {
        let count = node.output_count();
        if outputs.len() > count {
            return Err(ExecutionError::TooManyOutputs {
                node: node.name().to_owned(),
                outputs: count,
                got: outputs.len(),
            });
        }
        Ok(())
    }

    pub(super) fn start_node_command(
        &self,
        execution_id: ExecutionId,
        node: String,
        attempt: u32,
        input: Vec<Vec<Item>>,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        self.node_definition(&node)?;
        if self.reuse.contains_key(&node) {
            return Err(ExecutionError::NodeAlreadySucceeded { node });
        }
        let started = |node| ExecutionEvent::NodeStarted {
            execution_id,
            node,
            attempt,
            input,
            started_at: at,
        };
        let Some(run) = self.node_run(&node) else {
            if attempt != 1 {
                return Err(ExecutionError::UnexpectedAttempt {
                    node,
                    expected: 1,
                    got: attempt,
                });
            }
            let plan = Plan::of(self);
            if !matches!(plan.state(&node), Some(NodeState::Ready { .. })) {
                return Err(ExecutionError::NodeNotReady { node });
            }
            return Ok(vec![started(node)]);
        };
        let latest = run.latest_attempt_number();
        match run.status {
            // A redelivered start of the attempt in progress.
            NodeRunStatus::Running | NodeRunStatus::Waiting if attempt == latest => Ok(vec![]),
            NodeRunStatus::Running | NodeRunStatus::Waiting => {
                Err(ExecutionError::NodeAlreadyRunning {
                    node,
                    attempt: latest,
                })
            }
            NodeRunStatus::Succeeded => Err(ExecutionError::NodeAlreadySucceeded { node }),
            NodeRunStatus::Failed => Err(ExecutionError::RetryNotScheduled { node }),
            NodeRunStatus::RetryScheduled if attempt == latest + 1 => Ok(vec![started(node)]),
            NodeRunStatus::RetryScheduled => Err(ExecutionError::UnexpectedAttempt {
                node,
                expected: latest + 1,
                got: attempt,
            }),
        }
    }

    pub(super) fn complete_node_command(
        &self,
        execution_id: ExecutionId,
        node: String,
        attempt: u32,
        outputs: Vec<Vec<Item>>,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        Self::check_outputs(self.node_definition(&node)?, &outputs)?;
        let current = self
            .node_run(&node)
            .map(|run| (run.status, run.latest_attempt_number()));
        match current {
            Some((NodeRunStatus::Running, latest)) if latest == attempt => {
                Ok(vec![ExecutionEvent::NodeSucceeded {
                    execution_id,
                    node,
                    attempt,
                    outputs,
                    finished_at: at,
                }])
            }
            Some((NodeRunStatus::Waiting, latest)) if latest == attempt => {
                Err(ExecutionError::NodeWaiting { node })
            }
            // At-least-once delivery: the first recorded result of an attempt wins.
            Some((NodeRunStatus::Succeeded, latest)) if latest == attempt => Ok(vec![]),
            _ => Err(ExecutionError::AttemptNotRunning { node, attempt }),
        }
    }

    pub(super) fn fail_node_command(
        &self,
        execution_id: ExecutionId,
        node: String,
        attempt: u32,
        error: NodeError,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        self.node_definition(&node)?;
        let current = self
            .node_run(&node)
            .map(|run| (run.status, run.latest_attempt_number()));
        match current {
            Some((NodeRunStatus::Running | NodeRunStatus::Waiting, latest))
                if latest == attempt =>
            {
                Ok(vec![ExecutionEvent::NodeFailed {
                    execution_id,
                    node,
                    attempt,
                    error,
                    failed_at: at,
                }])
            }
            Some((NodeRunStatus::Failed | NodeRunStatus::RetryScheduled, latest))
                if latest == attempt =>
            {
                Ok(vec![])
            }
            _ => Err(ExecutionError::AttemptNotRunning { node, attempt }),
        }
    }

    pub(super) fn schedule_retry_command(
        &self,
        execution_id: ExecutionId,
        node: String,
        next_attempt: u32,
        wait_ms: u64,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        let max_tries = max_tries(self.node_definition(&node)?);
        let Some(run) = self.node_run(&node) else {
            return Err(ExecutionError::NodeNotFailed { node });
        };
        let expected = run.latest_attempt_number() + 1;
        match run.status {
            NodeRunStatus::Failed | NodeRunStatus::RetryScheduled if next_attempt != expected => {
                Err(ExecutionError::UnexpectedAttempt {
                    node,
                    expected,
                    got: next_attempt,
                })
            }
            NodeRunStatus::RetryScheduled => Ok(vec![]),
            NodeRunStatus::Failed if next_attempt > max_tries => {
                Err(ExecutionError::RetriesExhausted { node, max_tries })
            }
            NodeRunStatus::Failed => {
                let due_at = i64::try_from(wait_ms)
                    .ok()
                    .and_then(TimeDelta::try_milliseconds)
                    .and_then(|wait| at.checked_add_signed(wait));
                let Some(due_at) = due_at else {
                    return Err(ExecutionError::WaitOutOfRange { node, wait_ms });
                };
                Ok(vec![ExecutionEvent::NodeRetryScheduled {
                    execution_id,
                    node,
                    attempt: next_attempt,
                    wait_ms,
                    scheduled_at: at,
                    due_at,
                }])
            }
            NodeRunStatus::Running | NodeRunStatus::Waiting | NodeRunStatus::Succeeded => {
                Err(ExecutionError::NodeNotFailed { node })
            }
        }
    }

    /// A pure node's start and outcome, decided one after the other as if
    /// they were two commands, plus the execution's success if that outcome
    /// completes the plan.
    pub(super) fn record_run_command(
        &self,
        execution_id: ExecutionId,
        (node, attempt): (String, u32),
        input: Vec<Vec<Item>>,
        outcome: RunOutcome,
        (started_at, finished_at): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        let mut events =
            self.start_node_command(execution_id, node.clone(), attempt, input, started_at)?;
        let mut state = self.clone();
        events.iter().cloned().for_each(|e| state.apply(e));
        let ended = match outcome {
            RunOutcome::Succeeded(outputs) => {
                state.complete_node_command(execution_id, node, attempt, outputs, finished_at)?
            }
            RunOutcome::Failed(error) => {
                state.fail_node_command(execution_id, node, attempt, error, finished_at)?
            }
        };
        ended.iter().cloned().for_each(|e| state.apply(e));
        events.extend(ended);
        if matches!(Plan::of(&state).finish(), Some(Finish::Succeeded { .. })) {
            events.extend(state.succeed_command(execution_id, finished_at)?);
        }
        Ok(events)
    }
}

/// How many times a node may be tried in all: its `retry.max_tries`, or 1.
pub(crate) fn max_tries(node: &Node) -> u32 {
    node.retry().map_or(1, |policy| policy.max_tries)
}
