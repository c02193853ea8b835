//! Given/when/then tests of the `Execution` aggregate: one per accepted and per
//! refused command, through the generic `AggregateTester`, plus the state the
//! events build and the events' stored shape.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use flowforge_domain::execution::{
    Execution, ExecutionCommand, ExecutionError, ExecutionEvent, ExecutionId, ExecutionStatus,
    Item, NodeError, NodeRunStatus, ParentExecution, ResumeSecret, RunOutcome, Trigger,
    TriggerKind, MAX_SUB_WORKFLOW_DEPTH,
};
use flowforge_domain::testing::AggregateTester;
use flowforge_domain::workflow::{RawWorkflowDefinition, WorkflowDefinition, WorkflowId};
use flowforge_domain::{decode_event, encode_event, Aggregate, DomainEvent};
use serde_json::{json, Value};
use uuid::Uuid;

type ExecutionTester = AggregateTester<Execution>;

fn id() -> ExecutionId {
    ExecutionId::from_uuid(Uuid::from_u128(0xe7ec))
}

fn workflow_id() -> WorkflowId {
    WorkflowId::from_uuid(Uuid::from_u128(0xf10))
}

/// A fixed instant plus `seconds`.
fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000 + seconds, 0).expect("a valid timestamp")
}

fn item(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        other => panic!("an item is an object, got {other}"),
    }
}

