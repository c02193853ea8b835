//! Tests of the execution planner: which nodes run next and with which items
//! (chains, fan-out, branches not taken, merges), retries and their backoff,
//! waits, failures with and without `continue_on_fail`, reused outputs, and a
//! property test driving random workflows to the end.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use flowforge_domain::execution::{
    concat_items, decide, retry_delay, Completion, Decision, Execution, ExecutionCommand,
    ExecutionEvent, ExecutionId, ExecutionStatus, Finish, Item, NodeError, NodeState, Plan,
    Trigger, TriggerKind, RETRY_JITTER_SPREAD,
};
use flowforge_domain::workflow::{Backoff, RawWorkflowDefinition, RetryPolicy, WorkflowDefinition};
use flowforge_domain::{decode_event, encode_event, Aggregate};
use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000 + seconds, 0).expect("a valid timestamp")
}

fn item(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        other => panic!("an item is an object, got {other}"),
    }
}

fn items(values: &[Value]) -> Vec<Item> {
    values.iter().cloned().map(item).collect()
}

fn definition(value: Value) -> WorkflowDefinition {
    let raw: RawWorkflowDefinition =
        serde_json::from_value(value).expect("the test definition has the raw shape");
    WorkflowDefinition::parse(raw).expect("the test definition is valid")
}

/// An execution driven through the aggregate, as the orchestrator would drive it.
struct Run {
    execution: Execution,
    history: Vec<ExecutionEvent>,
    clock: i64,
}

impl Run {
    fn new(definition: WorkflowDefinition) -> Self {
        Self::requested(
            definition,
            Trigger::new(TriggerKind::Manual),
            items(&[json!({"n": 1})]),
            BTreeMap::new(),
        )
    }

    fn requested(
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

    fn now(&mut self) -> DateTime<Utc> {
        self.clock += 1;
        t(self.clock)
    }

    #[track_caller]
    fn send(&mut self, command: ExecutionCommand) {
        let events = self
            .execution
            .handle(command.clone())
            .unwrap_or_else(|error| panic!("{command:?} was refused: {error}"));
        for event in events {
            self.execution.apply(event.clone());
            self.history.push(event);
        }
    }

    fn decide(&self) -> Vec<Decision> {
        decide(&self.execution)
    }

    /// The input the plan hands to `node`, which must be ready.
    #[track_caller]
    fn input_of(&self, node: &str) -> Vec<Vec<Item>> {
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

    #[track_caller]
    fn start(&mut self, node: &str) {
        let input = self.input_of(node);
        let at = self.now();
        self.send(ExecutionCommand::StartNode {
            node: node.into(),
            attempt: 1,
            input,
            at,
        });
    }

    fn attempt(&self, node: &str) -> u32 {
        self.execution
            .node_run(node)
            .map_or(0, |run| run.latest_attempt_number())
    }

    #[track_caller]
    fn complete(&mut self, node: &str, outputs: Vec<Vec<Item>>) {
        let (attempt, at) = (self.attempt(node), self.now());
        self.send(ExecutionCommand::CompleteNode {
            node: node.into(),
            attempt,
            outputs,
            at,
        });
    }

    #[track_caller]
    fn run(&mut self, node: &str, outputs: Vec<Vec<Item>>) {
        self.start(node);
        self.complete(node, outputs);
    }

    #[track_caller]
    fn fail(&mut self, node: &str, message: &str) {
        let (attempt, at) = (self.attempt(node), self.now());
        self.send(ExecutionCommand::FailNode {
            node: node.into(),
            attempt,
            error: NodeError::new(message),
            at,
        });
    }

    fn state(&self, node: &str) -> String {
        let plan = Plan::of(&self.execution);
        format!("{:?}", plan.state(node).expect("the node exists"))
    }
}

fn runs(decisions: &[Decision]) -> Vec<&str> {
    decisions
        .iter()
        .filter_map(|decision| match decision {
            Decision::RunNode { node, .. } => Some(node.as_str()),
            _ => None,
        })
        .collect()
}

fn one(value: Value) -> Vec<Vec<Item>> {
    vec![vec![item(value)]]
}

fn succeeded(last_node: &str, output: Vec<Vec<Item>>) -> Vec<Decision> {
    vec![Decision::Finish(Finish::Succeeded {
        last_node: Some(last_node.to_owned()),
        output,
    })]
}

// Which nodes run, with which items

#[test]
fn a_linear_chain_runs_node_after_node_and_ends_with_the_last_output() {
    let mut run = Run::new(definition(json!({"name": "chain", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "A", "type": "set"},
        {"name": "B", "type": "code"}],
     "connections": {"Start": {"main": [[{"node": "A"}]]}, "A": {"main": [[{"node": "B"}]]}}})));

