//! Tests of the workflow definition: the n8n-shaped JSON it accepts, the validated
//! form's graph queries and serialisation, and one test per validation error
//! checking that the message names the node at fault.

use flowforge_domain::workflow::{
    Backoff, Connection, DefinitionError, ExceededLimit, NodeType, RawNode, RawWorkflowDefinition,
    RetryPolicy, WorkflowDefinition, WorkflowLimit, WorkflowLimits, WorkflowSettings,
};
use proptest::prelude::*;
use serde_json::{json, Value};

fn raw(value: Value) -> RawWorkflowDefinition {
    serde_json::from_value(value).expect("the test JSON has the raw definition's shape")
}

fn parse(value: Value) -> Result<WorkflowDefinition, DefinitionError> {
    WorkflowDefinition::parse(raw(value))
}

#[track_caller]
fn parse_err(value: Value) -> DefinitionError {
    parse(value).expect_err("the definition is invalid")
}

/// The webhook → set → if example from DESIGN.md.
fn design_example() -> Value {
    json!({"name": "sum", "nodes": [
        {"name": "Start", "type": "webhook", "parameters": {"path": "sum", "method": "POST", "response_mode": "last_node"}},
        {"name": "Total", "type": "set", "parameters": {"fields": {"total": "{{ $json.body.a + $json.body.b }}"}}},
        {"name": "Big", "type": "if", "parameters": {"condition": "{{ $json.total > 10 }}"}}],
     "connections": {"Start": {"main": [[{"node": "Total"}]]}, "Total": {"main": [[{"node": "Big"}]]}}})
}

// Accepted definitions

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

// Refused definitions: one test per error, each checking the message names the node.

#[track_caller]
fn assert_refused(value: Value, expected: &DefinitionError, message: &str, node: Option<&str>) {
    let error = parse_err(value);
    assert_eq!(&error, expected);
    assert_eq!(error.to_string(), message);
    assert_eq!(error.node(), node);
}

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
fn a_compensation_on_a_trigger_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "webhook", "compensation": {"type": "noop"}}]}),
        &DefinitionError::CompensationOnTrigger {
            node: "Start".into(),
        },
        r#"trigger node "Start" cannot have a compensation"#,
        Some("Start"),
    );
}

#[test]
fn a_compensation_of_unknown_type_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Charge", "type": "http_request", "compensation": {"type": "refund"}}]}),
        &DefinitionError::UnknownCompensationType {
            node: "Charge".into(),
            node_type: "refund".into(),
        },
        r#"the compensation of node "Charge" has unknown type "refund""#,
        Some("Charge"),
    );
}

#[test]
fn a_compensation_that_is_a_trigger_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Charge", "type": "http_request", "compensation": {"type": "n8n-nodes-base.webhook"}}]}),
        &DefinitionError::CompensationIsTrigger {
            node: "Charge".into(),
            node_type: "webhook".into(),
        },
        r#"the compensation of node "Charge" is a trigger (webhook); it must be an action node"#,
        Some("Charge"),
    );
}

#[test]
fn a_nested_compensation_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Charge", "type": "http_request",
             "compensation": {"type": "http_request", "compensation": {"type": "noop"}}}]}),
        &DefinitionError::NestedCompensation {
            node: "Charge".into(),
        },
        r#"the compensation of node "Charge" has a compensation of its own; compensations do not nest"#,
        Some("Charge"),
    );
}

#[test]
fn a_compensation_retry_policy_of_zero_tries_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Charge", "type": "http_request",
             "compensation": {"type": "http_request", "retry": {"max_tries": 0}}}]}),
        &DefinitionError::CompensationZeroRetryTries {
            node: "Charge".into(),
        },
        r#"the compensation of node "Charge" has retry.max_tries = 0; it must be at least 1"#,
        Some("Charge"),
    );
}

