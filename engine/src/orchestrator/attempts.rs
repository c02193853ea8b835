//! Node attempts: each runs in a task of its own (after its due time, in a
//! slot of the attempt pool), under its node's timeout, and its start and
//! outcome are recorded on the execution; an attempt a dead process left
//! running is run again with the same attempt number.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use flowforge_commands::CommandError;
use flowforge_domain::{
    execution::{
        resume_target, Execution, ExecutionCommand, ExecutionError, ExecutionId, NodeError,
        NodeRunStatus, RunOutcome,
    },
    workflow::{Node, WorkflowId},
};
use flowforge_infra::event_store::EventMetadata;
use flowforge_nodes::{NodeOutcome, NodeRunRequest};
use tokio_util::sync::CancellationToken;
use tracing::{debug, field::Empty, info, warn, Instrument};

use super::{ExecutionOrchestrator, Work, ORCHESTRATOR_NAME, RECORD_ATTEMPTS};

impl ExecutionOrchestrator {
    /// Attempts recorded as running that no task of this process runs: their
    /// process died. Run them again, same attempt, same idempotency key.
    pub(super) fn rerun_orphaned_attempts(
        self: &Arc<Self>,
        id: ExecutionId,
        execution: &Execution,
    ) {
        for run in execution.node_runs() {
            if run.status() != NodeRunStatus::Running {
                continue;
            }
            let Some(attempt) = run.latest_attempt() else {
                continue;
            };
            let work = Work::Attempt(id, run.node().to_owned(), attempt.attempt());
            if self.claim(&work) {
                info!(%id, node = run.node(), attempt = attempt.attempt(), "re-running an attempt interrupted by a restart");
                let input = attempt.input().to_vec();
                self.spawn_attempt(
                    id,
                    execution,
                    run.node().to_owned(),
                    attempt.attempt(),
                    input,
                    None,
                    false,
                );
            }
        }
    }