/// `Start` (manual trigger) → `Fetch` (HTTP, 2 tries) → `Pause` (wait) → `Done`;
/// plus `Hook`, a webhook trigger leading nowhere.
fn definition() -> WorkflowDefinition {
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

fn input() -> Vec<Item> {
    vec![item(json!({"order": 1}))]
}

fn one(value: Value) -> Vec<Vec<Item>> {
    vec![vec![item(value)]]
}

fn boom() -> NodeError {
    NodeError::new("HTTP 503").with_code("http_status")
}

fn request() -> ExecutionCommand {
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

fn requested() -> ExecutionEvent {
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

fn started(node: &str, attempt: u32, at: i64) -> ExecutionEvent {
    ExecutionEvent::NodeStarted {
        execution_id: id(),
        node: node.into(),
        attempt,
        input: vec![input()],
        started_at: t(at),
    }
}

fn succeeded(node: &str, attempt: u32, at: i64) -> ExecutionEvent {
    ExecutionEvent::NodeSucceeded {
        execution_id: id(),
        node: node.into(),
        attempt,
        outputs: vec![input()],
        finished_at: t(at),
    }
}

fn failed(node: &str, attempt: u32, at: i64) -> ExecutionEvent {
    ExecutionEvent::NodeFailed {
        execution_id: id(),
        node: node.into(),
        attempt,
        error: boom(),
        failed_at: t(at),
    }
}

fn retry_scheduled(node: &str, attempt: u32, at: i64) -> ExecutionEvent {
    ExecutionEvent::NodeRetryScheduled {
        execution_id: id(),
        node: node.into(),
        attempt,
        wait_ms: 500,
        scheduled_at: t(at),
        due_at: t(at) + TimeDelta::milliseconds(500),
    }
}

fn waiting(node: &str, at: i64) -> ExecutionEvent {
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

fn resumed(node: &str, at: i64) -> ExecutionEvent {
    ExecutionEvent::NodeResumed {
        execution_id: id(),
        node: node.into(),
        attempt: 1,
        outputs: vec![input()],
        resumed_by: None,
        resumed_at: t(at),
    }
}

fn cancelled() -> ExecutionEvent {
    ExecutionEvent::Cancelled {
        execution_id: id(),
        reason: "no longer needed".into(),
        actor: "alice".into(),
        finished_at: t(9),
    }
}

fn execution_failed() -> ExecutionEvent {
    ExecutionEvent::Failed {
        execution_id: id(),
        failed_node: Some("Fetch".into()),
        error: boom(),
        finished_at: t(9),
    }
}

/// Every node up to `Done` has succeeded.
fn all_done() -> Vec<ExecutionEvent> {
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

fn execution_succeeded() -> ExecutionEvent {
    ExecutionEvent::Succeeded {
        execution_id: id(),
        last_node: Some("Done".into()),
        output: vec![input()],
        finished_at: t(8),
    }
}

/// `Start` succeeded and attempt 1 of `Fetch` is running.
fn fetch_running() -> Vec<ExecutionEvent> {
    vec![
        requested(),
        started("Start", 1, 1),
        succeeded("Start", 1, 1),
        started("Fetch", 1, 2),
    ]
}

fn with(mut events: Vec<ExecutionEvent>, more: Vec<ExecutionEvent>) -> Vec<ExecutionEvent> {
    events.extend(more);
    events
}

fn start(node: &str, attempt: u32) -> ExecutionCommand {
    ExecutionCommand::StartNode {
        node: node.into(),
        attempt,
        input: vec![input()],
        at: t(2),
    }
}

fn complete(node: &str, attempt: u32) -> ExecutionCommand {
    ExecutionCommand::CompleteNode {
        node: node.into(),
        attempt,
        outputs: vec![input()],
        at: t(2),
    }
}

fn fail(node: &str, attempt: u32) -> ExecutionCommand {
    ExecutionCommand::FailNode {
        node: node.into(),
        attempt,
        error: boom(),
        at: t(2),
    }
}

fn schedule_retry(node: &str, next_attempt: u32) -> ExecutionCommand {
    ExecutionCommand::ScheduleRetry {
        node: node.into(),
        next_attempt,
        wait_ms: 500,
        at: t(2),
    }
}

fn wait(node: &str) -> ExecutionCommand {
    ExecutionCommand::Wait {
        node: node.into(),
        until: Some(t(6)),
        resume_token_sha256: Some("tok".into()),
        at: t(3),
    }
}

fn resume(node: &str) -> ExecutionCommand {
    ExecutionCommand::Resume {
        node: node.into(),
        outputs: vec![input()],
        at: t(6),
    }
}

fn cancel() -> ExecutionCommand {
    ExecutionCommand::Cancel {
        reason: "no longer needed".into(),
        actor: "alice".into(),
        at: t(9),
    }
}

fn fail_execution() -> ExecutionCommand {
    ExecutionCommand::Fail {
        error: boom(),
        failed_node: Some("Fetch".into()),
        at: t(9),
    }
}

fn is_finished_as(status: ExecutionStatus) -> impl Fn(&ExecutionError) -> bool {
    move |error| {
        *error
            == ExecutionError::AlreadyFinished {
                execution_id: id(),
                status,
            }
    }
}

#[test]
fn the_aggregate_type_is_execution() {
    assert_eq!(Execution::TYPE, "execution");
}

// Request

#[test]
fn request_records_the_pinned_definition_trigger_and_input() {
    ExecutionTester::given_no_previous_events()
        .when(request())
        .then_expect_events(vec![requested()]);
}

#[test]
fn request_of_a_sub_workflow_with_reused_outputs_records_both() {
    let parent = ParentExecution {
        execution_id: ExecutionId::from_uuid(Uuid::from_u128(1)),
        node: "Call".into(),
        depth: 1,
        root: Some(ExecutionId::from_uuid(Uuid::from_u128(1))),
    };
    let reuse = BTreeMap::from([("Start".to_owned(), vec![input()])]);
    let ExecutionCommand::Request {
        execution_id,
        workflow_id,
        definition_version,
        definition,
        ..
    } = request()
    else {
        unreachable!("request() builds a Request")
    };
    ExecutionTester::given_no_previous_events()
        .when(ExecutionCommand::Request {
            execution_id,
            workflow_id,
            definition_version,
            definition: definition.clone(),
            trigger: Trigger::new(TriggerKind::SubWorkflow),
            input: vec![],
            parent: Some(parent.clone()),
            reuse: reuse.clone(),
            at: t(0),
        })
        .then_expect_events(vec![ExecutionEvent::Requested {
            execution_id,
            workflow_id,
            definition_version,
            definition,
            trigger: Trigger::new(TriggerKind::SubWorkflow),
            input: vec![],
            parent: Some(parent),
            reuse,
            requested_at: t(0),
        }]);
}

/// A request at `depth` sub-workflow calls.
fn request_at_depth(depth: u32) -> ExecutionCommand {
    let mut command = request();
    if let ExecutionCommand::Request {
        trigger, parent, ..
    } = &mut command
    {
        *trigger = Trigger::new(TriggerKind::SubWorkflow);
        *parent = Some(ParentExecution {
            execution_id: ExecutionId::from_uuid(Uuid::from_u128(1)),
            node: "Call".into(),
            depth,
            root: Some(ExecutionId::from_uuid(Uuid::from_u128(7))),
        });
    }
    command
}

#[test]
fn a_sub_workflow_at_the_depth_limit_runs() {
    let events = Execution::from_events(Vec::new())
        .handle(request_at_depth(MAX_SUB_WORKFLOW_DEPTH))
        .expect("accepted");
    assert_eq!(events.len(), 1);
    let execution = Execution::from_events(events);
    assert_eq!(execution.depth(), MAX_SUB_WORKFLOW_DEPTH);
}

#[test]
fn an_execution_nothing_called_is_its_own_root() {
    let execution = Execution::from_events(vec![requested()]);
    assert_eq!(execution.root_id(), Some(id()));
    assert_eq!(Execution::default().root_id(), None);
}

#[test]
fn a_sub_workflow_belongs_to_its_caller_s_root() {
    let events = Execution::from_events(Vec::new())
        .handle(request_at_depth(3))
        .expect("accepted");
    let execution = Execution::from_events(events);
    assert_eq!(
        execution.root_id(),
        Some(ExecutionId::from_uuid(Uuid::from_u128(7)))
    );
}

#[test]
fn a_sub_workflow_recorded_before_roots_were_kept_takes_its_caller_as_root() {
    let (event_type, _, mut payload) = encode_event(&requested()).expect("encodes");
    payload["parent"] =
        json!({"execution_id": ExecutionId::from_uuid(Uuid::from_u128(1)), "node": "Call"});
    let legacy: ExecutionEvent = decode_event(event_type, &payload).expect("an old event decodes");
    let execution = Execution::from_events(vec![legacy]);
    assert_eq!(execution.depth(), 1);
    assert_eq!(
        execution.root_id(),
        Some(ExecutionId::from_uuid(Uuid::from_u128(1)))
    );
}

#[test]
fn a_sub_workflow_past_the_depth_limit_is_refused() {
    ExecutionTester::given_no_previous_events()
        .when(request_at_depth(MAX_SUB_WORKFLOW_DEPTH + 1))
        .then_expect_error(|error| {
            *error
                == ExecutionError::TooDeep {
                    depth: MAX_SUB_WORKFLOW_DEPTH + 1,
                    limit: MAX_SUB_WORKFLOW_DEPTH,
                }
        });
}

#[test]
fn a_parent_recorded_before_depth_was_kept_reads_as_the_first_level() {
    let parent: ParentExecution = serde_json::from_value(json!({
        "execution_id": Uuid::from_u128(1),
        "node": "Call",
    }))
    .expect("the old shape decodes");
    assert_eq!(parent.depth, 1);
}

// Queue

fn queued(at: i64) -> ExecutionEvent {
    ExecutionEvent::Queued {
        execution_id: id(),
        queued_at: t(at),
    }
}

#[test]
fn queue_holds_a_requested_execution_back_once() {
    ExecutionTester::given(vec![requested()])
        .when(ExecutionCommand::Queue { at: t(1) })
        .then_expect_events(vec![queued(1)]);
    ExecutionTester::given(vec![requested(), queued(1)])
        .when(ExecutionCommand::Queue { at: t(2) })
        .then_expect_no_events();
    let execution = Execution::from_events(vec![requested(), queued(1)]);
    assert_eq!(execution.status(), ExecutionStatus::Queued);
}

#[test]
fn queue_after_a_node_ran_records_nothing() {
    ExecutionTester::given(vec![requested(), started("Start", 1, 1)])
        .when(ExecutionCommand::Queue { at: t(2) })
        .then_expect_no_events();
}

#[test]
fn the_first_node_start_ends_the_queueing() {
    let execution = Execution::from_events(vec![requested(), queued(1), started("Start", 1, 2)]);
    assert_eq!(execution.status(), ExecutionStatus::Running);
}

#[test]
fn request_again_with_the_same_content_records_nothing() {
    ExecutionTester::given(vec![requested()])
        .when(request())
        .then_expect_no_events();
    ExecutionTester::given(with(all_done(), vec![execution_succeeded()]))
        .when(request())
        .then_expect_no_events();
}

#[test]
fn request_again_with_other_content_is_refused() {
    let mut other = request();
    if let ExecutionCommand::Request { input, .. } = &mut other {
        input.clear();
    }
    ExecutionTester::given(vec![requested()])
        .when(other)
        .then_expect_error(|error| *error == ExecutionError::AlreadyExists { execution_id: id() });
}

#[test]
fn request_is_refused_with_an_unknown_trigger_node() {
    let mut command = request();
    if let ExecutionCommand::Request { trigger, .. } = &mut command {
        trigger.node = Some("Nope".into());
    }
    ExecutionTester::given_no_previous_events()
        .when(command)
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnknownNode {
                    node: "Nope".into(),
                }
        });
}

#[test]
fn request_is_refused_when_the_trigger_node_is_not_a_trigger() {
    let mut command = request();
    if let ExecutionCommand::Request { trigger, .. } = &mut command {
        trigger.node = Some("Fetch".into());
    }
    ExecutionTester::given_no_previous_events()
        .when(command)
        .then_expect_error_message("node \"Fetch\" is not a trigger node");
}

#[test]
fn request_is_refused_when_reusing_an_unknown_node() {
    let mut command = request();
    if let ExecutionCommand::Request { reuse, .. } = &mut command {
        reuse.insert("Ghost".into(), vec![]);
    }
    ExecutionTester::given_no_previous_events()
        .when(command)
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnknownNode {
                    node: "Ghost".into(),
                }
        });
}

#[test]
fn request_is_refused_when_reused_outputs_exceed_the_node_outputs() {
    let mut command = request();
    if let ExecutionCommand::Request { reuse, .. } = &mut command {
        reuse.insert("Fetch".into(), vec![vec![], vec![]]);
    }
    ExecutionTester::given_no_previous_events()
        .when(command)
        .then_expect_error(|error| {
            *error
                == ExecutionError::TooManyOutputs {
                    node: "Fetch".into(),
                    outputs: 1,
                    got: 2,
                }
        });
}

#[test]
fn any_other_command_before_the_request_is_refused() {
    for command in [
        start("Start", 1),
        complete("Start", 1),
        ExecutionCommand::Succeed { at: t(1) },
        cancel(),
    ] {
        ExecutionTester::given_no_previous_events()
            .when(command)
            .then_expect_error(|error| *error == ExecutionError::NotFound);
    }
}

// StartNode

#[test]
fn start_the_trigger_node_records_attempt_1_with_its_input() {
    ExecutionTester::given(vec![requested()])
        .when(ExecutionCommand::StartNode {
            node: "Start".into(),
            attempt: 1,
            input: vec![input()],
            at: t(1),
        })
        .then_expect_events(vec![started("Start", 1, 1)]);
}

#[test]
fn start_a_node_once_its_predecessor_succeeded() {
    ExecutionTester::given(vec![
        requested(),
        started("Start", 1, 1),
        succeeded("Start", 1, 1),
    ])
    .when(start("Fetch", 1))
    .then_expect_events(vec![started("Fetch", 1, 2)]);
}

#[test]
fn start_is_refused_for_a_node_the_definition_lacks() {
    ExecutionTester::given(vec![requested()])
        .when(start("Nope", 1))
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnknownNode {
                    node: "Nope".into(),
                }
        });
}

