//! The vocabulary the tests are written in: one test workflow (`definition`),
//! the events of a run through it, the commands sent to it, all at fixed
//! instants, so each test reads as given events, a command, expected events.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use flowforge_domain::execution::{
    Execution, ExecutionCommand, ExecutionError, ExecutionEvent, ExecutionId, ExecutionStatus,
    Item, NodeError, Trigger, TriggerKind,
};
use flowforge_domain::testing::AggregateTester;
use flowforge_domain::workflow::{RawWorkflowDefinition, WorkflowDefinition, WorkflowId};
use serde_json::{json, Value};
use uuid::Uuid;

/// The given/when/then harness for the `Execution` aggregate.
pub type ExecutionTester = AggregateTester<Execution>;

/// The execution every test runs.
pub fn id() -> ExecutionId {
    ExecutionId::from_uuid(Uuid::from_u128(0xe7ec))
}

/// The workflow it runs.
pub fn workflow_id() -> WorkflowId {
    WorkflowId::from_uuid(Uuid::from_u128(0xf10))
}

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

/// `Start` (manual trigger) → `Fetch` (HTTP, 2 tries) → `Pause` (wait) → `Done`;
/// plus `Hook`, a webhook trigger leading nowhere.
pub fn definition() -> WorkflowDefinition {
    let raw: RawWorkflowDefinition = serde_json::from_value(json!({
        "name": "orders",
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Fetch", "type": "http_request", "retry": {"max_tries": 2, "wait_ms": 500}},
            {"name": "Pause", "type": "wait", "parameters": {"duration_ms": 3000}},
            {"name": "Done", "type": "noop"},
            {"name": "Hook", "type": "webhook", "parameters": {"path": "orders"}}
        ],
        "connections": {
            "Start": {"main": [[{"node": "Fetch"}]]},
            "Fetch": {"main": [[{"node": "Pause"}]]},
            "Pause": {"main": [[{"node": "Done"}]]}
        }
    }))
    .expect("the test definition has the raw shape");
    WorkflowDefinition::parse(raw).expect("the test definition is valid")
}

/// The execution's input: one order.
pub fn input() -> Vec<Item> {
    vec![item(json!({"order": 1}))]
}

/// One output list holding one item.
pub fn one(value: Value) -> Vec<Vec<Item>> {
    vec![vec![item(value)]]
}

/// The error a failing node reports.
pub fn boom() -> NodeError {
    NodeError::new("HTTP 503").with_code("http_status")
}

/// Requests the execution of `definition` from `Start` at `t(0)`.
pub fn request() -> ExecutionCommand {
    ExecutionCommand::Request {
        execution_id: id(),
        workflow_id: workflow_id(),
        definition_version: 3,
        definition: definition(),
        trigger: Trigger::new(TriggerKind::Manual).at_node("Start"),
        input: input(),
        parent: None,
        reuse: BTreeMap::new(),
        at: t(0),
    }
}

/// What `request` records.
pub fn requested() -> ExecutionEvent {
    ExecutionEvent::Requested {
        execution_id: id(),
        workflow_id: workflow_id(),
        definition_version: 3,
        definition: definition(),
        trigger: Trigger::new(TriggerKind::Manual).at_node("Start"),
        input: input(),
        parent: None,
        reuse: BTreeMap::new(),
        requested_at: t(0),
    }
}

/// Attempt `attempt` of `node` started at `t(at)` with the input.
pub fn started(node: &str, attempt: u32, at: i64) -> ExecutionEvent {
    ExecutionEvent::NodeStarted {
        execution_id: id(),
        node: node.into(),
        attempt,
        input: vec![input()],
        started_at: t(at),
    }
}

/// Attempt `attempt` of `node` succeeded at `t(at)`, passing the input on.
pub fn succeeded(node: &str, attempt: u32, at: i64) -> ExecutionEvent {
    ExecutionEvent::NodeSucceeded {
        execution_id: id(),
        node: node.into(),
        attempt,
        outputs: vec![input()],
        finished_at: t(at),
    }
}

/// Attempt `attempt` of `node` failed at `t(at)` with `boom`.
pub fn failed(node: &str, attempt: u32, at: i64) -> ExecutionEvent {
    ExecutionEvent::NodeFailed {
        execution_id: id(),
        node: node.into(),
        attempt,
        error: boom(),
        failed_at: t(at),
    }
}

/// Attempt `attempt` of `node` scheduled at `t(at)`, due 500 ms later.
pub fn retry_scheduled(node: &str, attempt: u32, at: i64) -> ExecutionEvent {
    ExecutionEvent::NodeRetryScheduled {
        execution_id: id(),
        node: node.into(),
        attempt,
        wait_ms: 500,
        scheduled_at: t(at),
        due_at: t(at) + TimeDelta::milliseconds(500),
    }
}

/// `node` began to wait at `t(at)`, until three seconds later or a resume call.
pub fn waiting(node: &str, at: i64) -> ExecutionEvent {
    ExecutionEvent::NodeWaiting {
        execution_id: id(),
        node: node.into(),
        attempt: 1,
        until: Some(t(at + 3)),
        resume_token: None,
        resume_token_sha256: Some("tok".into()),
        waiting_since: t(at),
    }
}

