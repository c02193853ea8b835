//! What the definition tests share: parsing JSON into the raw and the validated
//! form, the check that a refusal has the expected error, message and node, and
//! a chain workflow of any length.

use flowforge_domain::workflow::{
    DefinitionError, RawNode, RawWorkflowDefinition, WorkflowDefinition,
};
use serde_json::{json, Value};

/// The raw definition in `value`.
pub fn raw(value: Value) -> RawWorkflowDefinition {
    serde_json::from_value(value).expect("the test JSON has the raw definition's shape")
}

/// The validated definition in `value`, or why it is refused.
pub fn parse(value: Value) -> Result<WorkflowDefinition, DefinitionError> {
    WorkflowDefinition::parse(raw(value))
}

/// Why the definition in `value` is refused; panics if it is accepted.
#[track_caller]
pub fn parse_err(value: Value) -> DefinitionError {
    parse(value).expect_err("the definition is invalid")
}

/// Asserts that `value` is refused with `expected`, whose message is `message`
/// and which names `node`.
#[track_caller]
pub fn assert_refused(value: Value, expected: &DefinitionError, message: &str, node: Option<&str>) {
    let error = parse_err(value);
    assert_eq!(&error, expected);
    assert_eq!(error.to_string(), message);
    assert_eq!(error.node(), node);
}

/// `n0` (a manual trigger) → `n1` → … → `n{len-1}`, all noop.
pub fn chain(len: usize) -> RawWorkflowDefinition {
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
