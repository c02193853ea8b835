//! A failing compensation is retried as its retry policy says, each failure
//! recorded on the saga; once the tries are used up the saga parks at that
//! step for an operator, and older steps are not undone.

use flowforge_domain::saga::{SagaStatus, StepStatus};
use serde_json::json;

use crate::helpers::{definition, Sagas, ScriptedNodes, Step};

/// Start → Book → Reserve → Ship, where Ship fails and Book and Reserve can be
/// undone; Reserve's compensation may be tried `tries` times, 10 ms apart.
fn trip(tries: u32) -> flowforge_domain::workflow::WorkflowDefinition {
    definition(json!({
        "name": "trip",
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Book", "type": "http_request",
             "compensation": {"name": "Undo Book", "type": "http_request"}},
            {"name": "Reserve", "type": "http_request",
             "compensation": {"name": "Undo Reserve", "type": "http_request",
                              "retry": {"max_tries": tries, "wait_ms": 10}}},
            {"name": "Ship", "type": "http_request"}
        ],
        "connections": {
            "Start": {"main": [[{"node": "Book"}]]},
            "Book": {"main": [[{"node": "Reserve"}]]},
            "Reserve": {"main": [[{"node": "Ship"}]]}
        }
    }))
}

#[tokio::test]
async fn a_failed_compensation_is_retried_and_recorded() {
    // Given a trip whose Reserve compensation fails once, with three tries
    let nodes = ScriptedNodes::default();
    nodes.on("Ship", [Step::Fail("no courier")]);
    nodes.on("Undo Reserve", [Step::Fail("refunds are down")]);
    let sagas = Sagas::start(nodes).await;

    // When Ship fails for good
    let id = sagas.request(&trip(3)).await;

    // Then the compensation is tried again, as attempt 2, and the saga is
    // compensated with the failed attempt on record
    let saga = sagas.saga_becomes(id, SagaStatus::Compensated).await;
    assert_eq!(
        sagas.nodes.compensations(),
        vec![
            ("Undo Reserve".to_owned(), 1),
            ("Undo Reserve".to_owned(), 2),
            ("Undo Book".to_owned(), 1),
        ]
    );
    let reserve = saga.step("Reserve").expect("Reserve is a step");
    assert_eq!(reserve.status, StepStatus::Compensated);
    assert_eq!(reserve.failed_attempts.len(), 1);
    let failed = &reserve.failed_attempts[0];
    assert_eq!(failed.attempt, 1);
    assert_eq!(failed.error.message, "refunds are down");
    assert!(failed.retry_at.is_some_and(|due| due > failed.failed_at));
}

#[tokio::test]
async fn a_compensation_that_fails_every_try_parks_the_saga() {
    // Given a trip whose Reserve compensation fails both of its two tries
    let nodes = ScriptedNodes::default();
    nodes.on("Ship", [Step::Fail("no courier")]);
    nodes.on(
        "Undo Reserve",
        [Step::Fail("refunds are down"), Step::Fail("still down")],
    );
    let sagas = Sagas::start(nodes).await;

    // When Ship fails for good
    let id = sagas.request(&trip(2)).await;

    // Then the saga parks at Reserve, both failures on record, the last with
    // no retry, and Book (older) is not undone
    let saga = sagas.saga_becomes(id, SagaStatus::Parked).await;
    assert_eq!(saga.parked_step(), Some("Reserve"));
    let reserve = saga.step("Reserve").expect("Reserve is a step");
    assert_eq!(reserve.status, StepStatus::Failed);
    let attempts: Vec<(u32, bool)> = reserve
        .failed_attempts
        .iter()
        .map(|a| (a.attempt, a.retry_at.is_some()))
        .collect();
    assert_eq!(attempts, vec![(1, true), (2, false)]);
    assert_eq!(
        saga.step("Book").map(|step| step.status),
        Some(StepStatus::Done)
    );
    assert_eq!(
        sagas.nodes.compensations(),
        vec![
            ("Undo Reserve".to_owned(), 1),
            ("Undo Reserve".to_owned(), 2)
        ]
    );
}