#[test]
fn start_is_refused_before_the_predecessors_finished() {
    ExecutionTester::given(vec![requested(), started("Start", 1, 1)])
        .when(start("Fetch", 1))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeNotReady {
                    node: "Fetch".into(),
                }
        });
}

#[test]
fn start_is_refused_for_a_trigger_that_did_not_fire() {
    ExecutionTester::given(vec![requested()])
        .when(start("Hook", 1))
        .then_expect_error_message("node \"Hook\" is not ready to run");
}

#[test]
fn start_is_refused_when_the_first_attempt_is_not_1() {
    ExecutionTester::given(vec![requested()])
        .when(start("Start", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnexpectedAttempt {
                    node: "Start".into(),
                    expected: 1,
                    got: 2,
                }
        });
}

#[test]
fn start_again_of_the_running_attempt_records_nothing() {
    ExecutionTester::given(fetch_running())
        .when(start("Fetch", 1))
        .then_expect_no_events();
}

#[test]
fn start_of_another_attempt_while_one_runs_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(start("Fetch", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeAlreadyRunning {
                    node: "Fetch".into(),
                    attempt: 1,
                }
        });
}

#[test]
fn start_after_success_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![succeeded("Fetch", 1, 2)]))
        .when(start("Fetch", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeAlreadySucceeded {
                    node: "Fetch".into(),
                }
        });
}