    assert_eq!(
        run.decide(),
        vec![Decision::RunNode {
            node: "Start".into(),
            attempt: 1,
            input: vec![items(&[json!({"n": 1})])],
        }]
    );
    run.run("Start", one(json!({"s": 1})));
    assert_eq!(
        run.decide(),
        vec![Decision::RunNode {
            node: "A".into(),
            attempt: 1,
            input: one(json!({"s": 1})),
        }]
    );
    run.start("A");
    assert_eq!(run.decide(), vec![], "nothing while a node runs");
    run.complete("A", one(json!({"a": 1})));
    assert_eq!(runs(&run.decide()), ["B"]);
    run.run("B", one(json!({"b": 1})));
    assert_eq!(run.decide(), succeeded("B", one(json!({"b": 1}))));

    run.send(ExecutionCommand::Succeed { at: t(100) });
    assert_eq!(run.execution.status(), ExecutionStatus::Succeeded);
    assert_eq!(
        run.execution.output(),
        Some(one(json!({"b": 1})).as_slice())
    );
    assert_eq!(run.decide(), vec![], "an ended execution has nothing to do");
}

#[test]
fn one_output_fans_out_to_every_connected_node() {
    let mut run = Run::new(definition(json!({"name": "fan", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "A", "type": "noop"},
        {"name": "B", "type": "noop"}],
     "connections": {"Start": {"main": [[{"node": "B"}, {"node": "A"}]]}}})));
    run.run("Start", one(json!({"s": 1})));
    let decisions = run.decide();
    assert_eq!(runs(&decisions), ["A", "B"], "in plan order");
    assert_eq!(run.input_of("A"), one(json!({"s": 1})));
    assert_eq!(run.input_of("B"), one(json!({"s": 1})));

    // Both run side by side; the execution ends after the one that finished last.
    run.start("A");
    run.start("B");
    run.complete("B", one(json!({"b": 1})));
    assert_eq!(run.decide(), vec![]);
    run.complete("A", one(json!({"a": 1})));
    assert_eq!(run.decide(), succeeded("A", one(json!({"a": 1}))));
}

