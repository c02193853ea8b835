//! Which nodes run, with which items: chains, fan-out, one branch per output,
//! branches not taken, merges, several predecessors, unreachable nodes, the
//! start node and disabled nodes.

use std::collections::BTreeMap;

use flowforge_domain::execution::{
    concat_items, Decision, ExecutionCommand, ExecutionStatus, Trigger, TriggerKind,
};
use serde_json::json;

use crate::support::{branches, definition, items, one, runs, succeeded, t, Run};

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