#[test]
fn start_of_a_node_whose_outputs_are_reused_is_refused() {
    let mut events = vec![requested()];
    if let ExecutionEvent::Requested { reuse, .. } = &mut events[0] {
        reuse.insert("Start".into(), vec![input()]);
    }
    ExecutionTester::given(events)
        .when(start("Start", 1))
        .then_expect_error_message("node \"Start\" has already succeeded");
}

#[test]
fn start_after_a_failure_without_a_scheduled_retry_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(start("Fetch", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::RetryNotScheduled {
                    node: "Fetch".into(),
                }
        });
}

#[test]
fn start_of_the_scheduled_retry_records_the_next_attempt() {
    ExecutionTester::given(with(
        fetch_running(),
        vec![failed("Fetch", 1, 2), retry_scheduled("Fetch", 2, 2)],
    ))
    .when(start("Fetch", 2))
    .then_expect_events(vec![started("Fetch", 2, 2)]);
}

#[test]
fn start_of_another_attempt_than_the_scheduled_one_is_refused() {
    for attempt in [1, 3] {
        ExecutionTester::given(with(
            fetch_running(),
            vec![failed("Fetch", 1, 2), retry_scheduled("Fetch", 2, 2)],
        ))
        .when(start("Fetch", attempt))
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnexpectedAttempt {
                    node: "Fetch".into(),
                    expected: 2,
                    got: attempt,
                }
        });
    }
}

#[test]
fn start_after_the_execution_ended_is_refused() {
    ExecutionTester::given(vec![requested(), cancelled()])
        .when(start("Start", 1))
        .then_expect_error(is_finished_as(ExecutionStatus::Cancelled));
}

// CompleteNode

#[test]
fn complete_records_the_outputs_of_the_running_attempt() {
    ExecutionTester::given(fetch_running())
        .when(complete("Fetch", 1))
        .then_expect_events(vec![succeeded("Fetch", 1, 2)]);
}

#[test]
fn complete_again_of_the_same_attempt_records_nothing() {
    ExecutionTester::given(with(fetch_running(), vec![succeeded("Fetch", 1, 2)]))
        .when(ExecutionCommand::CompleteNode {
            node: "Fetch".into(),
            attempt: 1,
            outputs: one(json!({"other": "result"})),
            at: t(5),
        })
        .then_expect_no_events();
}

#[test]
fn complete_of_another_attempt_than_the_running_one_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(complete("Fetch", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::AttemptNotRunning {
                    node: "Fetch".into(),
                    attempt: 2,
                }
        });
}

#[test]
fn complete_of_a_node_that_never_started_is_refused() {
    ExecutionTester::given(vec![requested()])
        .when(complete("Fetch", 1))
        .then_expect_error_message("attempt 1 of node \"Fetch\" is not running");
}

#[test]
fn complete_of_a_failed_attempt_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(complete("Fetch", 1))
        .then_expect_error(|error| matches!(error, ExecutionError::AttemptNotRunning { .. }));
}

#[test]
fn complete_of_a_waiting_node_is_refused() {
    ExecutionTester::given(vec![
        requested(),
        started("Start", 1, 1),
        succeeded("Start", 1, 1),
        started("Fetch", 1, 2),
        succeeded("Fetch", 1, 2),
        started("Pause", 1, 3),
        waiting("Pause", 3),
    ])
    .when(complete("Pause", 1))
    .then_expect_error(|error| {
        *error
            == ExecutionError::NodeWaiting {
                node: "Pause".into(),
            }
    });
}

#[test]
fn complete_with_more_output_lists_than_outputs_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(ExecutionCommand::CompleteNode {
            node: "Fetch".into(),
            attempt: 1,
            outputs: vec![input(), input()],
            at: t(2),
        })
        .then_expect_error(|error| {
            *error
                == ExecutionError::TooManyOutputs {
                    node: "Fetch".into(),
                    outputs: 1,
                    got: 2,
                }
        });
}

// FailNode

#[test]
fn fail_node_records_the_error_and_the_attempt() {
    ExecutionTester::given(fetch_running())
        .when(fail("Fetch", 1))
        .then_expect_events(vec![failed("Fetch", 1, 2)]);
}

#[test]
fn fail_node_of_a_waiting_node_is_accepted() {
    ExecutionTester::given(vec![
        requested(),
        started("Start", 1, 1),
        succeeded("Start", 1, 1),
        started("Fetch", 1, 2),
        succeeded("Fetch", 1, 2),
        started("Pause", 1, 3),
        waiting("Pause", 3),
    ])
    .when(fail("Pause", 1))
    .then_expect_events(vec![failed("Pause", 1, 2)]);
}

#[test]
fn fail_node_again_of_the_same_attempt_records_nothing() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(fail("Fetch", 1))
        .then_expect_no_events();
    ExecutionTester::given(with(
        fetch_running(),
        vec![failed("Fetch", 1, 2), retry_scheduled("Fetch", 2, 2)],
    ))
    .when(fail("Fetch", 1))
    .then_expect_no_events();
}

#[test]
fn fail_node_of_another_attempt_than_the_running_one_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(fail("Fetch", 3))
        .then_expect_error(|error| {
            *error
                == ExecutionError::AttemptNotRunning {
                    node: "Fetch".into(),
                    attempt: 3,
                }
        });
}

#[test]
fn fail_node_after_success_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![succeeded("Fetch", 1, 2)]))
        .when(fail("Fetch", 1))
        .then_expect_error(|error| matches!(error, ExecutionError::AttemptNotRunning { .. }));
}

// ScheduleRetry

#[test]
fn schedule_retry_records_the_next_attempt_and_its_due_time() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(schedule_retry("Fetch", 2))
        .then_expect_events(vec![retry_scheduled("Fetch", 2, 2)]);
}