/// `node` resumed at `t(at)`, passing the input on.
pub fn resumed(node: &str, at: i64) -> ExecutionEvent {
    ExecutionEvent::NodeResumed {
        execution_id: id(),
        node: node.into(),
        attempt: 1,
        outputs: vec![input()],
        resumed_by: None,
        resumed_at: t(at),
    }
}

/// The execution was cancelled at `t(9)`.
pub fn cancelled() -> ExecutionEvent {
    ExecutionEvent::Cancelled {
        execution_id: id(),
        reason: "no longer needed".into(),
        actor: "alice".into(),
        finished_at: t(9),
    }
}

/// The execution failed at `t(9)` at `Fetch`.
pub fn execution_failed() -> ExecutionEvent {
    ExecutionEvent::Failed {
        execution_id: id(),
        failed_node: Some("Fetch".into()),
        error: boom(),
        finished_at: t(9),
    }
}

/// Every node up to `Done` has succeeded.
pub fn all_done() -> Vec<ExecutionEvent> {
    vec![
        requested(),
        started("Start", 1, 1),
        succeeded("Start", 1, 1),
        started("Fetch", 1, 2),
        succeeded("Fetch", 1, 2),
        started("Pause", 1, 3),
        waiting("Pause", 3),
        resumed("Pause", 6),
        started("Done", 1, 7),
        succeeded("Done", 1, 7),
    ]
}

/// The execution succeeded at `t(8)` with `Done`'s outputs.
pub fn execution_succeeded() -> ExecutionEvent {
    ExecutionEvent::Succeeded {
        execution_id: id(),
        last_node: Some("Done".into()),
        output: vec![input()],
        finished_at: t(8),
    }
}

/// `Start` succeeded and attempt 1 of `Fetch` is running.
pub fn fetch_running() -> Vec<ExecutionEvent> {
    vec![
        requested(),
        started("Start", 1, 1),
        succeeded("Start", 1, 1),
        started("Fetch", 1, 2),
    ]
}

/// `events` followed by `more`.
pub fn with(mut events: Vec<ExecutionEvent>, more: Vec<ExecutionEvent>) -> Vec<ExecutionEvent> {
    events.extend(more);
    events
}

/// Start attempt `attempt` of `node` with the input.
pub fn start(node: &str, attempt: u32) -> ExecutionCommand {
    ExecutionCommand::StartNode {
        node: node.into(),
        attempt,
        input: vec![input()],
        at: t(2),
    }
}

/// Complete attempt `attempt` of `node` with the input as output.
pub fn complete(node: &str, attempt: u32) -> ExecutionCommand {
    ExecutionCommand::CompleteNode {
        node: node.into(),
        attempt,
        outputs: vec![input()],
        at: t(2),
    }
}

/// Fail attempt `attempt` of `node` with `boom`.
pub fn fail(node: &str, attempt: u32) -> ExecutionCommand {
    ExecutionCommand::FailNode {
        node: node.into(),
        attempt,
        error: boom(),
        at: t(2),
    }
}

/// Schedule attempt `next_attempt` of `node` 500 ms from now.
pub fn schedule_retry(node: &str, next_attempt: u32) -> ExecutionCommand {
    ExecutionCommand::ScheduleRetry {
        node: node.into(),
        next_attempt,
        wait_ms: 500,
        at: t(2),
    }
}

/// Make `node` wait until `t(6)` or a call with the token `tok`.
pub fn wait(node: &str) -> ExecutionCommand {
    ExecutionCommand::Wait {
        node: node.into(),
        until: Some(t(6)),
        resume_token_sha256: Some("tok".into()),
        at: t(3),
    }
}

/// Resume `node` at `t(6)` with the input as output.
pub fn resume(node: &str) -> ExecutionCommand {
    ExecutionCommand::Resume {
        node: node.into(),
        outputs: vec![input()],
        at: t(6),
    }
}

/// Cancel the execution at `t(9)`.
pub fn cancel() -> ExecutionCommand {
    ExecutionCommand::Cancel {
        reason: "no longer needed".into(),
        actor: "alice".into(),
        at: t(9),
    }
}

/// Fail the execution at `t(9)`, naming `Fetch`.
pub fn fail_execution() -> ExecutionCommand {
    ExecutionCommand::Fail {
        error: boom(),
        failed_node: Some("Fetch".into()),
        at: t(9),
    }
}

/// Whether an error says the execution already ended with `status`.
pub fn is_finished_as(status: ExecutionStatus) -> impl Fn(&ExecutionError) -> bool {
    move |error| {
        *error
            == ExecutionError::AlreadyFinished {
                execution_id: id(),
                status,
            }
    }
}

/// `Start` and `Fetch` succeeded and attempt 1 of `Pause` is running.
pub fn pause_running() -> Vec<ExecutionEvent> {
    vec![
        requested(),
        started("Start", 1, 1),
        succeeded("Start", 1, 1),
        started("Fetch", 1, 2),
        succeeded("Fetch", 1, 2),
        started("Pause", 1, 3),
    ]
}
