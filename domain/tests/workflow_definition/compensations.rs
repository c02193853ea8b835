//! Compensations: refused on a trigger, of an unknown or trigger type, nested,
//! with zero tries, or reading a node the workflow lacks.

use flowforge_domain::workflow::DefinitionError;
use serde_json::json;

use crate::support::{assert_refused, parse};

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