#[test]
fn schedule_retry_again_records_nothing() {
    ExecutionTester::given(with(
        fetch_running(),
        vec![failed("Fetch", 1, 2), retry_scheduled("Fetch", 2, 2)],
    ))
    .when(schedule_retry("Fetch", 2))
    .then_expect_no_events();
}

#[test]
fn schedule_retry_without_a_failure_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(schedule_retry("Fetch", 2))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeNotFailed {
                    node: "Fetch".into(),
                }
        });
    ExecutionTester::given(vec![requested()])
        .when(schedule_retry("Fetch", 2))
        .then_expect_error_message("node \"Fetch\" has not failed");
}

#[test]
fn schedule_retry_of_another_attempt_than_the_next_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(schedule_retry("Fetch", 3))
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnexpectedAttempt {
                    node: "Fetch".into(),
                    expected: 2,
                    got: 3,
                }
        });
}

#[test]
fn schedule_retry_beyond_max_tries_is_refused() {
    ExecutionTester::given(with(
        fetch_running(),
        vec![
            failed("Fetch", 1, 2),
            retry_scheduled("Fetch", 2, 2),
            started("Fetch", 2, 3),
            failed("Fetch", 2, 3),
        ],
    ))
    .when(schedule_retry("Fetch", 3))
    .then_expect_error(|error| {
        *error
            == ExecutionError::RetriesExhausted {
                node: "Fetch".into(),
                max_tries: 2,
            }
    });
}

#[test]
fn schedule_retry_of_a_node_without_retry_policy_is_refused() {
    ExecutionTester::given(vec![
        requested(),
        started("Start", 1, 1),
        failed("Start", 1, 1),
    ])
    .when(schedule_retry("Start", 2))
    .then_expect_error_message("may be tried at most 1 time(s)");
}

#[test]
fn schedule_retry_with_an_unrepresentable_wait_is_refused() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(ExecutionCommand::ScheduleRetry {
            node: "Fetch".into(),
            next_attempt: 2,
            wait_ms: u64::MAX,
            at: t(2),
        })
        .then_expect_error(|error| matches!(error, ExecutionError::WaitOutOfRange { .. }));
}

// Wait

fn pause_running() -> Vec<ExecutionEvent> {
    vec![
        requested(),
        started("Start", 1, 1),
        succeeded("Start", 1, 1),
        started("Fetch", 1, 2),
        succeeded("Fetch", 1, 2),
        started("Pause", 1, 3),
    ]
}

#[test]
fn wait_records_the_deadline_and_resume_token() {
    ExecutionTester::given(pause_running())
        .when(wait("Pause"))
        .then_expect_events(vec![waiting("Pause", 3)]);
}

#[test]
fn wait_again_with_the_same_deadline_records_nothing() {
    ExecutionTester::given(with(pause_running(), vec![waiting("Pause", 3)]))
        .when(wait("Pause"))
        .then_expect_no_events();
}

#[test]
fn wait_again_with_another_deadline_is_refused() {
    ExecutionTester::given(with(pause_running(), vec![waiting("Pause", 3)]))
        .when(ExecutionCommand::Wait {
            node: "Pause".into(),
            until: Some(t(60)),
            resume_token_sha256: Some("tok".into()),
            at: t(4),
        })
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeWaiting {
                    node: "Pause".into(),
                }
        });
}

#[test]
fn wait_of_a_node_that_is_not_running_is_refused() {
    ExecutionTester::given(vec![requested()])
        .when(wait("Pause"))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeNotRunning {
                    node: "Pause".into(),
                }
        });
    ExecutionTester::given(with(fetch_running(), vec![succeeded("Fetch", 1, 2)]))
        .when(wait("Fetch"))
        .then_expect_error_message("node \"Fetch\" is not running");
}

// Resume

#[test]
fn resume_records_the_outputs_of_the_waiting_attempt() {
    ExecutionTester::given(with(pause_running(), vec![waiting("Pause", 3)]))
        .when(resume("Pause"))
        .then_expect_events(vec![resumed("Pause", 6)]);
}

#[test]
fn resume_again_records_nothing() {
    ExecutionTester::given(with(
        pause_running(),
        vec![waiting("Pause", 3), resumed("Pause", 6)],
    ))
    .when(resume("Pause"))
    .then_expect_no_events();
}

fn resume_with_token(node: &str) -> ExecutionCommand {
    ExecutionCommand::ResumeWithToken {
        node: node.into(),
        outputs: vec![input()],
        actor: "approver".into(),
        at: t(6),
    }
}

fn resumed_by_token(node: &str) -> ExecutionEvent {
    ExecutionEvent::NodeResumed {
        execution_id: id(),
        node: node.into(),
        attempt: 1,
        outputs: vec![input()],
        resumed_by: Some("approver".into()),
        resumed_at: t(6),
    }
}

#[test]
fn a_resume_token_resumes_its_waiting_node_and_records_who() {
    ExecutionTester::given(with(pause_running(), vec![waiting("Pause", 3)]))
        .when(resume_with_token("Pause"))
        .then_expect_events(vec![resumed_by_token("Pause")]);
}

#[test]
fn a_resume_token_works_once() {
    ExecutionTester::given(with(
        pause_running(),
        vec![waiting("Pause", 3), resumed_by_token("Pause")],
    ))
    .when(resume_with_token("Pause"))
    .then_expect_error(|error| matches!(error, ExecutionError::NodeNotWaiting { .. }));
    ExecutionTester::given(with(
        pause_running(),
        vec![waiting("Pause", 3), resumed("Pause", 6)],
    ))
    .when(resume_with_token("Pause"))
    .then_expect_error(|error| matches!(error, ExecutionError::NodeNotWaiting { .. }));
}

