//! Reused outputs count as done without running; a timed wait is reported due
//! and a resume-only one is not; a resume link leads to the nearest Wait node
//! that takes calls.

use std::collections::BTreeMap;

use flowforge_domain::execution::{
    Completion, Decision, ExecutionCommand, ExecutionStatus, NodeState, Plan, Trigger, TriggerKind,
};
use serde_json::json;

use crate::support::{definition, items, one, runs, succeeded, t, with_fetch, Run};

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