fn branches(merge_mode: Option<&str>) -> WorkflowDefinition {
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

#[test]
fn each_output_feeds_its_own_branch() {
    let mut run = Run::new(branches(None));
    run.run("Start", one(json!({"s": 1})));
    run.run(
        "Check",
        vec![
            items(&[json!({"big": true})]),
            items(&[json!({"big": false})]),
        ],
    );
    assert_eq!(runs(&run.decide()), ["Yes", "No"]);
    assert_eq!(run.input_of("Yes"), one(json!({"big": true})));
    assert_eq!(run.input_of("No"), one(json!({"big": false})));
}

#[test]
fn an_empty_output_skips_its_branch_and_everything_after_it() {
    let mut run = Run::new(branches(Some("wait_all")));
    run.run("Start", one(json!({"s": 1})));
    run.run("Check", vec![items(&[json!({"big": true})]), vec![]]);
    assert_eq!(runs(&run.decide()), ["Yes"]);
    assert_eq!(run.state("No"), "Skipped");
    assert_eq!(run.state("AfterNo"), "Skipped");
    run.run("Yes", one(json!({"y": 1})));
    assert_eq!(run.state("Join"), "Skipped", "wait_all needs every input");
    assert_eq!(run.decide(), succeeded("Yes", one(json!({"y": 1}))));
}

#[test]
fn an_if_output_missing_from_the_result_counts_as_empty() {
    let mut run = Run::new(branches(None));
    run.run("Start", one(json!({"s": 1})));
    run.run("Check", one(json!({"big": true})));
    assert_eq!(runs(&run.decide()), ["Yes"]);
    assert_eq!(run.state("No"), "Skipped");
}

#[test]
fn a_merge_in_append_mode_waits_for_every_live_input_and_keeps_them_apart() {
    // B is listed before A, but A feeds input 0: inputs follow the input index.
    let mut run = Run::new(definition(json!({"name": "merge", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "B", "type": "noop"},
        {"name": "A", "type": "noop"},
        {"name": "Join", "type": "merge", "parameters": {"mode": "append"}}],
     "connections": {
        "Start": {"main": [[{"node": "A"}, {"node": "B"}]]},
        "A": {"main": [[{"node": "Join", "index": 0}]]},
        "B": {"main": [[{"node": "Join", "index": 1}]]}}})));
    run.run("Start", one(json!({"s": 1})));
    run.start("A");
    run.start("B");
    run.complete("A", one(json!({"a": 1})));
    assert_eq!(run.decide(), vec![], "Join waits for B");
    assert_eq!(run.state("Join"), "Pending");
    run.complete("B", one(json!({"b": 1})));
    let input = run.input_of("Join");
    assert_eq!(
        input,
        vec![items(&[json!({"a": 1})]), items(&[json!({"b": 1})])]
    );
    assert_eq!(
        concat_items(&input),
        items(&[json!({"a": 1}), json!({"b": 1})]),
        "append is the inputs in input-index order"
    );
}

#[test]
fn a_merge_in_append_mode_runs_with_the_branch_that_was_taken() {
    let mut run = Run::new(branches(None));
    run.run("Start", one(json!({"s": 1})));
    run.run("Check", vec![items(&[json!({"big": true})]), vec![]]);
    run.run("Yes", one(json!({"y": 1})));
    assert_eq!(
        run.input_of("Join"),
        vec![items(&[json!({"y": 1})]), vec![]]
    );
}

#[test]
fn a_node_with_several_predecessors_runs_once_with_their_items_concatenated() {
    let mut run = Run::new(definition(json!({"name": "join", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "A", "type": "noop"},
        {"name": "B", "type": "noop"},
        {"name": "C", "type": "noop"}],
     "connections": {
        "Start": {"main": [[{"node": "A"}, {"node": "B"}]]},
        "B": {"main": [[{"node": "C"}]]},
        "A": {"main": [[{"node": "C"}]]}}})));
    run.run("Start", one(json!({"s": 1})));
    run.start("A");
    run.start("B");
    run.complete("B", one(json!({"b": 1})));
    assert_eq!(run.decide(), vec![], "C waits for A too");
    run.complete("A", one(json!({"a": 1})));
    assert_eq!(
        run.input_of("C"),
        vec![items(&[json!({"a": 1}), json!({"b": 1})])],
        "one list, predecessors in list order"
    );
}

#[test]
fn nodes_not_reachable_from_the_fired_trigger_are_skipped() {
    let definition = definition(json!({"name": "two triggers", "nodes": [
        {"name": "Manual", "type": "manual_trigger"},
        {"name": "Hook", "type": "webhook", "parameters": {"path": "x"}},
        {"name": "A", "type": "noop"},
        {"name": "B", "type": "noop"}],
     "connections": {"Manual": {"main": [[{"node": "A"}]]}, "Hook": {"main": [[{"node": "B"}]]}}}));
    let mut run = Run::requested(
        definition,
        Trigger::new(TriggerKind::Webhook).at_node("Hook"),
        items(&[json!({"body": {}})]),
        BTreeMap::new(),
    );
    assert_eq!(runs(&run.decide()), ["Hook"]);
    run.run("Hook", one(json!({"h": 1})));
    assert_eq!(runs(&run.decide()), ["B"]);
    assert_eq!(run.state("Manual"), "Skipped");
    assert_eq!(run.state("A"), "Skipped");
}

