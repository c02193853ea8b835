//! Accepted definitions: the design example, graph queries, outputs per node
//! type, n8n exports (and the clear error for a misspelt field), defaults, the
//! error trigger, serialisation and reading history back.

use flowforge_domain::workflow::{
    Backoff, Connection, NodeType, RawWorkflowDefinition, RetryPolicy, WorkflowDefinition,
};
use serde_json::{json, Value};

use crate::support::{parse, raw};

/// The webhook → set → if example from DESIGN.md.
fn design_example() -> Value {
    json!({"name": "sum", "nodes": [
        {"name": "Start", "type": "webhook", "parameters": {"path": "sum", "method": "POST", "response_mode": "last_node"}},
        {"name": "Total", "type": "set", "parameters": {"fields": {"total": "{{ $json.body.a + $json.body.b }}"}}},
        {"name": "Big", "type": "if", "parameters": {"condition": "{{ $json.total > 10 }}"}}],
     "connections": {"Start": {"main": [[{"node": "Total"}]]}, "Total": {"main": [[{"node": "Big"}]]}}})
}

#[test]
fn the_design_example_parses() {
    let definition = parse(design_example()).expect("the DESIGN.md example is valid");
    assert_eq!(definition.name(), "sum");
    assert_eq!(definition.nodes().len(), 3);
    let big = definition.node("Big").expect("Big exists");
    assert_eq!(big.node_type(), NodeType::If);
    assert_eq!(big.output_count(), 2);
    assert_eq!(definition.node("Nope"), None);
    let triggers: Vec<&str> = definition.trigger_nodes().map(|n| n.name()).collect();
    assert_eq!(triggers, ["Start"]);
}

#[test]
fn successors_and_predecessors_follow_outputs_and_inputs() {
    let definition = parse(json!({"name": "branches", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Check", "type": "if"},
        {"name": "Yes", "type": "noop"},
        {"name": "No", "type": "noop"},
        {"name": "Join", "type": "merge", "parameters": {"mode": "wait_all"}}],
     "connections": {
        "Start": {"main": [[{"node": "Check"}]]},
        "Check": {"main": [[{"node": "Yes"}], [{"node": "No"}]]},
        "Yes": {"main": [[{"node": "Join", "index": 0}]]},
        "No": {"main": [[{"node": "Join", "type": "main", "index": 1}]]}}}))
    .expect("valid");
    let successors: Vec<Connection<'_>> = definition.successors("Check").collect();
    assert_eq!(
        successors,
        [
            Connection {
                from: "Check",
                output: 0,
                to: "Yes",
                input: 0
            },
            Connection {
                from: "Check",
                output: 1,
                to: "No",
                input: 0
            },
        ]
    );
    let predecessors: Vec<(&str, usize)> = definition
        .predecessors("Join")
        .map(|c| (c.from, c.input))
        .collect();
    assert_eq!(predecessors, [("No", 1), ("Yes", 0)]);
    assert_eq!(definition.successors("Join").count(), 0);
    assert_eq!(definition.predecessors("Start").count(), 0);
}

#[test]
fn switch_has_one_output_per_rule_plus_fallback() {
    let definition = parse(json!({"name": "route", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Route", "type": "switch", "parameters": {"rules": ["{{ 1 }}", "{{ 2 }}"]}},
        {"name": "Fallback", "type": "noop"}],
     "connections": {
        "Start": {"main": [[{"node": "Route"}]]},
        "Route": {"main": [[], [], [{"node": "Fallback"}]]}}}));
    assert!(definition.is_ok(), "{definition:?}");
}

#[test]
fn unused_outputs_past_the_last_one_are_ignored() {
    // n8n exports often list empty outputs, e.g. `[[...], []]` on a one-output node.
    let definition = parse(json!({"name": "n8n", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Done", "type": "noop"}],
     "connections": {"Start": {"main": [[{"node": "Done"}], []]}}}));
    assert!(definition.is_ok(), "{definition:?}");
}

#[test]
fn an_n8n_export_imports_with_canonical_types_and_keeps_its_extras() {
    let definition = parse(json!({"name": "n8n", "nodes": [
        {"id": "a1", "name": "When clicking", "type": "n8n-nodes-base.manualTrigger",
         "typeVersion": 1, "position": [240, 300], "parameters": {}},
        {"id": "b2", "name": "HTTP Request", "type": "n8n-nodes-base.httpRequest",
         "typeVersion": 4.2, "position": [460, 300], "notes": "calls the API",
         "disabled": false, "continueOnFail": true,
         "parameters": {"method": "GET", "url": "https://example.com"}}],
     "connections": {"When clicking": {"main": [[{"node": "HTTP Request", "type": "main", "index": 0}]]}}}))
    .expect("an n8n export is valid");
    let http = definition.node("HTTP Request").expect("the node exists");
    assert_eq!(http.node_type(), NodeType::HttpRequest);
    assert!(http.continue_on_fail());
    assert_eq!(http.id(), Some("b2"));
    assert_eq!(http.notes(), Some("calls the API"));
    assert_eq!(http.position(), Some(&json!([460, 300])));
    assert_eq!(
        http.type_version().map(ToString::to_string),
        Some("4.2".to_owned())
    );
    assert!(!http.is_disabled());

    let stored = serde_json::to_value(&definition).expect("serialises");
    assert_eq!(stored["nodes"][0]["type"], json!("manual_trigger"));
    assert_eq!(stored["nodes"][1]["type"], json!("http_request"));
    assert_eq!(stored["nodes"][1]["continue_on_fail"], json!(true));
    assert_eq!(stored["nodes"][1]["typeVersion"], json!(4.2));
}

