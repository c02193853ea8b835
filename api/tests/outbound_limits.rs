//! The limits on outbound calls, through a real server and a real HTTP
//! server on loopback: an execution that makes more calls than it may fails
//! its node with `outbound_limit` naming the setting, and the server sees
//! exactly the calls that were allowed; a workspace over its rate fails
//! further calls while another workspace's go through.

mod support;

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use axum::{extract::State, routing::get, Json, Router};
use serde_json::{json, Value};
use support::{Backend, TestApp};

async fn counting_server() -> (String, Arc<AtomicUsize>) {
    async fn hit(State(hits): State<Arc<AtomicUsize>>) -> Json<Value> {
        hits.fetch_add(1, Ordering::SeqCst);
        Json(json!({"ok": true}))
    }
    let hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/hit", get(hit))
        .with_state(hits.clone());
    (support::serve_on_loopback(app).await, hits)
}

/// A workflow calling `url` once per input item.
fn calling(url: &str) -> Value {
    json!({"name": "calls", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Call", "type": "http_request", "parameters": {"url": url}}],
        "connections": {"Start": {"main": [[{"node": "Call"}]]}}})
}

/// Runs workflow `id` over `items` input items in `workspace` (the
/// caller's first if none); the start's answer.
async fn run(app: &TestApp, id: &str, items: usize, workspace: Option<&str>) -> Value {
    let mut request = app
        .http
        .post(app.url(&format!("/api/v1/workflows/{id}/executions?wait=true")));
    if let Some(workspace) = workspace {
        request = request.header("x-workspace-id", workspace);
    }
    let input: Vec<Value> = (0..items).map(|n| json!({"n": n})).collect();
    let (status, answer, _) = app.send(request.json(&json!({"input": input}))).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn an_execution_stops_calling_at_its_limit(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |args| {
        args.outbound.max_calls_per_execution = 3;
    })
    .await
    else {
        return;
    };
    let (server, hits) = counting_server().await;
    let (workflow, _, _) = app
        .create_workflow(&calling(&format!("{server}/hit")))
        .await;

    let within = run(&app, &workflow, 3, None).await;
    assert_eq!(within["status"], "succeeded", "{within}");
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    let over = run(&app, &workflow, 5, None).await;
    assert_eq!(over["status"], "failed", "{over}");
    let error = &over["failure"]["error"];
    assert_eq!(error["code"], "outbound_limit", "{over}");
    assert_eq!(error["details"]["limit"], 3, "{over}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("FLOWFORGE_OUTBOUND_MAX_CALLS_PER_EXECUTION")),
        "{over}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        6,
        "the second execution made its three calls and no more"
    );
}

async fn a_workspace_over_its_rate_waits_and_others_do_not(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |args| {
        args.outbound.max_calls_per_workspace_per_minute = 2;
    })
    .await
    else {
        return;
    };
    let (server, hits) = counting_server().await;
    let url = format!("{server}/hit");
    let (workflow, _, _) = app.create_workflow(&calling(&url)).await;

    let busy = run(&app, &workflow, 3, None).await;
    assert_eq!(busy["status"], "failed", "{busy}");
    let error = &busy["failure"]["error"];
    assert_eq!(error["code"], "outbound_limit", "{busy}");
    assert_eq!(error["details"]["per"], "workspace_minute", "{busy}");
    assert!(
        error["details"]["retry_after_secs"].as_u64() >= Some(1),
        "{busy}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    let second = app.create_workspace("Second").await;
    let theirs = app.create_workflow_in(&second, &calling(&url)).await;
    let other = run(&app, &theirs, 2, Some(&second)).await;
    assert_eq!(other["status"], "succeeded", "{other}");
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

for_each_backend!(
    an_execution_stops_calling_at_its_limit,
    a_workspace_over_its_rate_waits_and_others_do_not,
);
