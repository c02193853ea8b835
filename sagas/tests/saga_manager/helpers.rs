//! What every saga manager test needs: the saga manager and the orchestrator
//! on a fresh embedded (SQLite) store, sharing a [`ScriptedNodes`] executor
//! that answers each node call from a script and remembers the calls.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use flowforge_commands::CommandBus;
use flowforge_domain::{
    execution::{
        Execution, ExecutionCommand, ExecutionId, ExecutionStatus, Item, NodeError, NodeRunStatus,
        Trigger, TriggerKind,
    },
    saga::{Saga, SagaStatus},
    workflow::{RawWorkflowDefinition, WorkflowDefinition, WorkflowId},
};
use flowforge_engine::{ExecutionOrchestrator, OrchestratorSettings};
use flowforge_infra::{
    bus::{store_tail::StoreTailSource, EventSource},
    checkpoints::Checkpoints,
    event_store::{upcasting::Upcasters, EventMetadata, EventStore},
    leadership::Leadership,
    read_model::{live_execution_views, live_saga_views, ExecutionViews, SagaViews},
    test_support::{eventually, TestDatabase},
};
use flowforge_nodes::{NodeExecutor, NodeOutcome, NodeRunRequest};
use flowforge_sagas::SagaManager;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long a test waits for something the managers do at once.
pub const WITHIN: Duration = Duration::from_secs(5);

/// What a scripted node does on one call.
#[derive(Clone)]
pub enum Step {
    /// Fails with this message.
    Fail(&'static str),
    /// Blocks until the semaphore hands out a permit, then succeeds.
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
    /// Scripts the next calls of `node`, in order.
    pub fn on(&self, node: &str, steps: impl IntoIterator<Item = Step>) {
        self.script
            .lock()
            .expect("script")
            .entry(node.to_owned())
            .or_default()
            .extend(steps);
    }

    /// The calls of the nodes named `Undo …` (the compensations), in order.
    pub fn compensations(&self) -> Vec<(String, u32)> {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .filter(|(node, _)| node.starts_with("Undo "))
            .cloned()
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
            .and_then(VecDeque::pop_front);
        // One item, so that the nodes downstream have something to run on.
        let mut item = Item::new();
        item.insert("from".to_owned(), Value::String(node.clone()));
        let passed_on = vec![vec![item]];
        match step {
            None => NodeOutcome::Succeeded(passed_on),
            Some(Step::Fail(message)) => NodeOutcome::Failed(NodeError::new(message)),
            Some(Step::Held(gate)) => {
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

/// The orchestrator and the saga manager on a fresh embedded store; both stop
/// when this is dropped.
pub struct Sagas {
    /// The scripted node executor both use.
    pub nodes: Arc<ScriptedNodes>,
    commands: CommandBus,
    shutdown: CancellationToken,
    _db: TestDatabase,
}

impl Sagas {
    /// Starts both on a fresh store, with `nodes` scripted by the caller.
    pub async fn start(nodes: ScriptedNodes) -> Self {
        let db = TestDatabase::sqlite().await;
        let database = db.database.clone();
        let store: Arc<dyn EventStore> = database.event_store(Upcasters::default());
        let commands = CommandBus::new(store.clone());
        let nodes = Arc::new(nodes);
        let shutdown = CancellationToken::new();
        let source: Arc<dyn EventSource> =
            Arc::new(StoreTailSource::new(store, Duration::from_millis(5)));
        let orchestrator = ExecutionOrchestrator::new(
            commands.clone(),
            nodes.clone(),
            ExecutionViews::at(database.clone(), live_execution_views()),
            shutdown.clone(),
            OrchestratorSettings::default(),
        );
        tokio::spawn(orchestrator.run(source.clone(), Leadership::for_database(&database)));
        let manager = SagaManager::new(
            commands.clone(),
            nodes.clone(),
            SagaViews::at(database.clone(), live_saga_views()),
            Checkpoints::new(database.clone()),
            shutdown.clone(),
        );
        tokio::spawn(manager.run(source, Leadership::for_database(&database)));
        Self {
            nodes,
            commands,
            shutdown,
            _db: db,
        }
    }

    /// Requests an execution of `definition` now.
    pub async fn request(&self, definition: &WorkflowDefinition) -> ExecutionId {
        let id = ExecutionId::from_uuid(Uuid::new_v4());
        let command = ExecutionCommand::Request {
            execution_id: id,
            workflow_id: WorkflowId::from_uuid(Uuid::new_v4()),
            definition_version: 1,
            definition: definition.clone(),
            trigger: Trigger::new(TriggerKind::Manual),
            input: Vec::new(),
            parent: None,
            reuse: BTreeMap::new(),
            at: chrono::Utc::now(),
        };
        self.commands
            .execute::<Execution>(&id.to_string(), command, Some(0), &EventMetadata::default())
            .await
            .expect("the execution is requested");
        id
    }

    /// Waits until `node` of execution `id` has succeeded.
    pub async fn node_succeeds(&self, id: ExecutionId, node: &str) {
        eventually(WITHIN, &format!("{node} succeeds"), || async {
            let (execution, _) = self
                .commands
                .load::<Execution>(&id.to_string())
                .await
                .expect("the execution loads");
            execution
                .node_run(node)
                .is_some_and(|run| run.status() == NodeRunStatus::Succeeded)
        })
        .await;
    }

    /// Waits until the execution has `status`.
    pub async fn execution_becomes(&self, id: ExecutionId, status: ExecutionStatus) {
        eventually(WITHIN, &format!("execution {id} is {status:?}"), || async {
            let (execution, _) = self
                .commands
                .load::<Execution>(&id.to_string())
                .await
                .expect("the execution loads");
            execution.status() == status
        })
        .await;
    }

    /// Waits until the execution's saga has `status`, and returns it.
    pub async fn saga_becomes(&self, id: ExecutionId, status: SagaStatus) -> Saga {
        eventually(WITHIN, &format!("saga {id} is {status}"), || async {
            let (saga, _) = self
                .commands
                .load::<Saga>(&id.to_string())
                .await
                .expect("the saga loads");
            (saga.status() == status).then_some(saga)
        })
        .await
    }
}

impl Drop for Sagas {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
