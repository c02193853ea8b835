//! The execution orchestrator: a process manager that follows execution events,
//! asks the pure planner (`flowforge_domain::execution::decide`) what comes
//! next, and carries it out — start a node and record its result, schedule a
//! retry, wake a timed wait, finish the execution.
//!
//! Durability comes from the log, not from this process: every step is an event,
//! and the next step is a function of the history. On taking the lease the
//! orchestrator finds every execution that has not finished and advances it;
//! a node attempt that was running when a process died is run again with the
//! same attempt number and idempotency key (at-least-once side effects).
//! One instance orchestrates at a time (the `orchestrator` lease).
//!
//! It also applies the workflow settings: the execution time limit (a timer
//! per open execution), the concurrency cap (see [`admission`]) and the error
//! workflow (started before a failure is recorded), and it connects
//! sub-workflows to their callers (see [`crate::sub_workflows`]).
//!
//! Node attempts run in a shared pool of slots (see [`attempt_pool`]): a
//! cap per execution and per process, free slots going round-robin across
//! executions, so one execution's fan-out cannot starve the others.
//!
//! At shutdown it starts no new node attempt, lets the running ones finish
//! and record their outcomes within a grace period, and only then gives its
//! lease up: another instance takes over at once and runs nothing twice.

mod admission;
mod attempt_pool;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use flowforge_commands::{CommandBus, CommandError};
use flowforge_domain::{
    execution::{
        concat_items, decide, resume_target, retry_delay, Decision, Execution, ExecutionCommand,
        ExecutionError, ExecutionEvent, ExecutionId, ExecutionStatus, Finish, NodeError,
        NodeRunStatus, RunOutcome,
    },
    workflow::{Node, NodeType, WorkflowId},
    Aggregate,
};
use flowforge_infra::{
    bus::EventSource,
    event_store::{EventMetadata, EventStore, RecordedEvent},
    leadership::{lead_while_leader, LeaderLease, Leadership, TermError, TermLeader, Terms},
    read_model::{ExecutionQuery, ExecutionViews},
};
use tokio::sync::{mpsc, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{debug, field::Empty, info, warn, Instrument};

use flowforge_monitoring::process_spans::advance_span;
use flowforge_nodes::{NodeExecutor, NodeOutcome, NodeRunRequest};

use crate::{
    error_workflow::{is_transient, start_error_workflow},
    sub_workflows::{child_execution_id, child_outcome},
};
use admission::{Admission, Candidate};
pub use attempt_pool::AttemptLimits;
use attempt_pool::AttemptPool;

/// How the orchestrator runs node attempts.
#[derive(Debug, Clone, Copy)]
pub struct OrchestratorSettings {
    /// How many node attempts may run at once.
    pub attempts: AttemptLimits,
    /// How long running node attempts may take to finish at shutdown before
    /// the lease is given up anyway (the next leader runs them again).
    pub shutdown_grace: Duration,
}

impl Default for OrchestratorSettings {
    fn default() -> Self {
        Self {
            attempts: AttemptLimits::default(),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// The lease, and the bus consumer, of the orchestrator.
pub const ORCHESTRATOR_NAME: &str = "orchestrator";
/// How often the leader confirms its lease.
const LEASE_CHECK: Duration = Duration::from_secs(2);
/// How often a node's outcome is offered to the store before giving up on it.
const RECORD_ATTEMPTS: u32 = 5;
/// Events per bus batch.
const BATCH: usize = 500;

/// What this process is doing for one execution right now (so a decision seen
/// twice does not start the same work twice).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Work {
    /// A node attempt is running (or about to).
    Attempt(ExecutionId, String, u32),
    /// A timer waits to wake a waiting node attempt.
    WaitTimer(ExecutionId, String, u32),
    /// A timer waits to fail the execution at its time limit.
    Deadline(ExecutionId),
}

/// Drives executions from their histories.
pub struct ExecutionOrchestrator {
    commands: CommandBus,
    store: Arc<dyn EventStore>,
    executor: Arc<dyn NodeExecutor>,
    in_progress: Mutex<HashSet<Work>>,
    executions: ExecutionViews,
    shutdown: CancellationToken,
    /// Its leadership terms: the term's timers and node runs stop when it ends.
    terms: Terms,
    /// Per open execution, cancelled when it ends: its timers and node runs stop.
    stops: Mutex<HashMap<ExecutionId, CancellationToken>>,
    /// Running and queued executions of workflows with a concurrency cap.
    admission: Mutex<Admission>,
    /// Executions to advance that no event of their own announces (admitted
    /// from a queue, a parent whose child ended).
    wake: mpsc::UnboundedSender<ExecutionId>,
    woken: tokio::sync::Mutex<mpsc::UnboundedReceiver<ExecutionId>>,
    /// Whether the open executions have been taken up (by this instance as
    /// leader, or by another one that leads), for readiness.
    resumed: watch::Sender<bool>,
    /// The node attempt tasks, waited for at shutdown.
    attempts: TaskTracker,
    /// The slots node attempts run in.
    slots: AttemptPool,
    /// How long running node attempts may take to finish at shutdown.
    grace: Duration,
}

impl ExecutionOrchestrator {
    /// An orchestrator recording through `commands` and running nodes with
    /// `executor` as `settings` say, until `shutdown`.
    pub fn new(
        commands: CommandBus,
        executor: Arc<dyn NodeExecutor>,
        executions: ExecutionViews,
        shutdown: CancellationToken,
        settings: OrchestratorSettings,
    ) -> Arc<Self> {
        let (wake, woken) = mpsc::unbounded_channel();
        Arc::new(Self {
            store: commands.store().clone(),
            commands,
            executor,
            executions,
            in_progress: Mutex::new(HashSet::new()),
            terms: Terms::new(shutdown.clone()),
            stops: Mutex::new(HashMap::new()),
            admission: Mutex::new(Admission::default()),
            wake,
            woken: tokio::sync::Mutex::new(woken),
            resumed: watch::channel(false).0,
            attempts: TaskTracker::new(),
            slots: AttemptPool::new(settings.attempts),
            grace: settings.shutdown_grace,
            shutdown,
        })
    }

    /// Turns true once the executions left open by earlier processes have been
    /// resumed (by this instance, or by another that leads): until then an
    /// instance is not ready.
    pub fn resumed(&self) -> watch::Receiver<bool> {
        self.resumed.subscribe()
    }

    /// Orchestrates while holding the lease, until shutdown.
    pub async fn run(self: Arc<Self>, source: Arc<dyn EventSource>, leadership: Leadership) {
        lead_while_leader(self, source, leadership).await;
    }

    async fn lead_one_term(
        self: Arc<Self>,
        source: &dyn EventSource,
        lease: &mut LeaderLease,
    ) -> Result<(), TermError> {
        let mut woken = self.woken.lock().await;
        while woken.try_recv().is_ok() {}
        let head = self.store.head().await?;
        let mut subscription = source.subscribe(ORCHESTRATOR_NAME, head).await?;
        let open = self.open_executions().await?;
        info!(open = open.len(), "resuming unfinished executions");
        self.resume_open(open).await;
        self.resumed.send_replace(true);
        let mut lease_checked = tokio::time::Instant::now();
        loop {
            let batch = tokio::select! {
                () = self.shutdown.cancelled() => return Ok(()),
                Some(id) = woken.recv() => {
                    self.advance(id).await;
                    continue;
                }
                batch = subscription.next_batch(BATCH) => batch?,
            };
            for (id, latest) in touched_executions(&batch) {
                self.advance(id)
                    .instrument(advance_span(
                        ORCHESTRATOR_NAME,
                        id,
                        latest
                            .metadata
                            .correlation_id
                            .unwrap_or_else(|| id.as_uuid()),
                        latest.metadata.traceparent.as_deref(),
                    ))
                    .await;
            }
            // Checked on a clock, busy or idle: a leader that lost its lease
            // must stop before a second one runs the same nodes.
            if lease_checked.elapsed() >= LEASE_CHECK {
                if !lease.is_held().await {
                    warn!("orchestrator lease lost; standing by");
                    return Ok(());
                }
                lease_checked = tokio::time::Instant::now();
            }
        }
    }

    /// Every execution whose history has no ending yet: the executions read
    /// model's running and waiting rows, plus whatever the log holds after
    /// that read model's checkpoint.
    async fn open_executions(&self) -> Result<Vec<ExecutionId>, TermError> {
        let mut after = self.executions.checkpoint().await?;
        let mut open: Vec<ExecutionId> = Vec::new();
        for status in ["running", "queued", "waiting"] {
            let mut page_after = None;
            loop {
                let page = self
                    .executions
                    .list(&ExecutionQuery {
                        status: Some(status.to_owned()),
                        after: page_after,
                        limit: 1000,
                        ..Default::default()
                    })
                    .await?;
                let Some(last) = page.last().map(|v| v.id) else {
                    break;
                };
                open.extend(page.iter().map(|v| ExecutionId::from_uuid(v.id)));
                page_after = Some(last);
            }
        }
        loop {
            let page = self.store.read_all(after, 1000).await?;
            let Some(last) = page.last().map(|e| e.position) else {
                break;
            };
            for event in page
                .iter()
                .filter(|e| e.stream.aggregate_type() == Execution::TYPE)
            {
                let Ok(id) = event.stream.aggregate_id().parse::<ExecutionId>() else {
                    continue;
                };
                match event.event_type.as_str() {
                    "ExecutionRequested" if !open.contains(&id) => open.push(id),
                    ended if ExecutionEvent::FINAL_TYPES.contains(&ended) => {
                        open.retain(|o| *o != id)
                    }
                    _ => {}
                }
            }
            after = last;
        }
        Ok(open)
    }

    /// Loads an execution, decides, and starts whatever the decisions ask for.
    pub async fn advance(self: &Arc<Self>, id: ExecutionId) {
        let execution = match self.commands.load::<Execution>(&id.to_string()).await {
            Ok((execution, _)) => execution,
            Err(error) => {
                warn!(%id, %error, "cannot load execution");
                return;
            }
        };
        if !execution.exists() {
            return;
        }
        if execution.is_finished() {
            self.finished(id, &execution).await;
            return;
        }
        self.arm_deadline(id, &execution);
        if !self.admit(id, &execution) {
            if execution.status() != ExecutionStatus::Queued {
                debug!(%id, "queued behind the workflow's concurrency cap");
                self.record(id, ExecutionCommand::Queue { at: Utc::now() })
                    .await;
            }
            return;
        }
        self.rerun_orphaned_attempts(id, &execution);
        if self.collect_child_results(id, &execution).await {
            return;
        }
        for decision in decide(&execution) {
            self.carry_out(id, &execution, decision).await;
        }
    }

    /// Advances the executions found open at the start of a term: those that
    /// already ran a node first (they hold their slots), then the rest in
    /// request order, so a concurrency cap admits the oldest.
    async fn resume_open(self: &Arc<Self>, open: Vec<ExecutionId>) {
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
    async fn finished(self: &Arc<Self>, id: ExecutionId, execution: &Execution) {
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
                    at: Utc::now(),
                };
                self.record(child, command).await;
            }
        }
    }

    /// Whether the execution may run now under its workflow's concurrency cap.
    fn admit(&self, id: ExecutionId, execution: &Execution) -> bool {
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
    fn arm_deadline(self: &Arc<Self>, id: ExecutionId, execution: &Execution) {
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
    async fn collect_child_results(&self, id: ExecutionId, execution: &Execution) -> bool {
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
    async fn fail(
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
            at: Utc::now(),
        };
        self.record(id, command).await;
    }

    /// Attempts recorded as running that no task of this process runs: their
    /// process died. Run them again, same attempt, same idempotency key.
    fn rerun_orphaned_attempts(self: &Arc<Self>, id: ExecutionId, execution: &Execution) {
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

    async fn carry_out(
        self: &Arc<Self>,
        id: ExecutionId,
        execution: &Execution,
        decision: Decision,
    ) {
        match decision {
            Decision::RunNode {
                node,
                attempt,
                input,
            } => {
                if self.claim(&Work::Attempt(id, node.clone(), attempt)) {
                    self.spawn_attempt(id, execution, node, attempt, input, None, true);
                }
            }
            Decision::RetryDue {
                node,
                attempt,
                due_at,
                input,
            } => {
                if self.claim(&Work::Attempt(id, node.clone(), attempt)) {
                    self.spawn_attempt(id, execution, node, attempt, input, Some(due_at), true);
                }
            }
            Decision::ScheduleRetry {
                node,
                failed_attempt,
                next_attempt,
                policy,
            } => {
                let jitter = f64::from(uuid::Uuid::new_v4().as_fields().1) / f64::from(u16::MAX);
                let wait = retry_delay(&policy, failed_attempt, jitter).unwrap_or_default();
                if let Some(node_type) = execution
                    .definition()
                    .and_then(|d| d.node(&node))
                    .map(|n| n.node_type())
                {
                    flowforge_monitoring::metrics()
                        .node_retries
                        .with_label_values(&[node_type.as_str()])
                        .inc();
                }
                let command = ExecutionCommand::ScheduleRetry {
                    node,
                    next_attempt,
                    wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    at: Utc::now(),
                };
                self.record(id, command).await;
            }
            Decision::WaitDue {
                node,
                attempt,
                until,
            } => {
                let work = Work::WaitTimer(id, node.clone(), attempt);
                if self.claim(&work) {
                    let input = execution
                        .node_run(&node)
                        .and_then(|run| run.latest_attempt())
                        .map(|a| concat_items(a.input()))
                        .unwrap_or_default();
                    let this = self.clone();
                    let stop = self.stop_token(id);
                    tokio::spawn(async move {
                        if this.sleep_until(until, &stop).await {
                            let command = ExecutionCommand::Resume {
                                node,
                                outputs: vec![input],
                                at: Utc::now(),
                            };
                            this.record(id, command).await;
                        } else {
                            this.release(&work);
                        }
                    });
                }
            }
            Decision::Finish(Finish::Succeeded { .. }) => {
                self.record(id, ExecutionCommand::Succeed { at: Utc::now() })
                    .await;
            }
            Decision::Finish(Finish::Failed { node, error }) => {
                self.fail(id, execution, error, Some(node)).await;
            }
        }
    }

    /// Runs one node attempt in its own task: (wait for its due time,) record
    /// the start, run it under its timeout, record the outcome.
    #[allow(clippy::too_many_arguments)]
    fn spawn_attempt(
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
        let started_at = Utc::now();
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
            now: Utc::now().to_rfc3339(),
            idempotency_key: format!("{id}:{node}:{attempt}"),
            resume_node,
        };
        let run = self.executor.run(request);
        let run = async {
            match timeout {
                Some(limit) => tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
                    NodeOutcome::Failed(
                        NodeError::new(format!("node timed out after {} ms", limit.as_millis()))
                            .with_code("timeout"),
                    )
                }),
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
        let at = Utc::now();
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
    async fn record(&self, id: ExecutionId, command: ExecutionCommand) -> bool {
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

    /// The current leadership term's token.
    fn term(&self) -> CancellationToken {
        self.terms.current()
    }

    /// The token that stops the execution's timers and node runs: cancelled
    /// when it ends or when the term does.
    fn stop_token(&self, id: ExecutionId) -> CancellationToken {
        let term = self.term();
        self.stops
            .lock()
            .map(|mut stops| {
                stops
                    .entry(id)
                    .or_insert_with(|| term.child_token())
                    .clone()
            })
            .unwrap_or(term)
    }

    /// Sleeps until `at` (or until `stop`, or shutdown); true if the time came.
    async fn sleep_until(&self, at: DateTime<Utc>, stop: &CancellationToken) -> bool {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = stop.cancelled() => false,
            () = self.shutdown.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }

    fn claim(&self, work: &Work) -> bool {
        self.in_progress
            .lock()
            .map(|mut set| set.insert(work.clone()))
            .unwrap_or(false)
    }

    /// Stops the work of a finished execution and drops its claims; true the
    /// first time (this term) an execution this process drove is forgotten.
    fn forget(&self, id: ExecutionId) -> bool {
        let stop = self.stops.lock().ok().and_then(|mut s| s.remove(&id));
        let drove = stop.is_some();
        if let Some(stop) = stop {
            stop.cancel();
        }
        if let Ok(mut set) = self.in_progress.lock() {
            set.retain(|work| match work {
                Work::Attempt(of, ..) | Work::WaitTimer(of, ..) | Work::Deadline(of) => *of != id,
            });
        }
        drove
    }

    /// Gives up a claim whose work did not happen (refused, or shut down).
    fn release(&self, work: &Work) {
        if let Ok(mut set) = self.in_progress.lock() {
            set.remove(work);
        }
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

#[async_trait::async_trait]
impl TermLeader for ExecutionOrchestrator {
    fn lease(&self) -> &str {
        ORCHESTRATOR_NAME
    }

    fn terms(&self) -> &Terms {
        &self.terms
    }

    fn standing_by(&self) {
        self.resumed.send_replace(true);
    }

    fn start_term(&self) {
        if let Ok(mut claims) = self.in_progress.lock() {
            claims.clear();
        }
        if let Ok(mut stops) = self.stops.lock() {
            stops.clear();
        }
        if let Ok(mut admission) = self.admission.lock() {
            *admission = Admission::default();
        }
    }

    async fn drain(&self) {
        self.attempts.close();
        let running = self.attempts.len();
        if running > 0 {
            info!(
                running,
                grace_secs = self.grace.as_secs_f64(),
                "letting running node attempts finish before giving the lease up"
            );
        }
        if tokio::time::timeout(self.grace, self.attempts.wait())
            .await
            .is_err()
        {
            warn!(
                abandoned = self.attempts.len(),
                "shutdown grace period over; the next leader runs the unfinished node attempts again"
            );
        }
    }

    async fn lead_term(
        self: Arc<Self>,
        source: &dyn EventSource,
        lease: &mut LeaderLease,
    ) -> Result<(), TermError> {
        self.lead_one_term(source, lease).await
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

/// Every execution a batch of events touched, in order of first touch, with
/// its latest event in the batch.
fn touched_executions(batch: &[RecordedEvent]) -> Vec<(ExecutionId, &RecordedEvent)> {
    let mut touched: Vec<(ExecutionId, &RecordedEvent)> = Vec::new();
    for event in batch
        .iter()
        .filter(|e| e.stream.aggregate_type() == Execution::TYPE)
    {
        let Ok(id) = event.stream.aggregate_id().parse::<ExecutionId>() else {
            continue;
        };
        match touched.iter_mut().find(|(seen, _)| *seen == id) {
            Some(entry) => entry.1 = event,
            None => touched.push((id, event)),
        }
    }
    touched
}
