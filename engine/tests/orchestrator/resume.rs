//! Resuming after a crash: a new orchestrator on the same store finishes the
//! executions the old one left open, runs the interrupted attempt again with
//! the same attempt number, and runs no completed node twice.

use std::sync::Arc;

use flowforge_domain::execution::{ExecutionStatus, NodeRunStatus};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::helpers::{definition, eventually_called, workflow_id, Step, TestStore};

#[tokio::test]
async fn a_new_orchestrator_finishes_what_a_stopped_one_left_running() {
    // Given a three-step run whose second step is in flight when its
    // orchestrator stops (and its grace period runs out, as in a crash)
    let store = TestStore::new().await;
    store
        .nodes
        .on("Second", [Step::Held(Arc::new(Semaphore::new(0)))]);
    let workflow = definition(json!({
        "name": "three steps",
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "First", "type": "http_request"},
            {"name": "Second", "type": "http_request"},
            {"name": "Third", "type": "http_request"}
        ],
        "connections": {
            "Start": {"main": [[{"node": "First"}]]},
            "First": {"main": [[{"node": "Second"}]]},
            "Second": {"main": [[{"node": "Third"}]]}
        }
    }));
    let crashed = store.start_orchestrator().await;
    let id = store.request(workflow_id(), &workflow).await;
    eventually_called(&store, "Second").await;
    crashed.stop().await;
    let left = store.execution(id).await;
    assert_eq!(left.status(), ExecutionStatus::Running);
    assert_eq!(
        left.node_run("Second").map(|run| run.status()),
        Some(NodeRunStatus::Running)
    );

    // When a new orchestrator starts on the same store
    let _restarted = store.start_orchestrator().await;

    // Then the execution finishes: the interrupted attempt runs again as
    // attempt 1, and the steps that had completed do not run again
    store.status_becomes(id, ExecutionStatus::Succeeded).await;
    assert_eq!(store.nodes.attempts_of("Start"), vec![1]);
    assert_eq!(store.nodes.attempts_of("First"), vec![1]);
    assert_eq!(store.nodes.attempts_of("Second"), vec![1, 1]);
    assert_eq!(store.nodes.attempts_of("Third"), vec![1]);
}

#[tokio::test]
async fn a_new_orchestrator_keeps_a_retry_scheduled_by_the_old_one() {
    // Given a run whose node failed and waits for its retry when the
    // orchestrator stops
    let store = TestStore::new().await;
    store.nodes.on("Fetch", [Step::Fail("unavailable")]);
    let workflow = definition(json!({
        "name": "retry across restarts",
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Fetch", "type": "http_request", "retry": {"max_tries": 2, "wait_ms": 10000}}
        ],
        "connections": {"Start": {"main": [[{"node": "Fetch"}]]}}
    }));
    let stopped = store.start_orchestrator().await;
    let id = store.request(workflow_id(), &workflow).await;
    store.sleepers_become(1).await;
    stopped.stop().await;
    store.sleepers_become(0).await;

    // When a new orchestrator starts and the clock passes the backoff
    let _restarted = store.start_orchestrator().await;
    store.sleepers_become(1).await;
    store.clock.advance(std::time::Duration::from_secs(10));

    // Then the retry runs once, as attempt 2, and the run succeeds
    store.status_becomes(id, ExecutionStatus::Succeeded).await;
    assert_eq!(store.nodes.attempts_of("Start"), vec![1]);
    assert_eq!(store.nodes.attempts_of("Fetch"), vec![1, 2]);
}
