//! What the planner tests share: definitions from JSON, items, and [`Run`], an
//! execution driven through the aggregate as the orchestrator would drive it,
//! so a test reads as a sequence of node runs and the decisions they lead to.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use flowforge_domain::execution::{
    decide, Decision, Execution, ExecutionCommand, ExecutionEvent, ExecutionId, Finish, Item,
    NodeError, Plan, Trigger, TriggerKind,
};
use flowforge_domain::workflow::{RawWorkflowDefinition, WorkflowDefinition};
use flowforge_domain::{decode_event, encode_event, Aggregate};
use serde_json::{json, Value};
use uuid::Uuid;

/// A fixed instant plus `seconds`.
pub fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000 + seconds, 0).expect("a valid timestamp")
}

/// An item from a JSON object.
pub fn item(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        other => panic!("an item is an object, got {other}"),
    }
}

/// Items from JSON objects.
pub fn items(values: &[Value]) -> Vec<Item> {
    values.iter().cloned().map(item).collect()
}

/// A valid definition from its raw JSON.
pub fn definition(value: Value) -> WorkflowDefinition {
    let raw: RawWorkflowDefinition =
        serde_json::from_value(value).expect("the test definition has the raw shape");
    WorkflowDefinition::parse(raw).expect("the test definition is valid")
}

/// An execution driven through the aggregate, as the orchestrator would drive it.
pub struct Run {
    /// The execution as the events built it.
    pub execution: Execution,
    /// Every event recorded, in order.
    pub history: Vec<ExecutionEvent>,
    /// Seconds since the request.
    clock: i64,
}

impl Run {
    /// Requests a manual run of `definition` with one input item.
    pub fn new(definition: WorkflowDefinition) -> Self {
        Self::requested(
            definition,
            Trigger::new(TriggerKind::Manual),
            items(&[json!({"n": 1})]),
            BTreeMap::new(),
        )
    }

    /// Requests a run with this trigger, input and reused outputs.
    pub fn requested(
        definition: WorkflowDefinition,
        trigger: Trigger,
        input: Vec<Item>,
        reuse: BTreeMap<String, Vec<Vec<Item>>>,
    ) -> Self {
        let mut run = Self {
            execution: Execution::default(),
            history: Vec::new(),
            clock: 0,
        };
        run.send(ExecutionCommand::Request {
            execution_id: ExecutionId::from_uuid(Uuid::from_u128(0xe7ec)),
            workflow_id: Uuid::from_u128(0xf10).into(),
            definition_version: 1,
            definition,
            trigger,
            input,
            parent: None,
            reuse,
            at: t(0),
        });
        run
    }

    /// The next instant: each step of a run happens one second after the last.
    pub fn now(&mut self) -> DateTime<Utc> {
        self.clock += 1;
        t(self.clock)
    }

    /// Sends `command` to the aggregate and records the events it decides.
    #[track_caller]
    pub fn send(&mut self, command: ExecutionCommand) {
        let events = self
            .execution
            .handle(command.clone())
            .unwrap_or_else(|error| panic!("{command:?} was refused: {error}"));
        for event in events {
            self.execution.apply(event.clone());
            self.history.push(event);
        }
    }

    /// The planner's decisions for the history so far.
    pub fn decide(&self) -> Vec<Decision> {
        decide(&self.execution)
    }

