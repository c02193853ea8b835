//! A failed attempt is tried again once its backoff has passed on the clock,
//! and a node that fails every try fails the execution.

use std::time::Duration;

use flowforge_domain::execution::ExecutionStatus;
use flowforge_engine::Clock;
use serde_json::json;

use crate::helpers::{attempts_reach, definition, workflow_id, Step, TestStore};

fn retrying(max_tries: u32) -> flowforge_domain::workflow::WorkflowDefinition {
    definition(json!({
        "name": "retrying",
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {
                "name": "Fetch",
                "type": "http_request",
                "retry": {"max_tries": max_tries, "wait_ms": 30000, "backoff": "exponential"}
            }
        ],
        "connections": {"Start": {"main": [[{"node": "Fetch"}]]}}
    }))
}

#[tokio::test]
async fn a_retry_waits_for_the_clock_to_pass_its_backoff() {
    // Given a node that fails its first try and may be tried twice, 30 s apart
    let store = TestStore::new().await;
    store.nodes.on("Fetch", [Step::Fail("unavailable")]);
    let _orchestrator = store.start_orchestrator().await;

    // When an execution runs and the first try fails
    let id = store.request(workflow_id(), &retrying(2)).await;
    store.sleepers_become(1).await;

    // Then the retry is scheduled by the clock, and attempt 2 has not run
    let execution = store.execution(id).await;
    let due_at = execution
        .node_run("Fetch")
        .and_then(|run| run.next_retry_at())
        .expect("a retry is scheduled");
    let backoff = (due_at - store.clock.now())
        .to_std()
        .expect("the retry is due later");
    // Jitter takes up to half the wait off, never adds to it.
    assert!(backoff >= Duration::from_secs(15) && backoff <= Duration::from_secs(30));
    assert_eq!(store.nodes.attempts_of("Fetch"), vec![1]);

    // When the clock moves to just before the due time
    store.clock.advance(backoff - Duration::from_millis(1));

    // Then attempt 2 still waits
    assert_eq!(store.clock.sleepers(), 1);
    assert_eq!(store.nodes.attempts_of("Fetch"), vec![1]);

    // When it passes the due time
    store.clock.advance(Duration::from_millis(1));

    // Then attempt 2 runs and the execution succeeds
    store.status_becomes(id, ExecutionStatus::Succeeded).await;
    assert_eq!(store.nodes.attempts_of("Fetch"), vec![1, 2]);
}

#[tokio::test]
async fn a_node_that_fails_every_try_fails_the_execution() {
    // Given a node that fails all three of its tries, with exponential backoff
    let store = TestStore::new().await;
    store.nodes.on(
        "Fetch",
        [
            Step::Fail("unavailable"),
            Step::Fail("unavailable"),
            Step::Fail("still unavailable"),
        ],
    );
    let _orchestrator = store.start_orchestrator().await;
    let id = store.request(workflow_id(), &retrying(3)).await;

    // When the clock passes each backoff (30 s, then 60 s at most)
    store.sleepers_become(1).await;
    store.clock.advance(Duration::from_secs(30));
    attempts_reach(&store, "Fetch", 2).await;
    store.sleepers_become(1).await;
    store.clock.advance(Duration::from_secs(60));

    // Then the third failure fails the execution, naming the node
    let execution = store.status_becomes(id, ExecutionStatus::Failed).await;
    let failure = execution.failure().expect("a failure is recorded");
    assert_eq!(failure.node.as_deref(), Some("Fetch"));
    assert_eq!(failure.error.message, "still unavailable");
    assert_eq!(store.nodes.attempts_of("Fetch"), vec![1, 2, 3]);
}