#[test]
fn a_node_waiting_without_a_token_is_not_resumed_by_one() {
    let timed = ExecutionEvent::NodeWaiting {
        execution_id: id(),
        node: "Pause".into(),
        attempt: 1,
        until: Some(t(6)),
        resume_token: None,
        resume_token_sha256: None,
        waiting_since: t(3),
    };
    ExecutionTester::given(with(pause_running(), vec![timed]))
        .when(resume_with_token("Pause"))
        .then_expect_error(|error| matches!(error, ExecutionError::NodeNotWaiting { .. }));
}

#[test]
fn the_resume_secret_is_never_serialised() {
    let execution = Execution::from_events(with(pause_running(), vec![waiting("Pause", 3)]));
    let shown = serde_json::to_string(&execution).expect("serialises");
    assert!(!shown.contains("tok"), "{shown}");
    assert!(shown.contains("\"awaits_resume\":true"), "{shown}");
}

#[test]
fn a_token_recorded_in_clear_before_digests_is_still_the_secret() {
    let legacy: ExecutionEvent = decode_event(
        "NodeWaiting",
        &json!({"execution_id": id(), "node": "Pause", "attempt": 1,
                "resume_token": "old", "waiting_since": t(3)}),
    )
    .expect("an old NodeWaiting decodes");
    let execution = Execution::from_events(with(pause_running(), vec![legacy]));
    let run = execution.node_run("Pause").expect("Pause ran");
    assert_eq!(run.resume_token(), Some(&ResumeSecret::Clear("old".into())));
}

#[test]
fn resume_of_a_node_that_is_not_waiting_is_refused() {
    ExecutionTester::given(pause_running())
        .when(resume("Pause"))
        .then_expect_error(|error| {
            *error
                == ExecutionError::NodeNotWaiting {
                    node: "Pause".into(),
                }
        });
    ExecutionTester::given(with(fetch_running(), vec![succeeded("Fetch", 1, 2)]))
        .when(resume("Fetch"))
        .then_expect_error_message("node \"Fetch\" is not waiting");
    ExecutionTester::given(vec![requested()])
        .when(resume("Pause"))
        .then_expect_error(|error| matches!(error, ExecutionError::NodeNotWaiting { .. }));
}

#[test]
fn resume_with_more_output_lists_than_outputs_is_refused() {
    ExecutionTester::given(with(pause_running(), vec![waiting("Pause", 3)]))
        .when(ExecutionCommand::Resume {
            node: "Pause".into(),
            outputs: vec![vec![], vec![]],
            at: t(6),
        })
        .then_expect_error(|error| matches!(error, ExecutionError::TooManyOutputs { .. }));
}

// Succeed

#[test]
fn succeed_records_the_last_node_and_its_outputs() {
    ExecutionTester::given(all_done())
        .when(ExecutionCommand::Succeed { at: t(8) })
        .then_expect_events(vec![execution_succeeded()]);
}

#[test]
fn succeed_again_records_nothing() {
    ExecutionTester::given(with(all_done(), vec![execution_succeeded()]))
        .when(ExecutionCommand::Succeed { at: t(20) })
        .then_expect_no_events();
}

#[test]
fn succeed_while_nodes_are_open_is_refused_and_names_them() {
    ExecutionTester::given(fetch_running())
        .when(ExecutionCommand::Succeed { at: t(8) })
        .then_expect_error(|error| {
            *error
                == ExecutionError::NotComplete {
                    nodes: vec!["Fetch".into(), "Pause".into(), "Done".into()],
                }
        });
}

#[test]
fn succeed_after_a_node_failed_for_good_is_refused() {
    ExecutionTester::given(vec![
        requested(),
        started("Start", 1, 1),
        failed("Start", 1, 1),
    ])
    .when(ExecutionCommand::Succeed { at: t(8) })
    .then_expect_error_message("nodes still open: Start");
}

#[test]
fn succeed_after_another_ending_is_refused() {
    ExecutionTester::given(with(all_done(), vec![cancelled()]))
        .when(ExecutionCommand::Succeed { at: t(10) })
        .then_expect_error(is_finished_as(ExecutionStatus::Cancelled));
    ExecutionTester::given(with(all_done(), vec![execution_failed()]))
        .when(ExecutionCommand::Succeed { at: t(10) })
        .then_expect_error(is_finished_as(ExecutionStatus::Failed));
}

// Fail

#[test]
fn fail_records_the_error_and_the_failed_node() {
    ExecutionTester::given(with(fetch_running(), vec![failed("Fetch", 1, 2)]))
        .when(fail_execution())
        .then_expect_events(vec![execution_failed()]);
}

#[test]
fn fail_while_nodes_run_is_accepted() {
    ExecutionTester::given(fetch_running())
        .when(ExecutionCommand::Fail {
            error: NodeError::new("execution timed out").with_code("timeout"),
            failed_node: None,
            at: t(9),
        })
        .then_expect_events(vec![ExecutionEvent::Failed {
            execution_id: id(),
            failed_node: None,
            error: NodeError::new("execution timed out").with_code("timeout"),
            finished_at: t(9),
        }]);
}

#[test]
fn fail_again_records_nothing() {
    ExecutionTester::given(with(fetch_running(), vec![execution_failed()]))
        .when(fail_execution())
        .then_expect_no_events();
}

#[test]
fn fail_naming_an_unknown_node_is_refused() {
    ExecutionTester::given(fetch_running())
        .when(ExecutionCommand::Fail {
            error: boom(),
            failed_node: Some("Ghost".into()),
            at: t(9),
        })
        .then_expect_error(|error| {
            *error
                == ExecutionError::UnknownNode {
                    node: "Ghost".into(),
                }
        });
}

#[test]
fn fail_after_another_ending_is_refused() {
    ExecutionTester::given(with(all_done(), vec![execution_succeeded()]))
        .when(fail_execution())
        .then_expect_error(is_finished_as(ExecutionStatus::Succeeded));
}