    /// Runs one node attempt in its own task: (wait for its due time,) record
    /// the start, run it under its timeout, record the outcome.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn spawn_attempt(
        self: &Arc<Self>,
        id: ExecutionId,
        execution: &Execution,
        node: String,
        attempt: u32,
        input: Vec<Vec<flowforge_domain::execution::Item>>,
        due_at: Option<DateTime<Utc>>,
        record_start: bool,
    ) {
        let Some(definition) = execution.definition().and_then(|d| d.node(&node)).cloned() else {
            warn!(%id, node, "node missing from the pinned definition");
            return;
        };
        let Some(workflow_id) = execution.workflow_id() else {
            return;
        };
        let resume_node = execution
            .definition()
            .and_then(|d| resume_target(d, &node))
            .map(str::to_owned);
        let node_outputs: BTreeMap<String, _> = execution
            .node_runs()
            .iter()
            .filter_map(|run| {
                Some((
                    run.node().to_owned(),
                    run.latest_attempt()?.shared_outputs()?.clone(),
                ))
            })
            .collect();
        let this = self.clone();
        let stop = self.stop_token(id);
        let caller = tracing::Span::current();
        self.attempts.spawn(async move {
            let work = Work::Attempt(id, node.clone(), attempt);
            if let Some(due_at) = due_at {
                if !this.sleep_until(due_at, &stop).await {
                    this.release(&work);
                    return;
                }
            }
            let span = tracing::info_span!(
                parent: &caller,
                "node.run",
                otel.name = format!("node {node}"),
                otel.status_code = Empty,
                otel.status_message = Empty,
                execution_id = %id,
                node = %node,
                node_type = definition.node_type().as_str(),
                attempt,
                outcome = Empty,
            );
            let due = DueAttempt {
                id,
                work,
                definition,
                workflow_id,
                node,
                attempt,
                input,
                record_start,
                node_outputs,
                resume_node,
                stop,
            };
            this.run_attempt(due).instrument(span).await;
        });
    }

    /// One node attempt, due now: (record the start,) run it under its
    /// timeout, record the outcome.
    async fn run_attempt(self: Arc<Self>, due: DueAttempt) {
        let DueAttempt {
            id,
            work,
            definition,
            workflow_id,
            node,
            attempt,
            input,
            record_start,
            node_outputs,
            resume_node,
            stop,
        } = due;
        // Wait for a slot; shutting down, no new attempt starts (the next
        // leader runs it).
        let _slot = tokio::select! {
            slot = self.slots.acquire(id) => slot,
            () = stop.cancelled() => {
                self.release(&work);
                return;
            }
            () = self.shutdown.cancelled() => {
                self.release(&work);
                return;
            }
        };
        if self.shutdown.is_cancelled() {
            self.release(&work);
            return;
        }
        // A pure node runs before anything is recorded, and its start and
        // outcome are recorded together: one append instead of two.
        let definition_type = definition.node_type();
        let pure = record_start && definition_type.is_pure();
        let started_at = self.clock.now();
        let recorded_input = input.clone();
        let start = ExecutionCommand::StartNode {
            node: node.clone(),
            attempt,
            input: recorded_input.clone(),
            at: started_at,
        };
        if record_start && !pure && !self.record(id, start.clone()).await {
            self.release(&work);
            return;
        }
        let timeout = definition.timeout_ms().map(Duration::from_millis);
        let request = NodeRunRequest {
            execution_id: id,
            workflow_id,
            node: definition,
            attempt,
            input,
            context_input: None,
            node_outputs,
            now: self.clock.now().to_rfc3339(),
            idempotency_key: format!("{id}:{node}:{attempt}"),
            resume_node,
        };
        let run = self.executor.run(request);
        let run = async {
            match timeout {
                Some(limit) => {
                    let due = TimeDelta::from_std(limit)
                        .ok()
                        .and_then(|limit| self.clock.now().checked_add_signed(limit))
                        .unwrap_or(DateTime::<Utc>::MAX_UTC);
                    tokio::select! {
                        biased;
                        outcome = run => outcome,
                        () = self.clock.sleep_until(due) => NodeOutcome::Failed(
                            NodeError::new(format!(
                                "node timed out after {} ms",
                                limit.as_millis()
                            ))
                            .with_code("timeout"),
                        ),
                    }
                }
                None => run.await,
            }
        };
        let outcome = tokio::select! {
            // The term ended (lease lost, shutdown grace over): the attempt
            // stays running in the history and the next leader runs it again.
            // Or the execution ended (cancelled, timed out): nothing to record.
            () = stop.cancelled() => return,
            outcome = run => outcome,
        };
        let at = self.clock.now();
        let node_type = [definition_type.as_str()];
        let metrics = flowforge_monitoring::metrics();
        let label = match &outcome {
            NodeOutcome::Succeeded(_) => "succeeded",
            NodeOutcome::Failed(_) => "failed",
            NodeOutcome::Wait { .. } => "waiting",
        };
        let span = tracing::Span::current();
        span.record("outcome", label);
        if let NodeOutcome::Failed(error) = &outcome {
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_message", error.message.as_str());
        }
        metrics
            .node_runs
            .with_label_values(&[node_type[0], label])
            .inc();
        metrics
            .node_duration
            .with_label_values(&node_type)
            .observe((at - started_at).to_std().unwrap_or_default().as_secs_f64());
        let run = |outcome| ExecutionCommand::RecordRun {
            node: node.clone(),
            attempt,
            input: recorded_input.clone(),
            outcome,
            started_at,
            finished_at: at,
        };
        let command = match outcome {
            NodeOutcome::Succeeded(outputs) if pure => run(RunOutcome::Succeeded(outputs)),
            NodeOutcome::Failed(error) if pure => run(RunOutcome::Failed(error)),
            NodeOutcome::Wait { .. } if pure && !self.record(id, start.clone()).await => {
                self.release(&work);
                return;
            }
            NodeOutcome::Succeeded(outputs) => ExecutionCommand::CompleteNode {
                node,
                attempt,
                outputs,
                at,
            },
            NodeOutcome::Failed(error) => ExecutionCommand::FailNode {
                node,
                attempt,
                error,
                at,
            },
            NodeOutcome::Wait {
                until,
                resume_token_sha256,
            } => ExecutionCommand::Wait {
                node,
                until,
                resume_token_sha256,
                at,
            },
        };
        // The claim stays until the execution finishes: a decision made
        // from a snapshot older than this outcome must not run it again.
        // If the outcome cannot be recorded, give the attempt up: it is
        // still running in the history, so it will be run again.
        if !self.record_outcome(id, command).await {
            self.release(&work);
        }
    }

    /// Records a command on an execution; false if it was refused.
    pub(super) async fn record(&self, id: ExecutionId, command: ExecutionCommand) -> bool {
        let metadata = EventMetadata {
            actor: Some(ORCHESTRATOR_NAME.to_owned()),
            correlation_id: Some(id.as_uuid()),
            ..EventMetadata::default()
        };
        match self
            .commands
            .execute::<Execution>(&id.to_string(), command, None, &metadata)
            .await
        {
            Ok(_) => true,
            Err(CommandError::Rejected(ExecutionError::AlreadyFinished { .. })) => false,
            Err(error) => {
                debug!(%id, %error, "command refused");
                false
            }
        }
    }

    /// Records a node's outcome, retrying store failures with backoff; false
    /// if it could not be recorded.
    async fn record_outcome(&self, id: ExecutionId, command: ExecutionCommand) -> bool {
        let metadata = EventMetadata {
            actor: Some(ORCHESTRATOR_NAME.to_owned()),
            correlation_id: Some(id.as_uuid()),
            ..EventMetadata::default()
        };
        let mut pause = Duration::from_millis(50);
        for attempt in 1..=RECORD_ATTEMPTS {
            match self
                .commands
                .execute::<Execution>(&id.to_string(), command.clone(), None, &metadata)
                .await
            {
                Ok(_) => return true,
                // Refused by the aggregate (finished, cancelled): nothing to retry.
                Err(CommandError::Rejected(_)) => return true,
                Err(error) if attempt < RECORD_ATTEMPTS => {
                    warn!(%id, %error, attempt, "cannot record a node outcome; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(error) => {
                    warn!(%id, %error, "cannot record a node outcome; the attempt will run again");
                }
            }
        }
        false
    }
}

/// A node attempt whose time has come, with what running it needs.
struct DueAttempt {
    id: ExecutionId,
    work: Work,
    definition: Node,
    workflow_id: WorkflowId,
    node: String,
    attempt: u32,
    input: Vec<Vec<flowforge_domain::execution::Item>>,
    /// Whether the start is still to be recorded (not for an orphaned
    /// attempt run again).
    record_start: bool,
    /// Every node's latest outputs, for expressions that read them.
    node_outputs: BTreeMap<String, Arc<Vec<Vec<flowforge_domain::execution::Item>>>>,
    /// The Wait node this node's resume link resumes.
    resume_node: Option<String>,
    /// Cancelled when the execution ends or the term does.
    stop: CancellationToken,
}
