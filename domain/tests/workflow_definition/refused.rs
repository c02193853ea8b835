//! Refused definitions: one test per error, each checking the message names the
//! node; and which problem is reported first.

use flowforge_domain::workflow::DefinitionError;
use serde_json::json;

use crate::support::{assert_refused, parse_err};

#[test]
fn an_empty_workflow_name_is_refused() {
    assert_refused(
        json!({"name": "  ", "nodes": [{"name": "Start", "type": "manual_trigger"}]}),
        &DefinitionError::EmptyWorkflowName,
        "the workflow name is empty",
        None,
    );
}

#[test]
fn an_empty_node_name_is_refused_naming_its_index() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"}, {"name": "", "type": "noop"}]}),
        &DefinitionError::EmptyNodeName { index: 1 },
        "node at index 1 has an empty name",
        None,
    );
}

#[test]
fn a_duplicate_node_name_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Step", "type": "noop"},
            {"name": "Step", "type": "set"}]}),
        &DefinitionError::DuplicateNodeName {
            node: "Step".into(),
        },
        r#"duplicate node name "Step""#,
        Some("Step"),
    );
}

#[test]
fn an_unknown_node_type_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Chat", "type": "n8n-nodes-base.slack"}]}),
        &DefinitionError::UnknownNodeType {
            node: "Chat".into(),
            node_type: "n8n-nodes-base.slack".into(),
        },
        r#"node "Chat" has unknown type "n8n-nodes-base.slack""#,
        Some("Chat"),
    );
}

#[test]
fn a_connection_from_a_missing_node_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [{"name": "Start", "type": "manual_trigger"}],
               "connections": {"Ghost": {"main": [[{"node": "Start"}]]}}}),
        &DefinitionError::UnknownConnectionSource {
            node: "Ghost".into(),
        },
        r#"connections start at node "Ghost", which does not exist"#,
        Some("Ghost"),
    );
}

#[test]
fn a_connection_to_a_missing_node_is_refused_naming_both() {
    assert_refused(
        json!({"name": "w", "nodes": [{"name": "Start", "type": "manual_trigger"}],
               "connections": {"Start": {"main": [[{"node": "Ghost"}]]}}}),
        &DefinitionError::UnknownConnectionTarget {
            from: "Start".into(),
            to: "Ghost".into(),
        },
        r#"node "Start" connects to node "Ghost", which does not exist"#,
        Some("Start"),
    );
}

#[test]
fn a_connection_from_an_output_the_node_lacks_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Check", "type": "if"},
            {"name": "Done", "type": "noop"}],
         "connections": {
            "Start": {"main": [[{"node": "Check"}]]},
            "Check": {"main": [[], [], [{"node": "Done"}]]}}}),
        &DefinitionError::OutputOutOfRange {
            node: "Check".into(),
            output: 2,
            outputs: 2,
        },
        r#"node "Check" has 2 output(s), but a connection leaves from output 2"#,
        Some("Check"),
    );
}

#[test]
fn a_cycle_is_refused_naming_its_nodes() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "A", "type": "noop"},
            {"name": "B", "type": "noop"}],
         "connections": {
            "Start": {"main": [[{"node": "A"}]]},
            "A": {"main": [[{"node": "B"}]]},
            "B": {"main": [[{"node": "A"}]]}}}),
        &DefinitionError::Cycle {
            path: vec!["A".into(), "B".into(), "A".into()],
        },
        "cycle: A -> B -> A",
        Some("A"),
    );
}

#[test]
fn a_node_connected_to_itself_is_a_cycle() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"}, {"name": "Loop", "type": "noop"}],
         "connections": {"Start": {"main": [[{"node": "Loop"}]]}, "Loop": {"main": [[{"node": "Loop"}]]}}}),
        &DefinitionError::Cycle {
            path: vec!["Loop".into(), "Loop".into()],
        },
        "cycle: Loop -> Loop",
        Some("Loop"),
    );
}

#[test]
fn a_workflow_without_a_trigger_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [{"name": "Only", "type": "noop"}]}),
        &DefinitionError::NoTrigger,
        "the workflow has no trigger node (one of manual_trigger, webhook, schedule, nats_trigger, error_trigger)",
        None,
    );
    assert_eq!(
        parse_err(json!({"name": "w", "nodes": []})),
        DefinitionError::NoTrigger
    );
}

#[test]
fn a_trigger_with_an_incoming_connection_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Hook", "type": "webhook"}],
         "connections": {"Start": {"main": [[{"node": "Hook"}]]}}}),
        &DefinitionError::TriggerHasIncomingConnection {
            node: "Hook".into(),
            from: "Start".into(),
        },
        r#"trigger node "Hook" has an incoming connection from "Start""#,
        Some("Hook"),
    );
}

#[test]
fn a_retry_policy_of_zero_tries_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Call", "type": "http_request", "retry": {"max_tries": 0}}]}),
        &DefinitionError::ZeroRetryTries {
            node: "Call".into(),
        },
        r#"node "Call" has retry.max_tries = 0; it must be at least 1"#,
        Some("Call"),
    );
}

#[test]
fn the_first_problem_in_check_order_is_reported() {
    // Bad type on node 1, duplicate on node 2, dangling connection, no trigger:
    // node checks come first, in list order.
    let bad = json!({"name": "w", "nodes": [
        {"name": "A", "type": "noop"},
        {"name": "B", "type": "bogus"},
        {"name": "A", "type": "noop"}],
     "connections": {"Z": {"main": [[{"node": "Y"}]]}, "A": {"main": [[{"node": "X"}]]}}});
    for _ in 0..3 {
        assert_eq!(
            parse_err(bad.clone()),
            DefinitionError::UnknownNodeType {
                node: "B".into(),
                node_type: "bogus".into()
            }
        );
    }
    // Connections are checked by source name, so "A" comes before "Z".
    let dangling = json!({"name": "w", "nodes": [{"name": "A", "type": "manual_trigger"}],
     "connections": {"Z": {"main": [[{"node": "Y"}]]}, "A": {"main": [[{"node": "X"}]]}}});
    assert_eq!(
        parse_err(dangling),
        DefinitionError::UnknownConnectionTarget {
            from: "A".into(),
            to: "X".into()
        }
    );
}
