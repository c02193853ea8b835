//! Large graphs: a very long chain parses and a very long cycle is found without
//! overflowing the stack.

use flowforge_domain::workflow::{DefinitionError, WorkflowDefinition, WorkflowLimits};
use serde_json::json;

use crate::support::chain;

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