#[test]
fn settings_flowforge_acts_on_are_read_and_the_rest_kept() {
    let error_workflow = "0190f1c2-0000-7000-8000-000000000001";
    let definition = parse(
        json!({"name": "w", "nodes": [{"name": "Start", "type": "manual_trigger"}],
        "settings": {"execution_timeout_ms": 5000, "max_concurrent_executions": 2,
                     "error_workflow": error_workflow, "saveManualExecutions": true}}),
    )
    .expect("the settings are valid");
    let settings = definition.workflow_settings();
    assert_eq!(settings.execution_timeout_ms, Some(5000));
    assert_eq!(settings.max_concurrent_executions, Some(2));
    assert_eq!(
        settings.error_workflow.map(|id| id.to_string()).as_deref(),
        Some(error_workflow)
    );
    assert_eq!(definition.settings()["saveManualExecutions"], json!(true));
    let none = parse(json!({"name": "w", "nodes": [{"name": "Start", "type": "manual_trigger"}]}))
        .expect("no settings is valid");
    assert_eq!(none.workflow_settings(), WorkflowSettings::default());
}

#[test]
fn a_setting_flowforge_cannot_use_is_refused_naming_it() {
    let cases = [
        (json!({"execution_timeout_ms": 0}), "execution_timeout_ms"),
        (
            json!({"execution_timeout_ms": "10s"}),
            "execution_timeout_ms",
        ),
        (
            json!({"execution_timeout_ms": 2_592_000_001_u64}),
            "execution_timeout_ms",
        ),
        (
            json!({"max_concurrent_executions": 0}),
            "max_concurrent_executions",
        ),
        (
            json!({"max_concurrent_executions": -3}),
            "max_concurrent_executions",
        ),
        (json!({"error_workflow": "not-a-uuid"}), "error_workflow"),
        (json!({"error_workflow": 42}), "error_workflow"),
    ];
    for (settings, key) in cases {
        let error = parse_err(json!({"name": "w",
            "nodes": [{"name": "Start", "type": "manual_trigger"}], "settings": settings}));
        assert!(
            matches!(&error, DefinitionError::InvalidSetting { setting, .. } if setting == key),
            "{settings}: {error:?}"
        );
        assert!(
            error.to_string().starts_with(&format!("setting \"{key}\"")),
            "{error}"
        );
        assert_eq!(error.node(), None);
    }
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

#[test]
fn a_compensation_that_reads_an_unknown_node_is_refused() {
    assert_refused(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Book", "type": "http_request",
             "compensation": {"type": "http_request", "parameters": {
                "url": "http://x/{{ $node[\"Book\"].json.id }}/{{ $('Quote').item.json.ref }}"}}}]}),
        &DefinitionError::CompensationUnknownNode {
            node: "Book".into(),
            reference: "Quote".into(),
        },
        r#"the compensation of node "Book" refers to node "Quote", which does not exist"#,
        Some("Book"),
    );
    parse(json!({"name": "w", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Book", "type": "http_request",
         "compensation": {"type": "http_request", "parameters": {
            "url": "http://x/{{ $json.id }}/{{ $('Start').item.json.ref }}"}}}]}))
    .expect("known nodes are fine");
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

// Size limits: each one refuses the definition just past it, names itself, and
// lets the definition at it through.

/// A trigger fanning out to `targets` noop nodes.
fn fan(targets: usize) -> RawWorkflowDefinition {
    let mut raw = chain(1);
    raw.nodes
        .extend((1..=targets).map(|i| RawNode::new(format!("n{i}"), "noop")));
    let main = (1..=targets)
        .map(|i| json!({"node": format!("n{i}")}))
        .collect::<Vec<_>>();
    raw.connections.insert(
        "n0".into(),
        serde_json::from_value(json!({ "main": [main] })).expect("well-formed"),
    );
    raw
}

fn limits(max_nodes: usize, max_definition_bytes: usize, max_fan_out: usize) -> WorkflowLimits {
    WorkflowLimits {
        max_nodes,
        max_definition_bytes,
        max_fan_out,
    }
}

#[test]
fn the_default_limits_are_a_thousand_nodes_a_mebibyte_and_a_hundred_connections() {
    assert_eq!(WorkflowLimits::default(), limits(1_000, 1024 * 1024, 100));
}

#[test]
fn a_workflow_with_more_nodes_than_the_limit_is_refused() {
    let given = limits(10, usize::MAX, usize::MAX);
    assert!(WorkflowDefinition::parse_within(chain(10), &given).is_ok());
    let error = WorkflowDefinition::parse_within(chain(11), &given).expect_err("11 > 10");
    assert_eq!(
        error,
        DefinitionError::TooManyNodes {
            count: 11,
            limit: 10
        }
    );
    assert_eq!(
        error.to_string(),
        "the workflow has 11 nodes, more than the limit of 10"
    );
    assert_eq!(
        error.exceeded_limit(),
        Some(ExceededLimit {
            limit: WorkflowLimit::Nodes,
            actual: 11,
            max: 10
        })
    );
    assert_eq!(error.node(), None);
}

