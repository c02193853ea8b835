//! The saga process manager: follows execution and saga events, records each
//! compensable step on the execution's saga as it completes, and when the
//! execution fails for good, is cancelled or passes its deadline, undoes the
//! completed steps newest first — each compensation retried with backoff
//! until it succeeds, or the saga parks for an operator.
//!
//! Durable like the orchestrator: every step is an event. The manager keeps
//! its own checkpoint (advanced after each batch is handled), so after a
//! crash it handles again whatever it may have missed; and on taking the
//! lease it resumes every saga the read model shows compensating. A
//! compensation attempt interrupted by a crash runs again with the same
//! attempt number and idempotency key (at-least-once, like node runs).
//! One instance manages sagas at a time (the `saga_manager` lease).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use flowforge_commands::CommandBus;
use flowforge_domain::{
    execution::{
        concat_items, retry_delay, Execution, ExecutionEvent, ExecutionId, ExecutionStatus,
        NodeRunStatus,
    },
    saga::{CompensationReason, Saga, SagaCommand, SagaStatus},
    workflow::{Backoff, RetryPolicy},
    Aggregate,
};
use flowforge_infra::{
    bus::EventSource,
    checkpoints::Checkpoints,
    event_store::{EventMetadata, RecordedEvent},
    leadership::{lead_while_leader, LeaderLease, Leadership, TermError, TermLeader, Terms},
    read_model::{SagaQuery, SagaViews},
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};

use flowforge_monitoring::process_spans::advance_span;
use flowforge_nodes::{NodeExecutor, NodeOutcome, NodeRunRequest};

/// The lease, checkpoint and bus consumer of the saga manager.
pub const SAGA_MANAGER_NAME: &str = "saga_manager";
const LEASE_CHECK: Duration = Duration::from_secs(2);
const BATCH: usize = 500;
/// How often the checkpoint is saved when no batch touched a saga.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How long a new leader waits for the sagas read model to catch up with the
/// manager's checkpoint before it lists the compensating sagas.
const READ_MODEL_WAIT: Duration = Duration::from_secs(10);

/// Whether a stored `ExecutionRequested` payload pins a definition with a
/// compensable node.
fn declares_compensation(payload: &serde_json::Value) -> bool {
    payload["definition"]["nodes"]
        .as_array()
        .is_some_and(|nodes| nodes.iter().any(|n| !n["compensation"].is_null()))
}

/// The retry policy of a compensation that has none of its own: five tries,
/// from half a second, doubling, at most 30 s apart.
pub fn default_compensation_policy() -> RetryPolicy {
    RetryPolicy {
        max_tries: 5,
        wait_ms: 500,
        backoff: Backoff::Exponential,
        max_wait_ms: Some(30_000),
    }
}

/// Records saga steps and runs compensations.
pub struct SagaManager {
    commands: CommandBus,
    executor: Arc<dyn NodeExecutor>,
    sagas: SagaViews,
    checkpoints: Checkpoints,
    shutdown: CancellationToken,
    /// Sagas whose compensation runs in this process now.
    compensating: Mutex<HashSet<ExecutionId>>,
    /// Its leadership terms.
    terms: Terms,
}