#[test]
fn the_start_node_runs_even_without_input_items() {
    let mut run = Run::requested(
        definition(
            json!({"name": "empty", "nodes": [{"name": "Start", "type": "manual_trigger"}]}),
        ),
        Trigger::new(TriggerKind::Manual),
        vec![],
        BTreeMap::new(),
    );
    assert_eq!(run.input_of("Start"), vec![vec![]]);
    run.run("Start", vec![vec![]]);
    assert_eq!(run.decide(), succeeded("Start", vec![vec![]]));
}

#[test]
fn a_disabled_node_passes_its_input_through_without_running() {
    let mut run = Run::new(definition(json!({"name": "disabled", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Off", "type": "http_request", "disabled": true},
        {"name": "After", "type": "noop"}],
     "connections": {"Start": {"main": [[{"node": "Off"}]]}, "Off": {"main": [[{"node": "After"}]]}}})));
    run.run("Start", one(json!({"s": 1})));
    assert_eq!(runs(&run.decide()), ["After"]);
    assert_eq!(run.input_of("After"), one(json!({"s": 1})));
    assert!(run.execution.node_run("Off").is_none());
}

// Failures and retries

fn with_fetch(fetch: Value) -> WorkflowDefinition {
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

#[test]
fn a_failure_without_retries_fails_the_execution_at_once() {
    let mut run = Run::new(with_fetch(json!({})));
    run.run("Start", one(json!({"s": 1})));
    run.start("Fetch");
    run.start("Other");
    run.fail("Fetch", "HTTP 503");
    assert_eq!(
        run.decide(),
        vec![Decision::Finish(Finish::Failed {
            node: "Fetch".into(),
            error: NodeError::new("HTTP 503"),
        })],
        "fails fast even while Other runs"
    );
    run.send(ExecutionCommand::Fail {
        error: NodeError::new("HTTP 503"),
        failed_node: Some("Fetch".into()),
        at: t(50),
    });
    assert_eq!(run.execution.status(), ExecutionStatus::Failed);
    assert_eq!(run.decide(), vec![]);
}

#[test]
fn a_failure_with_tries_left_asks_for_a_retry_then_reports_it_due() {
    let policy = RetryPolicy {
        max_tries: 3,
        wait_ms: 1_000,
        backoff: Backoff::Exponential,
        max_wait_ms: None,
    };
    let mut run = Run::new(with_fetch(json!({"retry": policy})));
    run.run("Start", one(json!({"s": 1})));
    run.run("Other", one(json!({"o": 1})));
    run.start("Fetch");
    let mut waits = Vec::new();
    for failed_attempt in 1..=2 {
        run.fail("Fetch", "HTTP 503");
        assert_eq!(
            run.decide(),
            vec![Decision::ScheduleRetry {
                node: "Fetch".into(),
                failed_attempt,
                next_attempt: failed_attempt + 1,
                policy: policy.clone(),
            }]
        );
        let wait = retry_delay(&policy, failed_attempt, 0.0).expect("tries are left");
        waits.push(wait);
        let wait_ms = u64::try_from(wait.as_millis()).expect("fits");
        let at = run.now();
        run.send(ExecutionCommand::ScheduleRetry {
            node: "Fetch".into(),
            next_attempt: failed_attempt + 1,
            wait_ms,
            at,
        });
        let due_at = at + chrono::TimeDelta::milliseconds(i64::try_from(wait_ms).expect("fits"));
        assert_eq!(
            run.decide(),
            vec![Decision::RetryDue {
                node: "Fetch".into(),
                attempt: failed_attempt + 1,
                due_at,
                input: one(json!({"s": 1})),
            }]
        );
        let at = run.now();
        run.send(ExecutionCommand::StartNode {
            node: "Fetch".into(),
            attempt: failed_attempt + 1,
            input: one(json!({"s": 1})),
            at,
        });
        assert_eq!(run.decide(), vec![]);
    }
    assert_eq!(
        waits,
        [Duration::from_millis(1_000), Duration::from_millis(2_000)]
    );
    run.complete("Fetch", one(json!({"f": 3})));
    assert_eq!(runs(&run.decide()), ["After"]);
    assert_eq!(
        run.execution.node_run("Fetch").map(|r| r.attempts().len()),
        Some(3)
    );
}

#[test]
fn a_failure_after_the_last_try_fails_the_execution() {
    let mut run = Run::new(with_fetch(json!({"retry": {"max_tries": 2, "wait_ms": 0}})));
    run.run("Start", one(json!({"s": 1})));
    run.start("Fetch");
    run.fail("Fetch", "first");
    let at = run.now();
    run.send(ExecutionCommand::ScheduleRetry {
        node: "Fetch".into(),
        next_attempt: 2,
        wait_ms: 0,
        at,
    });
    run.send(ExecutionCommand::StartNode {
        node: "Fetch".into(),
        attempt: 2,
        input: one(json!({"s": 1})),
        at,
    });
    run.fail("Fetch", "second");
    assert_eq!(
        run.decide(),
        vec![Decision::Finish(Finish::Failed {
            node: "Fetch".into(),
            error: NodeError::new("second"),
        })]
    );
}

#[test]
fn continue_on_fail_passes_the_input_on_with_the_error() {
    let mut run = Run::new(with_fetch(json!({"continue_on_fail": true})));
    run.run(
        "Start",
        vec![items(&[json!({"s": 1}), json!({"s": 2, "error": "old"})])],
    );
    run.run("Other", one(json!({"o": 1})));
    run.start("Fetch");
    run.send(ExecutionCommand::FailNode {
        node: "Fetch".into(),
        attempt: 1,
        error: NodeError::new("HTTP 503").with_code("http_status"),
        at: t(30),
    });
    let error = json!({"message": "HTTP 503", "code": "http_status"});
    assert_eq!(
        run.input_of("After"),
        vec![items(&[
            json!({"s": 1, "error": error}),
            json!({"s": 2, "error": error}),
        ])]
    );
    assert!(run.state("Fetch").contains("ContinuedAfterFailure"));
    run.run("After", one(json!({"done": true})));
    assert_eq!(run.decide(), succeeded("After", one(json!({"done": true}))));
}

#[test]
fn continue_on_fail_without_input_items_passes_one_error_item() {
    let definition = definition(json!({"name": "cof", "nodes": [
        {"name": "Start", "type": "manual_trigger", "continue_on_fail": true},
        {"name": "After", "type": "noop"}],
     "connections": {"Start": {"main": [[{"node": "After"}]]}}}));
    let mut run = Run::requested(
        definition,
        Trigger::new(TriggerKind::Manual),
        vec![],
        BTreeMap::new(),
    );
    run.start("Start");
    run.fail("Start", "no data");
    assert_eq!(
        run.input_of("After"),
        one(json!({"error": {"message": "no data"}}))
    );
}

// Reused outputs, waits

#[test]
fn reused_outputs_count_as_succeeded_without_running() {
    let reuse = BTreeMap::from([
        ("Start".to_owned(), one(json!({"s": 1}))),
        ("Other".to_owned(), one(json!({"o": 1}))),
    ]);
    let mut run = Run::requested(
        with_fetch(json!({})),
        Trigger::new(TriggerKind::Retry),
        items(&[json!({"n": 1})]),
        reuse,
    );
    assert_eq!(
        runs(&run.decide()),
        ["Fetch"],
        "only the node that failed before runs"
    );
    assert_eq!(run.input_of("Fetch"), one(json!({"s": 1})));
    assert!(matches!(
        Plan::of(&run.execution).state("Other"),
        Some(NodeState::Done {
            via: Completion::Reused,
            ..
        })
    ));
    run.run("Fetch", one(json!({"f": 1})));
    run.run("After", one(json!({"a": 1})));
    assert_eq!(run.decide(), succeeded("After", one(json!({"a": 1}))));
    let ran: Vec<&str> = run.execution.node_runs().iter().map(|r| r.node()).collect();
    assert_eq!(ran, ["Fetch", "After"]);
}

#[test]
fn a_timed_wait_is_reported_due_and_a_resume_only_wait_is_not() {
    let definition = definition(json!({"name": "pause", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Pause", "type": "wait", "parameters": {"duration_ms": 3000}},
        {"name": "After", "type": "noop"}],
     "connections": {"Start": {"main": [[{"node": "Pause"}]]}, "Pause": {"main": [[{"node": "After"}]]}}}));

    let mut timed = Run::new(definition.clone());
    timed.run("Start", one(json!({"s": 1})));
    timed.start("Pause");
    timed.send(ExecutionCommand::Wait {
        node: "Pause".into(),
        until: Some(t(60)),
        resume_token_sha256: None,
        at: t(57),
    });
    assert_eq!(timed.execution.status(), ExecutionStatus::Waiting);
    assert_eq!(
        timed.decide(),
        vec![Decision::WaitDue {
            node: "Pause".into(),
            attempt: 1,
            until: t(60),
        }]
    );
    timed.send(ExecutionCommand::Resume {
        node: "Pause".into(),
        outputs: one(json!({"s": 1})),
        at: t(60),
    });
    assert_eq!(runs(&timed.decide()), ["After"]);

    let mut on_webhook = Run::new(definition);
    on_webhook.run("Start", one(json!({"s": 1})));
    on_webhook.start("Pause");
    on_webhook.send(ExecutionCommand::Wait {
        node: "Pause".into(),
        until: None,
        resume_token_sha256: Some("tok".into()),
        at: t(57),
    });
    assert_eq!(on_webhook.decide(), vec![]);
}