// Cancel

#[test]
fn cancel_records_the_reason_and_actor() {
    ExecutionTester::given(fetch_running())
        .when(cancel())
        .then_expect_events(vec![cancelled()]);
}

#[test]
fn cancel_again_records_nothing() {
    ExecutionTester::given(vec![requested(), cancelled()])
        .when(cancel())
        .then_expect_no_events();
}

#[test]
fn cancel_after_the_execution_ended_is_refused() {
    ExecutionTester::given(with(all_done(), vec![execution_succeeded()]))
        .when(cancel())
        .then_expect_error(is_finished_as(ExecutionStatus::Succeeded));
    ExecutionTester::given(with(fetch_running(), vec![execution_failed()]))
        .when(cancel())
        .then_expect_error_message("has already finished (failed)");
}

// Node commands after the end

#[test]
fn node_commands_after_the_end_are_refused() {
    for command in [
        complete("Fetch", 1),
        fail("Fetch", 1),
        schedule_retry("Fetch", 2),
        wait("Fetch"),
        resume("Fetch"),
    ] {
        ExecutionTester::given(with(fetch_running(), vec![cancelled()]))
            .when(command)
            .then_expect_error(is_finished_as(ExecutionStatus::Cancelled));
    }
}

// State

#[test]
fn state_before_the_request_is_empty() {
    let execution = Execution::default();
    assert!(!execution.exists());
    assert_eq!(execution.id(), None);
    assert_eq!(execution.definition(), None);
    assert_eq!(execution.start_node(), None);
    assert!(execution.node_runs().is_empty());
}

#[test]
fn state_keeps_the_request() {
    let execution = Execution::from_events(vec![requested()]);
    assert_eq!(execution.id(), Some(id()));
    assert_eq!(execution.workflow_id(), Some(workflow_id()));
    assert_eq!(execution.definition_version(), 3);
    assert_eq!(execution.definition(), Some(&definition()));
    assert_eq!(
        execution.trigger().map(|trigger| trigger.kind),
        Some(TriggerKind::Manual)
    );
    assert_eq!(execution.input(), input().as_slice());
    assert_eq!(execution.start_node(), Some("Start"));
    assert_eq!(execution.requested_at(), Some(t(0)));
    assert_eq!(execution.status(), ExecutionStatus::Running);
    assert!(!execution.is_finished());
}

#[test]
fn start_node_defaults_to_the_first_trigger_in_list_order() {
    let mut event = requested();
    if let ExecutionEvent::Requested { trigger, .. } = &mut event {
        trigger.node = None;
    }
    assert_eq!(
        Execution::from_events(vec![event]).start_node(),
        Some("Start")
    );
}

#[test]
fn status_is_waiting_while_a_node_waits_and_none_runs() {
    let execution = Execution::from_events(with(pause_running(), vec![waiting("Pause", 3)]));
    assert_eq!(execution.status(), ExecutionStatus::Waiting);
    let run = execution.node_run("Pause").expect("Pause ran");
    assert_eq!(run.status(), NodeRunStatus::Waiting);
    assert_eq!(run.waiting_until(), Some(t(6)));
    assert_eq!(
        run.resume_token(),
        Some(&ResumeSecret::Sha256("tok".into()))
    );

    let execution = Execution::from_events(with(
        pause_running(),
        vec![waiting("Pause", 3), resumed("Pause", 6)],
    ));
    assert_eq!(execution.status(), ExecutionStatus::Running);
    let run = execution.node_run("Pause").expect("Pause ran");
    assert_eq!(run.status(), NodeRunStatus::Succeeded);
    assert_eq!(run.waiting_until(), None);
    let attempt = run.latest_attempt().expect("one attempt");
    assert_eq!(attempt.waiting_since(), Some(t(3)));
    assert_eq!(attempt.finished_at(), Some(t(6)));
    assert_eq!(attempt.duration(), Some(TimeDelta::seconds(3)));
}

#[test]
fn node_runs_keep_every_attempt_with_input_outputs_and_error() {
    let execution = Execution::from_events(with(
        fetch_running(),
        vec![
            failed("Fetch", 1, 2),
            retry_scheduled("Fetch", 2, 2),
            started("Fetch", 2, 4),
            succeeded("Fetch", 2, 5),
        ],
    ));
    let names: Vec<&str> = execution.node_runs().iter().map(|run| run.node()).collect();
    assert_eq!(names, ["Start", "Fetch"]);
    let run = execution.node_run("Fetch").expect("Fetch ran");
    assert_eq!(run.status(), NodeRunStatus::Succeeded);
    assert_eq!(run.latest_attempt_number(), 2);
    assert_eq!(run.next_retry_at(), None);
    let [first, second] = run.attempts() else {
        panic!("two attempts, got {:?}", run.attempts())
    };
    assert_eq!(first.attempt(), 1);
    assert_eq!(first.error(), Some(&boom()));
    assert_eq!(first.outputs(), None);
    assert_eq!(second.attempt(), 2);
    assert_eq!(second.input(), [input()].as_slice());
    assert_eq!(second.started_at(), t(4));
    assert_eq!(second.outputs(), Some([input()].as_slice()));
    assert_eq!(second.error(), None);
    assert_eq!(second.duration(), Some(TimeDelta::seconds(1)));

    let scheduled = Execution::from_events(with(
        fetch_running(),
        vec![failed("Fetch", 1, 2), retry_scheduled("Fetch", 2, 2)],
    ));
    let run = scheduled.node_run("Fetch").expect("Fetch ran");
    assert_eq!(run.status(), NodeRunStatus::RetryScheduled);
    assert_eq!(
        run.next_retry_at(),
        Some(t(2) + TimeDelta::milliseconds(500))
    );
}

