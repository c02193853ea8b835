//! What every orchestrator test needs: an orchestrator on a fresh embedded
//! (SQLite) store, driven by a [`ManualClock`] and a [`ScriptedNodes`] executor
//! that answers each node call from a script and remembers the calls.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowforge_commands::CommandBus;
use flowforge_domain::{
    execution::{
        Execution, ExecutionCommand, ExecutionId, ExecutionStatus, Item, NodeError, Trigger,
        TriggerKind,
    },
    workflow::{RawWorkflowDefinition, WorkflowDefinition, WorkflowId},
};
use flowforge_engine::{Clock, ExecutionOrchestrator, ManualClock, OrchestratorSettings};
use flowforge_infra::{
    bus::store_tail::StoreTailSource,
    event_store::{upcasting::Upcasters, EventMetadata, EventStore},
    leadership::Leadership,
    read_model::{live_execution_views, ExecutionViews},
    test_support::{eventually, TestDatabase},
};
use flowforge_nodes::{NodeExecutor, NodeOutcome, NodeRunRequest};
use serde_json::Value;
use tokio::{sync::Semaphore, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long a test waits for something the orchestrator does at once.
pub const WITHIN: Duration = Duration::from_secs(5);

/// What a scripted node does on one call.
#[derive(Clone)]
pub enum Step {
    /// Succeeds with one item naming the node.
    Succeed,
    /// Fails with this message.
    Fail(&'static str),
    /// Waits until this time.
    WaitUntil(DateTime<Utc>),
    /// Blocks until the semaphore hands out a permit, then succeeds; a
    /// semaphore nobody adds permits to blocks for good.
    Held(Arc<Semaphore>),
}

/// A node executor that answers from a script, call by call, and records
/// every call as `(node, attempt)`. A node with no script left succeeds.
#[derive(Default)]
pub struct ScriptedNodes {
    script: Mutex<HashMap<String, VecDeque<Step>>>,
    calls: Mutex<Vec<(String, u32)>>,
}

impl ScriptedNodes {
    /// An executor on which every node succeeds.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Scripts the next calls of `node`, in order.
    pub fn on(&self, node: &str, steps: impl IntoIterator<Item = Step>) {
        self.script
            .lock()
            .expect("script")
            .entry(node.to_owned())
            .or_default()
            .extend(steps);
    }

    /// Every call so far, in the order they began.
    pub fn calls(&self) -> Vec<(String, u32)> {
        self.calls.lock().expect("calls").clone()
    }

    /// The attempts of `node` that were run, in order.
    pub fn attempts_of(&self, node: &str) -> Vec<u32> {
        self.calls()
            .into_iter()
            .filter(|(called, _)| called == node)
            .map(|(_, attempt)| attempt)
            .collect()
    }
}

#[async_trait]
impl NodeExecutor for ScriptedNodes {
    async fn run(&self, request: NodeRunRequest) -> NodeOutcome {
        let node = request.node.name().to_owned();
        self.calls
            .lock()
            .expect("calls")
            .push((node.clone(), request.attempt));
        let step = self
            .script
            .lock()
            .expect("script")
            .get_mut(&node)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Step::Succeed);
        // One item, so that the nodes downstream have something to run on.
        let mut item = Item::new();
        item.insert("from".to_owned(), Value::String(node.clone()));
        let passed_on = vec![vec![item]];
        match step {
            Step::Succeed => NodeOutcome::Succeeded(passed_on),
            Step::Fail(message) => NodeOutcome::Failed(NodeError::new(message)),
            Step::WaitUntil(until) => NodeOutcome::Wait {
                until: Some(until),
                resume_token_sha256: None,
            },
            Step::Held(gate) => {
                let _permit = gate.acquire().await.expect("the gate stays open");
                NodeOutcome::Succeeded(passed_on)
            }
        }
    }
}

/// A valid definition from n8n-shaped JSON.
pub fn definition(json: Value) -> WorkflowDefinition {
    let raw: RawWorkflowDefinition = serde_json::from_value(json).expect("a raw definition");
    WorkflowDefinition::parse(raw).expect("a valid definition")
}

/// A fresh embedded store with the nodes and clock the orchestrators on it
/// share (each orchestrator is a "process" of its own).
pub struct TestStore {
    /// The migrated SQLite database.
    pub db: TestDatabase,
    /// The scripted node executor.
    pub nodes: Arc<ScriptedNodes>,
    /// The manual clock.
    pub clock: Arc<ManualClock>,
    store: Arc<dyn EventStore>,
    commands: CommandBus,
}

impl TestStore {
    /// A fresh store, an executor on which every node succeeds, a clock at now.
    pub async fn new() -> Self {
        let db = TestDatabase::sqlite().await;
        let store: Arc<dyn EventStore> = db.database.event_store(Upcasters::default());
        Self {
            commands: CommandBus::new(store.clone()),
            store,
            db,
            nodes: ScriptedNodes::new(),
            clock: Arc::new(ManualClock::new()),
        }
    }

    /// Starts an orchestrator, as a process of its own, and waits until it
    /// has resumed the executions left open.
    pub async fn start_orchestrator(&self) -> RunningOrchestrator {
        let store = self.store.clone();
        let shutdown = CancellationToken::new();
        let settings = OrchestratorSettings {
            shutdown_grace: Duration::from_millis(20),
            ..OrchestratorSettings::default()
        };
        let orchestrator = ExecutionOrchestrator::with_clock(
            CommandBus::new(store.clone()),
            self.nodes.clone(),
            ExecutionViews::at(self.db.database.clone(), live_execution_views()),
            shutdown.clone(),
            settings,
            self.clock.clone(),
        );
        let resumed = orchestrator.resumed();
        let source = Arc::new(StoreTailSource::new(store, Duration::from_millis(5)));
        let task =
            tokio::spawn(orchestrator.run(source, Leadership::for_database(&self.db.database)));
        eventually(WITHIN, "the orchestrator resumes open executions", || {
            let resumed = resumed.clone();
            async move { *resumed.borrow() }
        })
        .await;
        RunningOrchestrator { shutdown, task }
    }

    /// Requests an execution of `definition` (of workflow `workflow_id`) now,
    /// by the manual clock.
    pub async fn request(
        &self,
        workflow_id: WorkflowId,
        definition: &WorkflowDefinition,
    ) -> ExecutionId {
        let id = ExecutionId::from_uuid(Uuid::new_v4());
        let command = ExecutionCommand::Request {
            execution_id: id,
            workflow_id,
            definition_version: 1,
            definition: definition.clone(),
            trigger: Trigger::new(TriggerKind::Manual),
            input: Vec::new(),
            parent: None,
            reuse: BTreeMap::new(),
            at: self.clock.now(),
        };
        self.commands
            .execute::<Execution>(&id.to_string(), command, Some(0), &EventMetadata::default())
            .await
            .expect("the execution is requested");
        id
    }

    /// The execution as its history stands now.
    pub async fn execution(&self, id: ExecutionId) -> Execution {
        self.commands
            .load::<Execution>(&id.to_string())
            .await
            .expect("the execution loads")
            .0
    }

    /// Waits until the execution has `status`, and returns it.
    pub async fn status_becomes(&self, id: ExecutionId, status: ExecutionStatus) -> Execution {
        eventually(WITHIN, &format!("execution {id} is {status:?}"), || async {
            let execution = self.execution(id).await;
            (execution.status() == status).then_some(execution)
        })
        .await
    }

    /// Waits until `count` callers sleep on the clock (a retry, a wait, a
    /// time limit), so moving it on now wakes them.
    pub async fn sleepers_become(&self, count: usize) {
        eventually(
            WITHIN,
            &format!("{count} sleepers on the clock"),
            || async { self.clock.sleepers() == count },
        )
        .await;
    }
}

/// A running orchestrator.
pub struct RunningOrchestrator {
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningOrchestrator {
    /// Shuts it down and waits until it has stopped (node attempts still
    /// running after the grace period are abandoned, as in a crash).
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WITHIN, self.task)
            .await
            .expect("the orchestrator stops")
            .expect("the orchestrator does not panic");
    }
}

/// A new random workflow id.
pub fn workflow_id() -> WorkflowId {
    WorkflowId::from_uuid(Uuid::new_v4())
}

/// Waits until `node` has been called at least once.
pub async fn eventually_called(store: &TestStore, node: &str) {
    eventually(WITHIN, &format!("{node} is called"), || async {
        !store.nodes.attempts_of(node).is_empty()
    })
    .await;
}

/// Waits until `node` has been called `count` times.
pub async fn attempts_reach(store: &TestStore, node: &str, count: usize) {
    eventually(WITHIN, &format!("{count} calls of {node}"), || async {
        store.nodes.attempts_of(node).len() == count
    })
    .await;
}
