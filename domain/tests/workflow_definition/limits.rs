//! Size limits: each one refuses the definition just past it, names itself, and
//! lets the definition at it through.

use flowforge_domain::workflow::{
    DefinitionError, ExceededLimit, RawNode, RawWorkflowDefinition, WorkflowDefinition,
    WorkflowLimit, WorkflowLimits,
};
use serde_json::{json, Value};

use crate::support::{chain, parse_err, raw};

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
