//! Time limits on the clock: the execution's own (`execution_timeout_ms`)
//! fails it, however busy its nodes are, and a node's `timeout_ms` fails that
//! attempt.

use std::{sync::Arc, time::Duration};

use flowforge_domain::execution::ExecutionStatus;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::helpers::{definition, eventually_called, workflow_id, Step, TestStore};

#[tokio::test]
async fn an_execution_past_its_time_limit_fails() {
    // Given a workflow limited to a minute whose node never finishes
    let store = TestStore::new().await;
    store
        .nodes
        .on("Slow", [Step::Held(Arc::new(Semaphore::new(0)))]);
    let workflow = definition(json!({
        "name": "limited",
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Slow", "type": "http_request"}
        ],
        "connections": {"Start": {"main": [[{"node": "Slow"}]]}},
        "settings": {"execution_timeout_ms": 60000}
    }));
    let _orchestrator = store.start_orchestrator().await;
    let id = store.request(workflow_id(), &workflow).await;
    eventually_called(&store, "Slow").await;
    store.sleepers_become(1).await;

    // When the clock passes the limit
    store.clock.advance(Duration::from_secs(60));

    // Then the execution fails with the time limit as its reason
    let execution = store.status_becomes(id, ExecutionStatus::Failed).await;
    let failure = execution.failure().expect("a failure is recorded");
    assert_eq!(failure.error.code.as_deref(), Some("execution_timeout"));
    assert_eq!(failure.node, None);
}

#[tokio::test]
async fn a_node_past_its_timeout_fails_its_attempt() {
    // Given a node with a one-second timeout that never finishes
    let store = TestStore::new().await;
    store
        .nodes
        .on("Slow", [Step::Held(Arc::new(Semaphore::new(0)))]);
    let workflow = definition(json!({
        "name": "node timeout",
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Slow", "type": "http_request", "timeout_ms": 1000}
        ],
        "connections": {"Start": {"main": [[{"node": "Slow"}]]}}
    }));
    let _orchestrator = store.start_orchestrator().await;
    let id = store.request(workflow_id(), &workflow).await;
    eventually_called(&store, "Slow").await;
    store.sleepers_become(1).await;

    // When the clock passes the timeout
    store.clock.advance(Duration::from_secs(1));

    // Then the attempt fails as timed out, and with no retry, so does the run
    let execution = store.status_becomes(id, ExecutionStatus::Failed).await;
    let failure = execution.failure().expect("a failure is recorded");
    assert_eq!(failure.node.as_deref(), Some("Slow"));
    assert_eq!(failure.error.code.as_deref(), Some("timeout"));
}
