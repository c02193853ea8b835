//! A node that waits until a time holds its execution (waiting, nothing
//! downstream runs) until the clock reaches that time.

use std::time::Duration;

use chrono::TimeDelta;
use flowforge_domain::execution::ExecutionStatus;
use flowforge_engine::Clock;
use serde_json::json;

use crate::helpers::{definition, workflow_id, Step, TestStore};

#[tokio::test]
async fn a_timed_wait_resumes_when_the_clock_reaches_its_time() {
    // Given a workflow that pauses for an hour between two steps
    let store = TestStore::new().await;
    let until = store.clock.now() + TimeDelta::hours(1);
    store.nodes.on("Pause", [Step::WaitUntil(until)]);
    let workflow = definition(json!({
        "name": "pausing",
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Pause", "type": "wait"},
            {"name": "After", "type": "http_request"}
        ],
        "connections": {
            "Start": {"main": [[{"node": "Pause"}]]},
            "Pause": {"main": [[{"node": "After"}]]}
        }
    }));
    let _orchestrator = store.start_orchestrator().await;

    // When an execution reaches the wait
    let id = store.request(workflow_id(), &workflow).await;
    let waiting = store.status_becomes(id, ExecutionStatus::Waiting).await;
    store.sleepers_become(1).await;

    // Then it waits until that time, and the next step has not run
    let pause = waiting.node_run("Pause").expect("the wait ran");
    assert_eq!(pause.waiting_until(), Some(until));
    assert!(store.nodes.attempts_of("After").is_empty());

    // When the clock moves on, but not yet to that time
    store.clock.advance(Duration::from_secs(3599));

    // Then it still waits
    assert_eq!(store.execution(id).await.status(), ExecutionStatus::Waiting);
    assert!(store.nodes.attempts_of("After").is_empty());

    // When the clock reaches it
    store.clock.advance(Duration::from_secs(1));

    // Then the run resumes and finishes, each node run once
    store.status_becomes(id, ExecutionStatus::Succeeded).await;
    assert_eq!(store.nodes.attempts_of("Pause"), vec![1]);
    assert_eq!(store.nodes.attempts_of("After"), vec![1]);
}