    /// The input the plan hands to `node`, which must be ready.
    #[track_caller]
    pub fn input_of(&self, node: &str) -> Vec<Vec<Item>> {
        self.decide()
            .into_iter()
            .find_map(|decision| match decision {
                Decision::RunNode {
                    node: name, input, ..
                } if name == node => Some(input),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{node} is not ready: {:?}", self.decide()))
    }

    /// Starts `node` with the input the plan hands it.
    #[track_caller]
    pub fn start(&mut self, node: &str) {
        let input = self.input_of(node);
        let at = self.now();
        self.send(ExecutionCommand::StartNode {
            node: node.into(),
            attempt: 1,
            input,
            at,
        });
    }

    /// The latest attempt of `node`'s run; 0 if it has not started.
    pub fn attempt(&self, node: &str) -> u32 {
        self.execution
            .node_run(node)
            .map_or(0, |run| run.latest_attempt_number())
    }

    /// Completes `node`'s latest attempt with `outputs`.
    #[track_caller]
    pub fn complete(&mut self, node: &str, outputs: Vec<Vec<Item>>) {
        let (attempt, at) = (self.attempt(node), self.now());
        self.send(ExecutionCommand::CompleteNode {
            node: node.into(),
            attempt,
            outputs,
            at,
        });
    }

    /// Starts and completes `node`.
    #[track_caller]
    pub fn run(&mut self, node: &str, outputs: Vec<Vec<Item>>) {
        self.start(node);
        self.complete(node, outputs);
    }

    /// Fails `node`'s latest attempt with `message`.
    #[track_caller]
    pub fn fail(&mut self, node: &str, message: &str) {
        let (attempt, at) = (self.attempt(node), self.now());
        self.send(ExecutionCommand::FailNode {
            node: node.into(),
            attempt,
            error: NodeError::new(message),
            at,
        });
    }

    /// `node`'s state in the plan, as its `Debug` form.
    pub fn state(&self, node: &str) -> String {
        let plan = Plan::of(&self.execution);
        format!("{:?}", plan.state(node).expect("the node exists"))
    }
}

/// The nodes the decisions start, in order.
pub fn runs(decisions: &[Decision]) -> Vec<&str> {
    decisions
        .iter()
        .filter_map(|decision| match decision {
            Decision::RunNode { node, .. } => Some(node.as_str()),
            _ => None,
        })
        .collect()
}

/// One output list holding one item.
pub fn one(value: Value) -> Vec<Vec<Item>> {
    vec![vec![item(value)]]
}

/// The one decision to end the run successfully with `last_node`'s `output`.
pub fn succeeded(last_node: &str, output: Vec<Vec<Item>>) -> Vec<Decision> {
    vec![Decision::Finish(Finish::Succeeded {
        last_node: Some(last_node.to_owned()),
        output,
    })]
}

/// `Check` (an `if`) sends items to `Yes` or to `No` → `AfterNo`; both end in
/// the merge `Join` (mode `merge_mode`, the default if `None`).
pub fn branches(merge_mode: Option<&str>) -> WorkflowDefinition {
    let mut merge = json!({"name": "Join", "type": "merge"});
    if let Some(mode) = merge_mode {
        merge["parameters"] = json!({"mode": mode});
    }
    definition(json!({"name": "branches", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Check", "type": "if"},
        {"name": "Yes", "type": "set"},
        {"name": "No", "type": "set"},
        {"name": "AfterNo", "type": "noop"},
        merge],
     "connections": {
        "Start": {"main": [[{"node": "Check"}]]},
        "Check": {"main": [[{"node": "Yes"}], [{"node": "No"}]]},
        "No": {"main": [[{"node": "AfterNo"}]]},
        "Yes": {"main": [[{"node": "Join", "index": 0}]]},
        "AfterNo": {"main": [[{"node": "Join", "index": 1}]]}}}))
}

/// `Start` → `Fetch` (an HTTP request with the settings in `fetch`) → `After`,
/// and `Start` → `Other`.
pub fn with_fetch(fetch: Value) -> WorkflowDefinition {
    let mut fetch = fetch;
    fetch["name"] = json!("Fetch");
    fetch["type"] = json!("http_request");
    definition(json!({"name": "fetch", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        fetch,
        {"name": "Other", "type": "noop"},
        {"name": "After", "type": "noop"}],
     "connections": {
        "Start": {"main": [[{"node": "Fetch"}, {"node": "Other"}]]},
        "Fetch": {"main": [[{"node": "After"}]]}}}))
}

/// The history as the store gives it back: each event encoded and decoded.
pub fn round_trip(history: &[ExecutionEvent]) -> Vec<ExecutionEvent> {
    history
        .iter()
        .map(|event| {
            let (event_type, _, payload) = encode_event(event).expect("encodes");
            decode_event(event_type, &payload).expect("decodes")
        })
        .collect()
}
