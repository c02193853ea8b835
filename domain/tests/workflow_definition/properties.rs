//! Property: random DAGs are valid; one back-edge makes them cyclic.

use flowforge_domain::workflow::{
    DefinitionError, RawNode, RawWorkflowDefinition, WorkflowDefinition,
};
use proptest::prelude::*;
use serde_json::{json, Value};

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