#[test]
fn an_execution_not_requested_or_ended_has_no_decisions() {
    assert_eq!(decide(&Execution::default()), vec![]);
    let mut run = Run::new(with_fetch(json!({})));
    run.send(ExecutionCommand::Cancel {
        reason: "stop".into(),
        actor: "bob".into(),
        at: t(1),
    });
    assert_eq!(run.decide(), vec![]);
    assert_eq!(Plan::of(&run.execution).finish(), None);
}

#[test]
fn a_replayed_history_reaches_the_same_decisions() {
    let mut run = Run::new(branches(None));
    run.run("Start", one(json!({"s": 1})));
    run.run(
        "Check",
        vec![items(&[json!({"big": true})]), items(&[json!({"x": 1})])],
    );
    run.start("No");
    let replayed = Execution::from_events(round_trip(&run.history));
    assert_eq!(decide(&replayed), run.decide());
    assert_eq!(runs(&decide(&replayed)), ["Yes"]);
}

fn round_trip(history: &[ExecutionEvent]) -> Vec<ExecutionEvent> {
    history
        .iter()
        .map(|event| {
            let (event_type, _, payload) = encode_event(event).expect("encodes");
            decode_event(event_type, &payload).expect("decodes")
        })
        .collect()
}

// Retry delays

fn policy(backoff: Backoff, max_wait_ms: Option<u64>) -> RetryPolicy {
    RetryPolicy {
        max_tries: 5,
        wait_ms: 1_000,
        backoff,
        max_wait_ms,
    }
}