#[test]
fn ending_events_record_the_outcome_and_timings() {
    let succeeded = Execution::from_events(with(all_done(), vec![execution_succeeded()]));
    assert_eq!(succeeded.status(), ExecutionStatus::Succeeded);
    assert_eq!(succeeded.last_node(), Some("Done"));
    assert_eq!(succeeded.output(), Some([input()].as_slice()));
    assert_eq!(succeeded.finished_at(), Some(t(8)));
    assert_eq!(succeeded.duration(), Some(TimeDelta::seconds(8)));

    let failed = Execution::from_events(with(fetch_running(), vec![execution_failed()]));
    assert_eq!(failed.status(), ExecutionStatus::Failed);
    let failure = failed.failure().expect("a failure");
    assert_eq!(failure.node.as_deref(), Some("Fetch"));
    assert_eq!(failure.error, boom());

    let cancelled = Execution::from_events(vec![requested(), cancelled()]);
    assert_eq!(cancelled.status(), ExecutionStatus::Cancelled);
    assert!(cancelled.is_finished());
    let cancellation = cancelled.cancellation().expect("a cancellation");
    assert_eq!(cancellation.actor, "alice");
}

#[test]
fn state_serialises_for_the_api() {
    let execution = Execution::from_events(with(fetch_running(), vec![failed("Fetch", 1, 2)]));
    let json = serde_json::to_value(&execution).expect("the state serialises");
    assert_eq!(json["status"], json!("running"));
    assert_eq!(json["id"], json!(id()));
    assert_eq!(json["node_runs"][1]["node"], json!("Fetch"));
    assert_eq!(json["node_runs"][1]["status"], json!("failed"));
    assert_eq!(
        json["node_runs"][1]["attempts"][0]["error"],
        json!({"message": "HTTP 503", "code": "http_status"})
    );
}

// Stored shape

fn every_variant() -> Vec<ExecutionEvent> {
    let mut events = all_done();
    events.extend([
        failed("Fetch", 1, 2),
        retry_scheduled("Fetch", 2, 2),
        execution_succeeded(),
        execution_failed(),
        cancelled(),
    ]);
    events
}

#[test]
fn every_variant_round_trips_through_the_event_codec() {
    for event in every_variant() {
        let (event_type, schema_version, payload) =
            encode_event(&event).expect("the event encodes");
        assert_eq!(event_type, event.event_type());
        assert_eq!(schema_version, 1);
        assert_eq!(payload["execution_id"], json!(event.execution_id()));
        let decoded: ExecutionEvent =
            decode_event(event_type, &payload).expect("the event decodes");
        assert_eq!(decoded, event, "{event_type}");
    }
}

#[test]
fn stored_event_types_are_past_tense_business_names() {
    let types: Vec<&str> = every_variant()
        .iter()
        .map(DomainEvent::event_type)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionCancelled",
            "ExecutionFailed",
            "ExecutionRequested",
            "ExecutionSucceeded",
            "NodeFailed",
            "NodeResumed",
            "NodeRetryScheduled",
            "NodeStarted",
            "NodeSucceeded",
            "NodeWaiting",
        ]
    );
}

#[test]
fn the_requested_payload_pins_the_definition_and_trigger() {
    let (_, _, payload) = encode_event(&requested()).expect("encodes");
    assert_eq!(payload["definition_version"], json!(3));
    assert_eq!(
        payload["definition"]["nodes"][1]["type"],
        json!("http_request")
    );
    assert_eq!(
        payload["trigger"],
        json!({"kind": "manual", "node": "Start"})
    );
    assert_eq!(payload["input"], json!([{"order": 1}]));
    assert!(payload.get("reuse").is_none(), "empty reuse is left out");
    let (_, _, payload) = encode_event(&started("Fetch", 1, 2)).expect("encodes");
    assert_eq!(payload["input"], json!([[{"order": 1}]]));
}

fn record_run(node: &str, outcome: RunOutcome, started: i64, finished: i64) -> ExecutionCommand {
    ExecutionCommand::RecordRun {
        node: node.into(),
        attempt: 1,
        input: vec![input()],
        outcome,
        started_at: t(started),
        finished_at: t(finished),
    }
}

#[test]
fn a_pure_node_s_run_records_its_start_and_end_in_one_append() {
    AggregateTester::<Execution>::given(vec![requested()])
        .when(record_run(
            "Start",
            RunOutcome::Succeeded(vec![input()]),
            1,
            1,
        ))
        .then_expect_events(vec![started("Start", 1, 1), succeeded("Start", 1, 1)]);
}

#[test]
fn a_pure_node_s_failed_run_records_the_failure() {
    let mut given = all_done();
    given.truncate(8);
    AggregateTester::<Execution>::given(given)
        .when(record_run("Done", RunOutcome::Failed(boom()), 7, 7))
        .then_expect_events(vec![started("Done", 1, 7), failed("Done", 1, 7)]);
}

#[test]
fn the_last_pure_run_also_ends_the_execution() {
    let mut given = all_done();
    given.truncate(8);
    let mut ended = execution_succeeded();
    if let ExecutionEvent::Succeeded { finished_at, .. } = &mut ended {
        *finished_at = t(7);
    }
    AggregateTester::<Execution>::given(given)
        .when(record_run(
            "Done",
            RunOutcome::Succeeded(vec![input()]),
            7,
            7,
        ))
        .then_expect_events(vec![started("Done", 1, 7), succeeded("Done", 1, 7), ended]);
}

#[test]
fn a_run_record_of_a_node_that_is_not_ready_is_refused() {
    AggregateTester::<Execution>::given(vec![requested()])
        .when(record_run(
            "Done",
            RunOutcome::Succeeded(vec![input()]),
            1,
            1,
        ))
        .then_expect_error(|e| matches!(e, ExecutionError::NodeNotReady { .. }));
}
