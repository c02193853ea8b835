//! Failures and retries: failing at once without tries left, asking for a
//! retry and reporting it due, and `continue_on_fail` passing the error on.

use std::collections::BTreeMap;
use std::time::Duration;

use flowforge_domain::execution::{
    retry_delay, Decision, ExecutionCommand, ExecutionStatus, Finish, NodeError, Trigger,
    TriggerKind,
};
use flowforge_domain::workflow::{Backoff, RetryPolicy};
use serde_json::json;

use crate::support::{definition, items, one, runs, succeeded, t, with_fetch, Run};

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