impl SagaManager {
    /// A manager recording through `commands` and running compensations with `executor`.
    pub fn new(
        commands: CommandBus,
        executor: Arc<dyn NodeExecutor>,
        sagas: SagaViews,
        checkpoints: Checkpoints,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            commands,
            executor,
            sagas,
            checkpoints,
            compensating: Mutex::new(HashSet::new()),
            terms: Terms::new(shutdown.clone()),
            shutdown,
        })
    }

    /// Manages sagas while holding the lease, until shutdown.
    pub async fn run(self: Arc<Self>, source: Arc<dyn EventSource>, leadership: Leadership) {
        lead_while_leader(self, source, leadership).await;
    }

    async fn lead_one_term(
        self: Arc<Self>,
        source: &dyn EventSource,
        lease: &mut LeaderLease,
    ) -> Result<(), TermError> {
        let checkpoint_error = |e| TermError::checkpoint(SAGA_MANAGER_NAME, e);
        let from = self
            .checkpoints
            .get(SAGA_MANAGER_NAME)
            .await
            .map_err(checkpoint_error)?;
        let mut subscription = source.subscribe(SAGA_MANAGER_NAME, from).await?;
        self.resume_compensating(from).await;
        // Executions whose definition has no compensation are skipped without
        // loading them: most executions are such, and each has several events.
        let mut compensable: HashMap<ExecutionId, bool> = HashMap::new();
        let mut lease_checked = tokio::time::Instant::now();
        let mut checkpoint_saved = tokio::time::Instant::now();
        loop {
            let batch = tokio::select! {
                () = self.shutdown.cancelled() => return Ok(()),
                batch = subscription.next_batch(BATCH) => batch?,
            };
            let Some(last) = batch.last().map(|e| e.position) else {
                continue;
            };
            let mut touched: Vec<(ExecutionId, &RecordedEvent)> = Vec::new();
            for event in &batch {
                let kind = event.stream.aggregate_type();
                if kind != Execution::TYPE && kind != Saga::TYPE {
                    continue;
                }
                let Ok(id) = event.stream.aggregate_id().parse::<ExecutionId>() else {
                    continue;
                };
                if kind == Execution::TYPE {
                    if event.event_type == "ExecutionRequested" {
                        compensable.insert(id, declares_compensation(&event.payload));
                    }
                    if compensable.get(&id) == Some(&false) {
                        if ExecutionEvent::FINAL_TYPES.contains(&event.event_type.as_str()) {
                            compensable.remove(&id);
                        }
                        continue;
                    }
                }
                match touched.iter_mut().find(|(seen, _)| *seen == id) {
                    Some(entry) => entry.1 = event,
                    None => touched.push((id, event)),
                }
            }
            let relevant = !touched.is_empty();
            for (id, latest) in touched {
                let has_compensation = self
                    .advance(id)
                    .instrument(advance_span(
                        SAGA_MANAGER_NAME,
                        id,
                        latest
                            .metadata
                            .correlation_id
                            .unwrap_or_else(|| id.as_uuid()),
                        latest.metadata.traceparent.as_deref(),
                    ))
                    .await;
                compensable.insert(id, has_compensation);
            }
            // Saved after work, or once a second: replaying a second of events
            // after a crash is cheap, a write per batch on the shared writer is not.
            if relevant || checkpoint_saved.elapsed() >= CHECKPOINT_EVERY {
                self.checkpoints
                    .advance(SAGA_MANAGER_NAME, last)
                    .await
                    .map_err(checkpoint_error)?;
                checkpoint_saved = tokio::time::Instant::now();
            }
            if lease_checked.elapsed() >= LEASE_CHECK {
                if !lease.is_held().await {
                    warn!("saga manager lease lost; standing by");
                    return Ok(());
                }
                lease_checked = tokio::time::Instant::now();
            }
        }
    }

    /// Restarts the compensations a previous leader left running.
    async fn resume_compensating(self: &Arc<Self>, handled: u64) {
        let deadline = tokio::time::Instant::now() + READ_MODEL_WAIT;
        while self.sagas.checkpoint().await.unwrap_or(0) < handled
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut after = None;
        loop {
            let page = match self
                .sagas
                .list(&SagaQuery {
                    status: Some(SagaStatus::Compensating.as_str().to_owned()),
                    after,
                    limit: 1000,
                    scope: None,
                })
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    warn!(%error, "cannot list compensating sagas");
                    return;
                }
            };
            let Some(last) = page.last().map(|v| v.id) else {
                return;
            };
            for view in &page {
                info!(saga = %view.id, "resuming a compensation");
                self.advance(ExecutionId::from_uuid(view.id)).await;
            }
            after = Some(last);
        }
    }

    /// Brings the saga of execution `id` up to date with the execution: records
    /// completed steps, closes it or starts compensating when the execution
    /// ends, and runs the compensation if it is compensating. Returns whether
    /// the execution's definition has compensable nodes at all.
    pub async fn advance(self: &Arc<Self>, id: ExecutionId) -> bool {
        let Ok((execution, _)) = self.commands.load::<Execution>(&id.to_string()).await else {
            return true;
        };
        let Some(definition) = execution.definition() else {
            return true;
        };
        if !definition
            .nodes()
            .iter()
            .any(|n| n.compensation().is_some())
        {
            return false;
        }
        self.advance_saga(id, &execution).await;
        true
    }

    async fn advance_saga(self: &Arc<Self>, id: ExecutionId, execution: &Execution) {
        let Some(mut saga) = self.load_saga(id).await else {
            return;
        };
        if saga.status() == SagaStatus::Open && self.record_steps(id, execution, &saga).await {
            let Some(reloaded) = self.load_saga(id).await else {
                return;
            };
            saga = reloaded;
        }
        if saga.exists() && saga.status() == SagaStatus::Open {
            let command = match execution.status() {
                ExecutionStatus::Succeeded => Some(SagaCommand::Close { at: Utc::now() }),
                ExecutionStatus::Failed => {
                    let failure = execution.failure();
                    let deadline = failure
                        .is_some_and(|f| f.error.code.as_deref() == Some("execution_timeout"));
                    let detail = failure.map_or_else(String::new, |f| match &f.node {
                        Some(node) => format!("node {node} failed: {}", f.error.message),
                        None => f.error.message.clone(),
                    });
                    let reason = if deadline {
                        CompensationReason::Deadline
                    } else {
                        CompensationReason::Failure
                    };
                    Some(SagaCommand::StartCompensation {
                        reason,
                        detail,
                        at: Utc::now(),
                    })
                }
                ExecutionStatus::Cancelled => Some(SagaCommand::StartCompensation {
                    reason: CompensationReason::Cancel,
                    detail: execution
                        .cancellation()
                        .map_or_else(String::new, |c| format!("{} ({})", c.reason, c.actor)),
                    at: Utc::now(),
                }),
                ExecutionStatus::Running | ExecutionStatus::Queued | ExecutionStatus::Waiting => {
                    None
                }
            };
            if let Some(command) = command {
                self.record(id, command).await;
                let Some(reloaded) = self.load_saga(id).await else {
                    return;
                };
                saga = reloaded;
            }
        }
        if saga.status() == SagaStatus::Compensating {
            self.spawn_compensation(id);
        }
    }

    /// Records the execution's completed compensable steps the saga lacks, in
    /// order of completion; true if it recorded any.
    async fn record_steps(&self, id: ExecutionId, execution: &Execution, saga: &Saga) -> bool {
        let (Some(definition), Some(workflow_id)) =
            (execution.definition(), execution.workflow_id())
        else {
            return false;
        };
        let mut done: Vec<_> = execution
            .node_runs()
            .iter()
            .filter(|run| run.status() == NodeRunStatus::Succeeded)
            .filter(|run| saga.step(run.node()).is_none())
            .filter_map(|run| {
                let compensation = definition.node(run.node())?.compensation()?.clone();
                let attempt = run.latest_attempt()?;
                Some((
                    attempt.finished_at()?,
                    run.node().to_owned(),
                    compensation,
                    attempt,
                ))
            })
            .collect();
        done.sort_by_key(|(finished_at, ..)| *finished_at);
        let mut recorded = false;
        for (finished_at, step, compensation, attempt) in done {
            let command = SagaCommand::RecordStep {
                execution_id: id,
                workflow_id,
                step,
                compensation,
                input: concat_items(attempt.input()),
                output: concat_items(attempt.outputs().unwrap_or_default()),
                at: finished_at,
            };
            recorded |= self.record(id, command).await;
        }
        recorded
    }

    /// Runs the saga's compensation in a task of its own, once per term.
    fn spawn_compensation(self: &Arc<Self>, id: ExecutionId) {
        let claimed = self
            .compensating
            .lock()
            .map(|mut set| set.insert(id))
            .unwrap_or(false);
        if !claimed {
            return;
        }
        let this = self.clone();
        let span = tracing::info_span!("saga.compensate", execution_id = %id);
        tokio::spawn(
            async move {
                this.compensate(id).await;
                if let Ok(mut set) = this.compensating.lock() {
                    set.remove(&id);
                }
            }
            .instrument(span),
        );
    }

    /// Undoes the saga's steps newest first until it is compensated, parks, or
    /// the term ends.
    async fn compensate(&self, id: ExecutionId) {
        let term = self.term();
        loop {
            let Some(saga) = self.load_saga(id).await else {
                return;
            };
            if saga.status() != SagaStatus::Compensating {
                return;
            }
            let (Some(step), Some(workflow_id)) = (saga.next_step(), saga.workflow_id()) else {
                return;
            };
            if let Some(due) = step.retry_at().filter(|_| step.tries_this_round > 0) {
                let wait = (due - Utc::now()).to_std().unwrap_or_default();
                tokio::select! {
                    () = term.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
            let attempt = step.next_attempt();
            let request = NodeRunRequest {
                execution_id: id,
                workflow_id,
                node: step.compensation.clone(),
                attempt,
                input: vec![step.output.clone()],
                context_input: Some(step.input.clone()),
                node_outputs: BTreeMap::from([(
                    step.step.clone(),
                    std::sync::Arc::new(vec![step.output.clone()]),
                )]),
                now: Utc::now().to_rfc3339(),
                idempotency_key: format!("saga:{id}:{}:{attempt}", step.step),
                resume_node: None,
            };
            let span = tracing::info_span!(
                "saga.compensate_step",
                otel.name = format!("compensate {}", step.step),
                step = %step.step,
                attempt,
            );
            let run = self.executor.run(request).instrument(span);
            let outcome = match step.compensation.timeout_ms().map(Duration::from_millis) {
                Some(limit) => tokio::select! {
                    () = term.cancelled() => return,
                    outcome = tokio::time::timeout(limit, run) => outcome.unwrap_or_else(|_| {
                        NodeOutcome::Failed(flowforge_domain::execution::NodeError::new(format!(
                            "compensation timed out after {} ms", limit.as_millis()
                        )).with_code("timeout"))
                    }),
                },
                None => tokio::select! {
                    () = term.cancelled() => return,
                    outcome = run => outcome,
                },
            };
            let at = Utc::now();
            let command = match outcome {
                NodeOutcome::Succeeded(outputs) => SagaCommand::RecordCompensated {
                    step: step.step.clone(),
                    attempt,
                    output: concat_items(&outputs),
                    at,
                },
                NodeOutcome::Failed(error) => self.failure(step, attempt, error, at),
                NodeOutcome::Wait { .. } => self.failure(
                    step,
                    attempt,
                    flowforge_domain::execution::NodeError::new(
                        "a compensation cannot wait; use a node that finishes",
                    )
                    .with_code("compensation_waits"),
                    at,
                ),
            };
            let label = match &command {
                SagaCommand::RecordCompensated { .. } => "compensated",
                SagaCommand::RecordCompensationFailed { retry_at: None, .. } => "parked",
                _ => "failed",
            };
            flowforge_monitoring::metrics()
                .compensations
                .with_label_values(&[label])
                .inc();
            if !self.record(id, command).await {
                // Refused (a concurrent change) or the store is down: look again shortly.
                tokio::select! {
                    () = term.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        }
    }

    /// The failure record of an attempt: with the next try's due time, or
    /// none (park) once the policy's tries this round are used up.
    fn failure(
        &self,
        step: &flowforge_domain::saga::SagaStep,
        attempt: u32,
        error: flowforge_domain::execution::NodeError,
        at: DateTime<Utc>,
    ) -> SagaCommand {
        let policy = step
            .compensation
            .retry()
            .cloned()
            .unwrap_or_else(default_compensation_policy);
        let jitter = f64::from(uuid::Uuid::new_v4().as_fields().1) / f64::from(u16::MAX);
        let retry_at = retry_delay(&policy, step.tries_this_round + 1, jitter)
            .and_then(|wait| chrono::TimeDelta::from_std(wait).ok())
            .map(|wait| at + wait);
        warn!(
            step = step.step,
            attempt,
            error = error.message,
            parks = retry_at.is_none(),
            "a compensation failed"
        );
        SagaCommand::RecordCompensationFailed {
            step: step.step.clone(),
            attempt,
            error,
            retry_at,
            at,
        }
    }

    async fn load_saga(&self, id: ExecutionId) -> Option<Saga> {
        match self.commands.load::<Saga>(&id.to_string()).await {
            Ok((saga, _)) => Some(saga),
            Err(error) => {
                warn!(%id, %error, "cannot load saga");
                None
            }
        }
    }

    /// Records a command on a saga; false if it was refused. A saga belongs
    /// to its execution's tenant (workspace).
    async fn record(&self, id: ExecutionId, command: SagaCommand) -> bool {
        let tenant = match self.commands.tenant_of::<Execution>(&id.to_string()).await {
            Ok(tenant) => tenant,
            Err(error) => {
                debug!(%id, %error, "cannot read the execution's tenant");
                None
            }
        };
        let defaults = EventMetadata::default();
        let metadata = EventMetadata {
            tenant_id: tenant.unwrap_or(defaults.tenant_id),
            actor: Some(SAGA_MANAGER_NAME.to_owned()),
            correlation_id: Some(id.as_uuid()),
            ..EventMetadata::default()
        };
        match self
            .commands
            .execute::<Saga>(&id.to_string(), command, None, &metadata)
            .await
        {
            Ok(_) => true,
            Err(error) => {
                debug!(%id, %error, "saga command refused");
                false
            }
        }
    }

    fn term(&self) -> CancellationToken {
        self.terms.current()
    }
}

#[async_trait::async_trait]
impl TermLeader for SagaManager {
    fn lease(&self) -> &str {
        SAGA_MANAGER_NAME
    }

    fn terms(&self) -> &Terms {
        &self.terms
    }

    fn start_term(&self) {
        if let Ok(mut compensating) = self.compensating.lock() {
            compensating.clear();
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