#[test]
fn retry_compensation_and_timeout_are_read_with_defaults() {
    let definition = parse(json!({"name": "saga", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Charge", "type": "http_request", "timeout_ms": 5000,
         "retry": {"max_tries": 5, "backoff": "exponential", "max_wait_ms": 60000},
         "compensation": {"type": "http_request", "parameters": {"method": "POST", "url": "https://pay/refund"}}}],
     "connections": {"Start": {"main": [[{"node": "Charge"}]]}}}))
    .expect("valid");
    let charge = definition.node("Charge").expect("exists");
    assert_eq!(
        charge.retry(),
        Some(&RetryPolicy {
            max_tries: 5,
            wait_ms: 1_000,
            backoff: Backoff::Exponential,
            max_wait_ms: Some(60_000),
        })
    );
    assert_eq!(charge.timeout_ms(), Some(5_000));
    let compensation = charge.compensation().expect("has a compensation");
    assert_eq!(compensation.node_type(), NodeType::HttpRequest);
    assert_eq!(compensation.name(), "");
}

#[test]
fn the_validated_form_serialises_back_to_an_equal_definition() {
    let definition = parse(json!({"name": "round trip", "nodes": [
        {"name": "Start", "type": "n8n-nodes-base.webhook", "parameters": {"path": "x"}},
        {"name": "Charge", "type": "http_request", "retry": {"max_tries": 2},
         "compensation": {"name": "Refund", "type": "n8n-nodes-base.httpRequest"}}],
     "connections": {"Start": {"main": [[{"node": "Charge"}]]}},
     "settings": {"timezone": "Europe/Paris"}}))
    .expect("valid");
    let json = serde_json::to_value(&definition).expect("serialises");
    let reparsed = WorkflowDefinition::parse(raw(json.clone())).expect("its own output is valid");
    assert_eq!(reparsed, definition);
    let from_history: WorkflowDefinition = serde_json::from_value(json).expect("reads back");
    assert_eq!(from_history, definition);
    assert_eq!(
        WorkflowDefinition::parse(definition.to_raw()),
        Ok(definition.clone())
    );
    assert_eq!(definition.settings()["timezone"], json!("Europe/Paris"));
}

#[test]
fn history_is_read_back_without_revalidation() {
    // A definition recorded under looser rules must stay readable.
    let stored = json!({"name": "old", "nodes": [{"name": "Only", "type": "noop"}]});
    let definition: WorkflowDefinition =
        serde_json::from_value(stored).expect("trusted history is not re-validated");
    assert_eq!(definition.trigger_nodes().count(), 0);
    assert_eq!(
        definition.node("Only").map(|node| node.name()),
        Some("Only"),
        "nodes read back are found by name"
    );
}

#[test]
fn a_misspelt_field_is_a_clear_error() {
    let error = serde_json::from_value::<RawWorkflowDefinition>(json!({"name": "typo", "nodes": [
        {"name": "Start", "type": "manual_trigger", "paramters": {}}]}))
    .expect_err("unknown fields are refused");
    assert!(
        error.to_string().contains("unknown field `paramters`"),
        "{error}"
    );

    let error = serde_json::from_value::<RawWorkflowDefinition>(
        json!({"name": "typo", "nodes": [], "conections": {}}),
    )
    .expect_err("unknown fields are refused");
    assert!(
        error.to_string().contains("unknown field `conections`"),
        "{error}"
    );
}

#[test]
fn an_error_trigger_starts_a_workflow_and_takes_n8n_s_name() {
    let definition = parse(json!({"name": "on failure", "nodes": [
        {"name": "Failed", "type": "n8n-nodes-base.errorTrigger"}, {"name": "Log", "type": "noop"}],
        "connections": {"Failed": {"main": [[{"node": "Log"}]]}}}))
    .expect("an error trigger is a trigger");
    let trigger = definition.node("Failed").expect("the trigger");
    assert_eq!(trigger.node_type(), NodeType::ErrorTrigger);
    assert!(trigger.is_trigger());
}