fn millis(ms: u64) -> Option<Duration> {
    Some(Duration::from_millis(ms))
}

#[test]
fn fixed_backoff_waits_the_same_each_time() {
    let fixed = policy(Backoff::Fixed, None);
    for attempt in 1..5 {
        assert_eq!(retry_delay(&fixed, attempt, 0.0), millis(1_000));
    }
}

#[test]
fn exponential_backoff_doubles_up_to_the_cap() {
    let exponential = policy(Backoff::Exponential, None);
    let waits: Vec<_> = (1..5).map(|a| retry_delay(&exponential, a, 0.0)).collect();
    assert_eq!(
        waits,
        [millis(1_000), millis(2_000), millis(4_000), millis(8_000)]
    );
    let capped = policy(Backoff::Exponential, Some(3_000));
    assert_eq!(retry_delay(&capped, 3, 0.0), millis(3_000));
    assert_eq!(retry_delay(&capped, 4, 0.0), millis(3_000));
}

#[test]
fn no_delay_once_the_tries_are_used_up() {
    let fixed = policy(Backoff::Fixed, None);
    assert_eq!(retry_delay(&fixed, 5, 0.0), None);
    assert_eq!(retry_delay(&fixed, 6, 0.0), None);
    assert_eq!(
        retry_delay(
            &RetryPolicy {
                max_tries: 1,
                ..fixed
            },
            1,
            0.0
        ),
        None
    );
}

