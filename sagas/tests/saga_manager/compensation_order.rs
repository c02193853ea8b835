//! Compensations run newest step first; for parallel branches that means the
//! order the branches completed in, not the order they are defined in.

use std::sync::Arc;

use flowforge_domain::{execution::ExecutionStatus, saga::SagaStatus};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::helpers::{definition, Sagas, ScriptedNodes, Step};

/// Start → Reserve → (Charge ‖ Notify) → Merge → Ship, where Ship fails and
/// every step but Ship can be undone.
fn booking() -> flowforge_domain::workflow::WorkflowDefinition {
    definition(json!({
        "name": "booking",
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Reserve", "type": "http_request",
             "compensation": {"name": "Undo Reserve", "type": "http_request"}},
            {"name": "Charge", "type": "http_request",
             "compensation": {"name": "Undo Charge", "type": "http_request"}},
            {"name": "Notify", "type": "http_request",
             "compensation": {"name": "Undo Notify", "type": "http_request"}},
            {"name": "Merge", "type": "merge"},
            {"name": "Ship", "type": "http_request"}
        ],
        "connections": {
            "Start": {"main": [[{"node": "Reserve"}]]},
            "Reserve": {"main": [[{"node": "Charge"}, {"node": "Notify"}]]},
            "Charge": {"main": [[{"node": "Merge", "index": 0}]]},
            "Notify": {"main": [[{"node": "Merge", "index": 1}]]},
            "Merge": {"main": [[{"node": "Ship"}]]}
        }
    }))
}

/// Runs the booking with `late` held until `early` has succeeded, lets Ship
/// fail, and returns the compensations in the order they ran.
async fn compensations_when_completed(early: &str, late: &str) -> Vec<(String, u32)> {
    let nodes = ScriptedNodes::default();
    let gate = Arc::new(Semaphore::new(0));
    nodes.on(late, [Step::Held(gate.clone())]);
    nodes.on("Ship", [Step::Fail("no courier")]);
    let sagas = Sagas::start(nodes).await;
    let id = sagas.request(&booking()).await;
    sagas.node_succeeds(id, early).await;
    gate.add_permits(1);
    sagas.execution_becomes(id, ExecutionStatus::Failed).await;
    let saga = sagas.saga_becomes(id, SagaStatus::Compensated).await;
    assert!(saga.steps().iter().all(|step| step.is_settled()));
    sagas.nodes.compensations()
}

#[tokio::test]
async fn steps_are_undone_newest_first() {
    // Given a booking whose Notify branch completes before its Charge branch
    // When Ship fails for good
    let undone = compensations_when_completed("Notify", "Charge").await;

    // Then Charge is undone first, then Notify, then Reserve
    assert_eq!(
        undone,
        vec![
            ("Undo Charge".to_owned(), 1),
            ("Undo Notify".to_owned(), 1),
            ("Undo Reserve".to_owned(), 1),
        ]
    );
}

#[tokio::test]
async fn parallel_branches_are_undone_in_reverse_order_of_completion() {
    // Given a booking whose Charge branch completes before its Notify branch
    // When Ship fails for good
    let undone = compensations_when_completed("Charge", "Notify").await;

    // Then Notify, which completed last, is undone first
    assert_eq!(
        undone,
        vec![
            ("Undo Notify".to_owned(), 1),
            ("Undo Charge".to_owned(), 1),
            ("Undo Reserve".to_owned(), 1),
        ]
    );
}

#[tokio::test]
async fn a_successful_execution_closes_its_saga_and_undoes_nothing() {
    // Given a booking where every step succeeds
    let sagas = Sagas::start(ScriptedNodes::default()).await;

    // When it runs
    let id = sagas.request(&booking()).await;

    // Then its saga closes, with every step recorded and none undone
    let saga = sagas.saga_becomes(id, SagaStatus::Closed).await;
    let steps: Vec<&str> = saga.steps().iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0], "Reserve");
    assert!(sagas.nodes.compensations().is_empty());
}
