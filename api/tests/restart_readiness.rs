//! Readiness after a restart: an instance says it is ready only once the
//! executions the previous process left open have been taken up again.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{eventually, Backend, TestApp};

/// Regression: readiness answered ok while the executions left open by the
/// previous process were still being resumed. Now an instance is ready only
/// once every one of them has been taken up: here, each wait whose time came
/// while the server was down has resumed by the first ready answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_waits_until_open_executions_are_resumed() {
    let Some(mut app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let (workflow, _, _) = app
        .create_workflow(&json!({"name": "pause", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Pause", "type": "wait", "parameters": {"duration_ms": 1000}}],
            "connections": {"Start": {"main": [[{"node": "Pause"}]]}}}))
        .await;
    let mut executions = Vec::new();
    for _ in 0..150 {
        let (status, started) = app
            .post(
                &format!("/api/v1/workflows/{workflow}/executions"),
                &json!({}),
            )
            .await;
        assert_eq!(status, 202, "{started}");
        executions.push(started["execution_id"].as_str().expect("id").to_owned());
    }
    app.restart_after(Duration::from_millis(1500)).await;
    eventually(
        Duration::from_secs(120),
        "the restarted instance is ready",
        || async { (app.get("/health/ready").await.0 == 200).then_some(()) },
    )
    .await;
    for id in &executions {
        let (_, history) = app.get(&format!("/api/v1/streams/execution/{id}")).await;
        let types: Vec<&str> = history["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["event_type"].as_str())
            .collect();
        assert!(
            types.contains(&"NodeResumed") || types.contains(&"NodeSucceeded"),
            "execution {id} was not resumed when readiness said ok: {types:?}"
        );
    }
}