#[test]
fn jitter_takes_away_up_to_half_of_the_wait() {
    let fixed = policy(Backoff::Fixed, None);
    assert_eq!(RETRY_JITTER_SPREAD, 0.5);
    assert_eq!(retry_delay(&fixed, 1, 1.0), millis(500));
    assert_eq!(retry_delay(&fixed, 1, 0.5), millis(750));
    assert_eq!(retry_delay(&fixed, 1, 7.0), millis(500), "clamped to 1");
    assert_eq!(retry_delay(&fixed, 1, -1.0), millis(1_000), "clamped to 0");
    assert_eq!(retry_delay(&fixed, 1, f64::NAN), millis(1_000));
}

#[test]
fn huge_exponents_saturate_instead_of_overflowing() {
    let huge = RetryPolicy {
        max_tries: u32::MAX,
        wait_ms: u64::MAX / 2,
        backoff: Backoff::Exponential,
        max_wait_ms: None,
    };
    assert!(retry_delay(&huge, 200, 0.0).is_some());
    let capped = RetryPolicy {
        max_wait_ms: Some(60_000),
        ..huge
    };
    assert_eq!(retry_delay(&capped, 1_000, 0.0), millis(60_000));
}

// Properties

proptest! {
    #[test]
    fn exponential_waits_never_shrink_and_respect_the_cap(
        wait_ms in 0u64..100_000,
        attempt in 1u32..20,
        jitters in (0.0f64..=1.0, 0.0f64..=1.0),
        cap in proptest::option::of(0u64..1_000_000),
    ) {
        let uncapped = RetryPolicy { max_tries: 30, wait_ms, backoff: Backoff::Exponential, max_wait_ms: None };
        let this = retry_delay(&uncapped, attempt, jitters.0).expect("tries left");
        let next = retry_delay(&uncapped, attempt + 1, jitters.1).expect("tries left");
        prop_assert!(next >= this, "{next:?} < {this:?}");
        let capped = RetryPolicy { max_wait_ms: cap, ..uncapped };
        let wait = retry_delay(&capped, attempt, jitters.0).expect("tries left");
        if let Some(cap) = cap {
            prop_assert!(wait <= Duration::from_millis(cap));
        }
    }
}

