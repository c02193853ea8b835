//! The life of an execution around its node runs: resuming the executions left
//! open at the start of a term, admission under a workflow's concurrency cap,
//! the execution time limit, collecting the results of child executions,
//! failing for good (after starting the error workflow) and what follows the
//! end of an execution.

use std::{sync::Arc, time::Duration};

use flowforge_domain::execution::{
    Execution, ExecutionCommand, ExecutionId, ExecutionStatus, NodeError, NodeRunStatus,
};
use flowforge_domain::workflow::NodeType;
use tracing::{info, warn};

use super::{admission::Candidate, ExecutionOrchestrator, Work, RECORD_ATTEMPTS};
use crate::{
    error_workflow::{is_transient, start_error_workflow},
    sub_workflows::{child_execution_id, child_outcome},
};

impl ExecutionOrchestrator {
    /// Advances the executions found open at the start of a term: those that
    /// already ran a node first (they hold their slots), then the rest in
    /// request order, so a concurrency cap admits the oldest.
    pub(super) async fn resume_open(self: &Arc<Self>, open: Vec<ExecutionId>) {
        let mut order = Vec::with_capacity(open.len());
        for id in open {
            if let Ok((execution, _)) = self.commands.load::<Execution>(&id.to_string()).await {
                let fresh = execution.node_runs().is_empty();
                order.push((fresh, execution.requested_at(), id));
            }
        }
        order.sort();
        for (_, _, id) in order {
            self.advance(id).await;
        }
    }

    /// What follows the end of an execution: its timers and runs stop, its
    /// concurrency slot goes to the next in the queue, its caller (if it is a
    /// sub-workflow) is woken, and its own children stop if it did not succeed.
    pub(super) async fn finished(self: &Arc<Self>, id: ExecutionId, execution: &Execution) {
        if self.forget(id) {
            let metrics = flowforge_monitoring::metrics();
            let status = [execution.status().as_str()];
            metrics.executions_finished.with_label_values(&status).inc();
            if let Some(duration) = execution.duration().and_then(|d| d.to_std().ok()) {
                metrics
                    .execution_duration
                    .with_label_values(&status)
                    .observe(duration.as_secs_f64());
            }
        }
        if let (Some(workflow), Some(limit)) = (
            execution.workflow_id(),
            execution
                .definition()
                .and_then(|d| d.workflow_settings().max_concurrent_executions),
        ) {
            let admitted = self
                .admission
                .lock()
                .map(|mut admission| admission.finish(workflow, id, limit))
                .unwrap_or_default();
            for next in admitted {
                let _ = self.wake.send(next);
            }
        }
        if let Some(parent) = execution.parent() {
            let _ = self.wake.send(parent.execution_id);
        }
        if execution.status() != ExecutionStatus::Succeeded {
            for (node, attempt) in waiting_children(execution) {
                let child = child_execution_id(id, &node, attempt);
                let command = ExecutionCommand::Cancel {
                    reason: format!("its calling execution {id} ended"),
                    actor: "system".to_owned(),
                    at: self.clock.now(),
                };
                self.record(child, command).await;
            }
        }
    }

    /// Whether the execution may run now under its workflow's concurrency cap.
    pub(super) fn admit(&self, id: ExecutionId, execution: &Execution) -> bool {
        let (Some(workflow), Some(requested_at), Some(limit)) = (
            execution.workflow_id(),
            execution.requested_at(),
            execution
                .definition()
                .and_then(|d| d.workflow_settings().max_concurrent_executions),
        ) else {
            return true;
        };
        let candidate = Candidate {
            workflow,
            execution: id,
            requested_at,
            started: !execution.node_runs().is_empty(),
        };
        let Ok(mut admission) = self.admission.lock() else {
            return true;
        };
        let (runs, others) = admission.request(candidate, limit);
        for other in others {
            let _ = self.wake.send(other);
        }
        runs
    }

    /// Starts the timer that fails the execution at its time limit, once.
    pub(super) fn arm_deadline(self: &Arc<Self>, id: ExecutionId, execution: &Execution) {
        let (Some(limit), Some(requested_at)) = (
            execution
                .definition()
                .and_then(|d| d.workflow_settings().execution_timeout_ms),
            execution.requested_at(),
        ) else {
            return;
        };
        if !self.claim(&Work::Deadline(id)) {
            return;
        }
        let deadline = requested_at + chrono::TimeDelta::milliseconds(limit as i64);
        let stop = self.stop_token(id);
        let this = self.clone();
        tokio::spawn(async move {
            if !this.sleep_until(deadline, &stop).await {
                return;
            }
            let Ok((execution, _)) = this.commands.load::<Execution>(&id.to_string()).await else {
                this.release(&Work::Deadline(id));
                return;
            };
            if execution.is_finished() {
                return;
            }
            info!(%id, limit_ms = limit, "execution time limit reached");
            let error = NodeError::new(format!(
                "the execution ran longer than its limit of {limit} ms"
            ))
            .with_code("execution_timeout")
            .with_details(serde_json::json!({"execution_timeout_ms": limit}));
            this.fail(id, &execution, error, None).await;
        });
    }

    /// Resumes or fails the waiting `execute_workflow` nodes whose child
    /// execution has ended; true if it recorded something (the new event
    /// advances the execution again).
    pub(super) async fn collect_child_results(
        &self,
        id: ExecutionId,
        execution: &Execution,
    ) -> bool {
        let mut recorded = false;
        for (node, attempt) in waiting_children(execution) {
            let child = child_execution_id(id, &node, attempt);
            let Ok((child, _)) = self.commands.load::<Execution>(&child.to_string()).await else {
                continue;
            };
            if let Some(command) = child_outcome(&node, attempt, &child) {
                recorded |= self.record(id, command).await;
            }
        }
        recorded
    }

    /// Fails the execution for good: first starts its error workflow (if its
    /// settings name one), then records the failure, so a crash in between
    /// starts the error workflow again under the same id rather than never.
    pub(super) async fn fail(
        &self,
        id: ExecutionId,
        execution: &Execution,
        error: NodeError,
        failed_node: Option<String>,
    ) {
        let mut pause = Duration::from_millis(50);
        for attempt in 1..=RECORD_ATTEMPTS {
            match start_error_workflow(&self.commands, execution, &error, failed_node.as_deref())
                .await
            {
                Ok(Some(started)) => {
                    info!(%id, error_execution = %started, "error workflow started");
                    break;
                }
                Ok(None) => break,
                Err(start_error) if is_transient(&start_error) && attempt < RECORD_ATTEMPTS => {
                    warn!(%id, error = %start_error, "cannot start the error workflow; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(start_error) => {
                    warn!(%id, error = %start_error, "the error workflow could not be started");
                    break;
                }
            }
        }
        let command = ExecutionCommand::Fail {
            error,
            failed_node,
            at: self.clock.now(),
        };
        self.record(id, command).await;
    }
}

/// The `execute_workflow` node attempts of `execution` that wait for a child.
fn waiting_children(execution: &Execution) -> Vec<(String, u32)> {
    let Some(definition) = execution.definition() else {
        return Vec::new();
    };
    execution
        .node_runs()
        .iter()
        .filter(|run| run.status() == NodeRunStatus::Waiting)
        .filter(|run| {
            definition
                .node(run.node())
                .is_some_and(|node| node.node_type() == NodeType::ExecuteWorkflow)
        })
        .filter(|run| run.resume_token().is_none() && run.waiting_until().is_none())
        .map(|run| (run.node().to_owned(), run.latest_attempt_number()))
        .collect()
}
