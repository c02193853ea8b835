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
//! Every time it records or waits for (retry backoff, timed waits, time
//! limits, node timeouts) comes from its [`Clock`]: the system clock, or a
//! manual one in tests.
//!
//! At shutdown it starts no new node attempt, lets the running ones finish
//! and record their outcomes within a grace period, and only then gives its
//! lease up: another instance takes over at once and runs nothing twice.
//!
//! Layout: this file holds the orchestrator, its settings and `advance` (load,
//! decide, carry out); `leader` its terms under the lease, `lifecycle` what
//! happens around node runs (admission, time limit, children, failing,
//! finishing), `attempts` running and recording node attempts, `claims` the
//! work in progress and its stop tokens.

mod admission;
mod attempt_pool;
mod attempts;
mod claims;
mod leader;
mod lifecycle;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use flowforge_commands::CommandBus;
use flowforge_domain::execution::{
    concat_items, decide, retry_delay, Decision, Execution, ExecutionCommand, ExecutionId,
    ExecutionStatus, Finish,
};
use flowforge_infra::{
    bus::EventSource,
    event_store::EventStore,
    leadership::{lead_while_leader, Leadership, Terms},
    read_model::ExecutionViews,
};
use flowforge_nodes::NodeExecutor;
use tokio::sync::{mpsc, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{debug, warn};

use crate::clock::{Clock, SystemClock};
use admission::Admission;
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
/// How often a node's outcome is offered to the store before giving up on it.
const RECORD_ATTEMPTS: u32 = 5;

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
    /// Where it reads the time and waits for a time to come.
    clock: Arc<dyn Clock>,
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
        let clock = Arc::new(SystemClock);
        Self::with_clock(commands, executor, executions, shutdown, settings, clock)
    }

    /// The same orchestrator reading the time from `clock`: retry backoff,
    /// timed waits, time limits and node timeouts follow it (tests drive a
    /// [`ManualClock`](crate::ManualClock)).
    pub fn with_clock(
        commands: CommandBus,
        executor: Arc<dyn NodeExecutor>,
        executions: ExecutionViews,
        shutdown: CancellationToken,
        settings: OrchestratorSettings,
        clock: Arc<dyn Clock>,
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
            clock,
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
                self.record(
                    id,
                    ExecutionCommand::Queue {
                        at: self.clock.now(),
                    },
                )
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
                    at: self.clock.now(),
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
                                at: this.clock.now(),
                            };
                            this.record(id, command).await;
                        } else {
                            this.release(&work);
                        }
                    });
                }
            }
            Decision::Finish(Finish::Succeeded { .. }) => {
                self.record(
                    id,
                    ExecutionCommand::Succeed {
                        at: self.clock.now(),
                    },
                )
                .await;
            }
            Decision::Finish(Finish::Failed { node, error }) => {
                self.fail(id, execution, error, Some(node)).await;
            }
        }
    }
}
