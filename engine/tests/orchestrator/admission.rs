//! Concurrency caps: a workflow with `max_concurrent_executions` runs at most
//! that many executions at once; the next waits, queued, for a slot.

use std::sync::Arc;

use flowforge_domain::execution::ExecutionStatus;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::helpers::{definition, eventually_called, workflow_id, Step, TestStore};

#[tokio::test]
async fn an_execution_over_the_cap_waits_until_a_running_one_finishes() {
    // Given a workflow capped at one execution, whose first run is held
    let store = TestStore::new().await;
    let gate = Arc::new(Semaphore::new(0));
    store.nodes.on("Work", [Step::Held(gate.clone())]);
    let workflow = definition(json!({
        "name": "capped",
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Work", "type": "http_request"}
        ],
        "connections": {"Start": {"main": [[{"node": "Work"}]]}},
        "settings": {"max_concurrent_executions": 1}
    }));
    let workflow_id = workflow_id();
    let _orchestrator = store.start_orchestrator().await;
    let first = store.request(workflow_id, &workflow).await;
    eventually_called(&store, "Work").await;

    // When a second execution is requested while the first runs
    let second = store.request(workflow_id, &workflow).await;

    // Then it is queued and none of its nodes runs
    store.status_becomes(second, ExecutionStatus::Queued).await;
    assert!(store.execution(second).await.node_runs().is_empty());
    assert_eq!(store.nodes.attempts_of("Work"), vec![1]);

    // When the first finishes
    gate.add_permits(1);
    store
        .status_becomes(first, ExecutionStatus::Succeeded)
        .await;

    // Then the second is admitted and runs to the end
    store
        .status_becomes(second, ExecutionStatus::Succeeded)
        .await;
    assert_eq!(store.nodes.attempts_of("Work"), vec![1, 1]);
}

#[tokio::test]
async fn executions_of_other_workflows_are_not_held_by_the_cap() {
    // Given a capped workflow whose one slot is taken by a held run
    let store = TestStore::new().await;
    store
        .nodes
        .on("Work", [Step::Held(Arc::new(Semaphore::new(0)))]);
    let workflow = definition(json!({
        "name": "capped",
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Work", "type": "http_request"}
        ],
        "connections": {"Start": {"main": [[{"node": "Work"}]]}},
        "settings": {"max_concurrent_executions": 1}
    }));
    let _orchestrator = store.start_orchestrator().await;
    store.request(workflow_id(), &workflow).await;
    eventually_called(&store, "Work").await;

    // When an execution of another workflow (same definition) is requested
    let other = store.request(workflow_id(), &workflow).await;

    // Then it runs at once
    store
        .status_becomes(other, ExecutionStatus::Succeeded)
        .await;
}
