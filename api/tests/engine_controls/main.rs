//! The engine's controls, through the HTTP API on both stores: sub-workflows,
//! retry from the failed node, the live event stream (SSE), and the workflow
//! settings — time limit, concurrency cap, error workflow.

#[path = "../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use support::{eventually, flaky_server::FlakyServer, Backend, TestApp};

/// Polls an execution until its status is final; panics after `within`.
async fn wait_until_finished(app: &TestApp, execution: &str, within: Duration) -> Value {
    let what = format!("execution {execution} finishes");
    eventually(within, &what, || async {
        let (status, detail) = app.get(&format!("/api/v1/executions/{execution}")).await;
        assert_eq!(status, 200, "{detail}");
        ["succeeded", "failed", "cancelled"]
            .contains(&detail["status"].as_str().unwrap_or(""))
            .then_some(detail)
    })
    .await
}

async fn start(app: &TestApp, workflow: &str, input: Value) -> String {
    let (status, started) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions"),
            &json!({ "input": input }),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    started["execution_id"].as_str().expect("id").to_owned()
}

async fn run_to_end(app: &TestApp, workflow: &str, input: Value) -> Value {
    let (status, run) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions?wait=true"),
            &json!({ "input": input }),
        )
        .await;
    assert_eq!(status, 200, "the run ends in time: {run}");
    run
}

/// The executions of a workflow, once the list has caught up with the log.
async fn executions_of(app: &TestApp, workflow: &str) -> Vec<Value> {
    let head = app.head().await;
    let (status, page) = app
        .get(&format!(
            "/api/v1/executions?workflow_id={workflow}&consistent_with={head}"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

fn node<'a>(detail: &'a Value, name: &str) -> Option<&'a Value> {
    detail["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["node"] == name)
}

mod event_stream;
mod retry;
mod sub_workflows;
mod workflow_settings;