#[test]
fn the_default_node_limit_refuses_ten_thousand_nodes() {
    let error = parse_err(serde_json::to_value(chain(10_000)).expect("serialises"));
    assert!(
        matches!(
            error,
            DefinitionError::TooManyNodes {
                count: 10_000,
                limit: 1_000
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_definition_larger_than_the_byte_limit_is_refused() {
    let raw = chain(3);
    let size = serde_json::to_vec(&raw).expect("serialises").len();
    let at = limits(usize::MAX, size, usize::MAX);
    assert!(WorkflowDefinition::parse_within(raw.clone(), &at).is_ok());
    let below = limits(usize::MAX, size - 1, usize::MAX);
    let error = WorkflowDefinition::parse_within(raw, &below).expect_err("one byte too many");
    assert_eq!(
        error,
        DefinitionError::DefinitionTooLarge {
            bytes: size,
            limit: size - 1
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the workflow definition takes {size} bytes as JSON, more than the limit of {}",
            size - 1
        )
    );
    assert_eq!(
        error.exceeded_limit().map(|e| e.limit),
        Some(WorkflowLimit::DefinitionBytes)
    );
}

#[test]
fn a_large_parameter_counts_towards_the_byte_limit() {
    let mut raw = chain(2);
    raw.nodes[1]
        .parameters
        .insert("blob".into(), json!("x".repeat(2 * 1024 * 1024)));
    let error = WorkflowDefinition::parse(raw).expect_err("2 MiB > 1 MiB");
    assert!(
        matches!(error, DefinitionError::DefinitionTooLarge { bytes, limit: 1_048_576 } if bytes > 2 * 1024 * 1024),
        "{error:?}"
    );
}

#[test]
fn a_node_with_more_connections_out_than_the_limit_is_refused_naming_it() {
    let given = limits(usize::MAX, usize::MAX, 5);
    assert!(WorkflowDefinition::parse_within(fan(5), &given).is_ok());
    let error = WorkflowDefinition::parse_within(fan(6), &given).expect_err("6 > 5");
    assert_eq!(
        error,
        DefinitionError::FanOutTooWide {
            node: "n0".into(),
            connections: 6,
            limit: 5
        }
    );
    assert_eq!(
        error.to_string(),
        "node \"n0\" has 6 outgoing connections, more than the limit of 5"
    );
    assert_eq!(error.node(), Some("n0"));
    assert_eq!(
        error.exceeded_limit(),
        Some(ExceededLimit {
            limit: WorkflowLimit::FanOut,
            actual: 6,
            max: 5
        })
    );
}

#[test]
fn fan_out_counts_connections_over_all_outputs() {
    let given = limits(usize::MAX, usize::MAX, 2);
    let error = parse_within_err(
        json!({"name": "w", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Check", "type": "if"},
            {"name": "A", "type": "noop"}, {"name": "B", "type": "noop"}, {"name": "C", "type": "noop"}],
         "connections": {
            "Start": {"main": [[{"node": "Check"}]]},
            "Check": {"main": [[{"node": "A"}, {"node": "B"}], [{"node": "C"}]]}}}),
        &given,
    );
    assert_eq!(
        error,
        DefinitionError::FanOutTooWide {
            node: "Check".into(),
            connections: 3,
            limit: 2
        }
    );
}

#[test]
fn structural_errors_are_not_limit_errors() {
    assert_eq!(
        DefinitionError::NoTrigger.exceeded_limit(),
        None,
        "only size errors name a limit"
    );
}

#[track_caller]
fn parse_within_err(value: Value, limits: &WorkflowLimits) -> DefinitionError {
    WorkflowDefinition::parse_within(raw(value), limits).expect_err("the definition is refused")
}

// Large graphs

fn chain(len: usize) -> RawWorkflowDefinition {
    let mut connections = serde_json::Map::new();
    for i in 0..len.saturating_sub(1) {
        connections.insert(
            format!("n{i}"),
            json!({"main": [[{"node": format!("n{}", i + 1)}]]}),
        );
    }
    let nodes = (0..len)
        .map(|i| {
            RawNode::new(
                format!("n{i}"),
                if i == 0 { "manual_trigger" } else { "noop" },
            )
        })
        .collect();
    RawWorkflowDefinition {
        name: "chain".into(),
        nodes,
        connections: serde_json::from_value(Value::Object(connections)).expect("well-formed"),
        ..RawWorkflowDefinition::default()
    }
}

#[test]
fn a_very_long_chain_parses_without_overflowing_the_stack() {
    let definition = WorkflowDefinition::parse_within(chain(100_000), &WorkflowLimits::unlimited())
        .expect("a chain is a DAG");
    assert_eq!(definition.nodes().len(), 100_000);
}

#[test]
fn a_very_long_cycle_is_found_without_overflowing_the_stack() {
    let mut raw = chain(100_000);
    raw.connections.insert(
        "n99999".into(),
        serde_json::from_value(json!({"main": [[{"node": "n1"}]]})).expect("well-formed"),
    );
    match WorkflowDefinition::parse_within(raw, &WorkflowLimits::unlimited()) {
        Err(DefinitionError::Cycle { path }) => {
            assert_eq!(path.len(), 100_000);
            assert_eq!(path.first().map(String::as_str), Some("n1"));
            assert_eq!(path.last().map(String::as_str), Some("n1"));
        }
        other => panic!("expected a cycle, got {other:?}"),
    }
}

// Property: random DAGs are valid; one back-edge makes them cyclic.

const ACTIONS: [&str; 5] = ["set", "noop", "code", "http_request", "if"];

/// A random DAG: node 0 a trigger, the rest actions; a chain 0 → 1 → … → n-1 so
/// every back-edge closes a cycle, plus random forward edges on random outputs.
fn dag() -> impl Strategy<Value = (RawWorkflowDefinition, usize)> {
    (2usize..40)
        .prop_flat_map(|len| {
            (
                Just(len),
                proptest::collection::vec(0..ACTIONS.len(), len - 1),
                proptest::collection::vec((0..len, 0..len, 0usize..2), 0..len * 2),
            )
        })
        .prop_map(|(len, kinds, extra_edges)| {
            let mut nodes = vec![RawNode::new("n0", "manual_trigger")];
            nodes.extend(
                kinds
                    .iter()
                    .enumerate()
                    .map(|(i, kind)| RawNode::new(format!("n{}", i + 1), ACTIONS[*kind])),
            );
            let mut outputs: Vec<Vec<Vec<Value>>> = nodes
                .iter()
                .map(|node| vec![Vec::new(); if node.node_type == "if" { 2 } else { 1 }])
                .collect();
            for (i, node_outputs) in outputs.iter_mut().take(len - 1).enumerate() {
                node_outputs[0].push(json!({"node": format!("n{}", i + 1)}));
            }
            for (a, b, output) in extra_edges {
                let (from, to) = (a.min(b), a.max(b));
                if from != to {
                    let output = output % outputs[from].len();
                    outputs[from][output].push(json!({"node": format!("n{to}")}));
                }
            }
            let connections: serde_json::Map<String, Value> = outputs
                .into_iter()
                .enumerate()
                .map(|(i, main)| (format!("n{i}"), json!({ "main": main })))
                .collect();
            let raw = RawWorkflowDefinition {
                name: "random".into(),
                nodes,
                connections: serde_json::from_value(Value::Object(connections))
                    .expect("well-formed"),
                ..RawWorkflowDefinition::default()
            };
            (raw, len)
        })
}

proptest! {
    #[test]
    fn random_dags_parse_and_a_back_edge_makes_a_cycle(
        (raw, len) in dag(),
        back_edge in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
    ) {
        prop_assert!(WorkflowDefinition::parse(raw.clone()).is_ok());

        // From a node to itself or an earlier non-trigger node: 1 <= to <= from < len.
        let from = 1 + back_edge.0.index(len - 1);
        let to = 1 + back_edge.1.index(from);
        let mut cyclic = raw;
        let source = cyclic.connections.entry(format!("n{from}")).or_default();
        source.main[0].push(flowforge_domain::workflow::ConnectionTarget::to(format!("n{to}")));
        match WorkflowDefinition::parse(cyclic) {
            Err(DefinitionError::Cycle { path }) => {
                prop_assert!(path.len() >= 2);
                prop_assert_eq!(path.first(), path.last());
            }
            other => prop_assert!(false, "expected a cycle, got {:?}", other),
        }
    }
}