/// A random DAG: `n0` a manual trigger, `n1..` noop or merge (append) nodes, edges
/// only from a lower to a higher index, into input 0 or 1.
fn random_dag() -> impl Strategy<Value = (WorkflowDefinition, Vec<(usize, usize)>)> {
    (2usize..10)
        .prop_flat_map(|len| {
            (
                Just(len),
                proptest::collection::vec(any::<bool>(), len - 1),
                proptest::collection::vec((0..len, 0..len, 0usize..2), 0..3 * len),
            )
        })
        .prop_map(|(len, merges, edges)| {
            let mut nodes = vec![json!({"name": "n0", "type": "manual_trigger"})];
            for (i, merge) in merges.iter().enumerate() {
                let node_type = if *merge { "merge" } else { "noop" };
                nodes.push(json!({"name": format!("n{}", i + 1), "type": node_type}));
            }
            let mut targets: Vec<Vec<Value>> = vec![Vec::new(); len];
            let mut kept = Vec::new();
            for (a, b, input) in edges {
                let (from, to) = (a.min(b), a.max(b));
                if from != to {
                    targets[from].push(json!({"node": format!("n{to}"), "index": input}));
                    kept.push((from, to));
                }
            }
            let connections: serde_json::Map<String, Value> = targets
                .into_iter()
                .enumerate()
                .map(|(i, targets)| (format!("n{i}"), json!({"main": [targets]})))
                .collect();
            let definition = definition(json!({
                "name": "random", "nodes": nodes, "connections": connections
            }));
            (definition, kept)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn random_workflows_run_every_reachable_node_once_and_succeed(
        (definition, edges) in random_dag(),
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..20),
    ) {
        let len = definition.nodes().len();
        let mut reachable = vec![false; len];
        reachable[0] = true;
        // Edges go from lower to higher indices, so one pass in index order suffices.
        let mut sorted = edges.clone();
        sorted.sort_unstable();
        for &(from, to) in &sorted {
            if reachable[from] {
                reachable[to] = true;
            }
        }

        let mut run = Run::new(definition);
        let mut running: Vec<String> = Vec::new();
        let mut finish = None;
        for step in 0..4 * len {
            let decisions = run.decide();
            let replayed = Execution::from_events(round_trip(&run.history));
            prop_assert_eq!(&decide(&replayed), &decisions, "replay decides the same");
            for decision in decisions {
                match decision {
                    Decision::RunNode { node, attempt, input } => {
                        prop_assert_eq!(attempt, 1);
                        let at = run.now();
                        run.send(ExecutionCommand::StartNode { node: node.clone(), attempt, input, at });
                        running.push(node);
                    }
                    Decision::Finish(outcome) => finish = Some(outcome),
                    other => prop_assert!(false, "unexpected decision {:?}", other),
                }
            }
            if finish.is_some() {
                break;
            }
            prop_assert!(!running.is_empty(), "stuck at step {} with no node running", step);
            let node = running.remove(picks[step % picks.len()].index(running.len()));
            run.complete(&node, one(json!({ "from": node })));
        }
        prop_assert!(matches!(finish, Some(Finish::Succeeded { .. })), "{:?}", finish);
        run.send(ExecutionCommand::Succeed { at: t(10_000) });
        prop_assert_eq!(run.execution.status(), ExecutionStatus::Succeeded);

        let ran: BTreeSet<String> = run.execution.node_runs().iter().map(|r| r.node().to_owned()).collect();
        let expected: BTreeSet<String> = (0..len).filter(|&i| reachable[i]).map(|i| format!("n{i}")).collect();
        prop_assert_eq!(&ran, &expected);
        for node_run in run.execution.node_runs() {
            prop_assert_eq!(node_run.attempts().len(), 1, "{} ran more than once", node_run.node());
            // Each live incoming edge delivered exactly one item.
            let index: usize = node_run.node()[1..].parse().expect("n<i>");
            let live_edges = edges.iter().filter(|&&(from, to)| to == index && reachable[from]).count();
            let received: usize = node_run.attempts()[0].input().iter().map(Vec::len).sum();
            let expected_items = if index == 0 { 1 } else { live_edges };
            prop_assert_eq!(received, expected_items, "items into {}", node_run.node());
        }
    }
}

#[test]
fn a_resume_link_leads_to_the_nearest_webhook_wait_downstream() {
    let definition = definition(json!({"name": "approvals", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Mail first", "type": "noop"},
        {"name": "First", "type": "wait", "parameters": {"resume": "webhook"}},
        {"name": "Timer", "type": "wait", "parameters": {"duration_ms": 10}},
        {"name": "Mail second", "type": "noop"},
        {"name": "Second", "type": "wait", "parameters": {"resume": "webhook"}},
        {"name": "Done", "type": "noop"}],
     "connections": {
        "Start": {"main": [[{"node": "Mail first"}]]},
        "Mail first": {"main": [[{"node": "Timer"}, {"node": "First"}]]},
        "First": {"main": [[{"node": "Mail second"}]]},
        "Mail second": {"main": [[{"node": "Second"}]]},
        "Second": {"main": [[{"node": "Done"}]]}}}));
    let target = |node| flowforge_domain::execution::resume_target(&definition, node);
    assert_eq!(target("Start"), Some("First"));
    assert_eq!(target("Mail first"), Some("First"));
    assert_eq!(target("First"), Some("First"), "a wait's own link");
    assert_eq!(target("Mail second"), Some("Second"));
    assert_eq!(target("Timer"), None, "a timed wait leads nowhere");
    assert_eq!(target("Done"), None);
    assert_eq!(target("Nope"), None);
}
