//! Random workflows, run to the end: every reachable node runs once, with one
//! item per live incoming edge, and the execution succeeds.

use std::collections::BTreeSet;

use flowforge_domain::execution::{
    decide, Decision, Execution, ExecutionCommand, ExecutionStatus, Finish,
};
use flowforge_domain::workflow::WorkflowDefinition;
use flowforge_domain::Aggregate;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::support::{definition, one, round_trip, t, Run};

/// A random DAG: `n0` a manual trigger, `n1..` noop or merge (append) nodes, edges
/// only from a lower to a higher index, into input 0 or 1.
fn random_dag() -> impl Strategy<Value = (WorkflowDefinition, Vec<(usize, usize)>)> {
    (2usize..10)
        .prop_flat_map(|len| {
            (
                Just(len),
                proptest::collection::vec(any::<bool>(), len - 1),
                proptest::collection::vec((0..len, 0..len, 0usize..2), 0..3 * len),
            )
        })
        .prop_map(|(len, merges, edges)| {
            let mut nodes = vec![json!({"name": "n0", "type": "manual_trigger"})];
            for (i, merge) in merges.iter().enumerate() {
                let node_type = if *merge { "merge" } else { "noop" };
                nodes.push(json!({"name": format!("n{}", i + 1), "type": node_type}));
            }
            let mut targets: Vec<Vec<Value>> = vec![Vec::new(); len];
            let mut kept = Vec::new();
            for (a, b, input) in edges {
                let (from, to) = (a.min(b), a.max(b));
                if from != to {
                    targets[from].push(json!({"node": format!("n{to}"), "index": input}));
                    kept.push((from, to));
                }
            }
            let connections: serde_json::Map<String, Value> = targets
                .into_iter()
                .enumerate()
                .map(|(i, targets)| (format!("n{i}"), json!({"main": [targets]})))
                .collect();
            let definition = definition(json!({
                "name": "random", "nodes": nodes, "connections": connections
            }));
            (definition, kept)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn random_workflows_run_every_reachable_node_once_and_succeed(
        (definition, edges) in random_dag(),
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..20),
    ) {
        let len = definition.nodes().len();
        let mut reachable = vec![false; len];
        reachable[0] = true;
        // Edges go from lower to higher indices, so one pass in index order suffices.
        let mut sorted = edges.clone();
        sorted.sort_unstable();
        for &(from, to) in &sorted {
            if reachable[from] {
                reachable[to] = true;
            }
        }

        let mut run = Run::new(definition);
        let mut running: Vec<String> = Vec::new();
        let mut finish = None;
        for step in 0..4 * len {
            let decisions = run.decide();
            let replayed = Execution::from_events(round_trip(&run.history));
            prop_assert_eq!(&decide(&replayed), &decisions, "replay decides the same");
            for decision in decisions {
                match decision {
                    Decision::RunNode { node, attempt, input } => {
                        prop_assert_eq!(attempt, 1);
                        let at = run.now();
                        run.send(ExecutionCommand::StartNode { node: node.clone(), attempt, input, at });
                        running.push(node);
                    }
                    Decision::Finish(outcome) => finish = Some(outcome),
                    other => prop_assert!(false, "unexpected decision {:?}", other),
                }
            }
            if finish.is_some() {
                break;
            }
            prop_assert!(!running.is_empty(), "stuck at step {} with no node running", step);
            let node = running.remove(picks[step % picks.len()].index(running.len()));
            run.complete(&node, one(json!({ "from": node })));
        }
        prop_assert!(matches!(finish, Some(Finish::Succeeded { .. })), "{:?}", finish);
        run.send(ExecutionCommand::Succeed { at: t(10_000) });
        prop_assert_eq!(run.execution.status(), ExecutionStatus::Succeeded);

        let ran: BTreeSet<String> = run.execution.node_runs().iter().map(|r| r.node().to_owned()).collect();
        let expected: BTreeSet<String> = (0..len).filter(|&i| reachable[i]).map(|i| format!("n{i}")).collect();
        prop_assert_eq!(&ran, &expected);
        for node_run in run.execution.node_runs() {
            prop_assert_eq!(node_run.attempts().len(), 1, "{} ran more than once", node_run.node());
            // Each live incoming edge delivered exactly one item.
            let index: usize = node_run.node()[1..].parse().expect("n<i>");
            let live_edges = edges.iter().filter(|&&(from, to)| to == index && reachable[from]).count();
            let received: usize = node_run.attempts()[0].input().iter().map(Vec::len).sum();
            let expected_items = if index == 0 { 1 } else { live_edges };
            prop_assert_eq!(received, expected_items, "items into {}", node_run.node());
        }
    }
}
