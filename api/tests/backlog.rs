//! Backpressure at the door: a bounded backlog of pending executions. Starts
//! beyond a workflow's share answer 429, beyond the deployment's bound 503,
//! both with `Retry-After` and without recording anything; starts nobody waits
//! for fill only part of each bound, so callers that wait still get in; and
//! the backlog drains and admits again once executions end.

mod support;

use std::time::Duration;

use axum::{extract::State, routing::post, Json, Router};
use serde_json::{json, Value};
use support::{eventually, Backend, TestApp};
use tokio::sync::watch;

/// A local HTTP endpoint that answers only once opened.
async fn gate() -> (watch::Sender<bool>, String) {
    let (open, opened) = watch::channel(false);
    let app = Router::new()
        .route(
            "/gate",
            post(
                |State(mut opened): State<watch::Receiver<bool>>| async move {
                    let _ = opened.wait_for(|open| *open).await;
                    Json(json!({"passed": true}))
                },
            ),
        )
        .with_state(opened);
    let url = format!("{}/gate", support::serve_on_loopback(app).await);
    (open, url)
}

async fn gated_workflow(app: &TestApp, name: &str, url: &str) -> String {
    let (id, _, _) = app
        .create_workflow(&json!({"name": name, "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Call", "type": "http_request", "parameters": {"method": "POST", "url": url, "timeout_ms": 120000}}],
            "connections": {"Start": {"main": [[{"node": "Call"}]]}}}))
        .await;
    id
}

/// Starts without waiting; returns the status, body and Retry-After.
async fn start_async(app: &TestApp, workflow: &str) -> (u16, Value, Option<String>) {
    let path = format!("/api/v1/workflows/{workflow}/executions");
    let (status, body, headers) = app
        .send(app.http.post(app.url(&path)).json(&json!({})))
        .await;
    let retry_after = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, body, retry_after)
}

/// Starts a waiting caller in the background.
fn start_waiting(app: &TestApp, workflow: &str) -> tokio::task::JoinHandle<(u16, Value)> {
    let (http, url) = (
        app.http.clone(),
        app.url(&format!(
            "/api/v1/workflows/{workflow}/executions?wait=true&timeout_ms=120000"
        )),
    );
    tokio::spawn(async move {
        let response = http
            .post(url)
            .json(&json!({}))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON"))
    })
}

/// The value of an unlabelled or labelled sample in `/metrics`.
async fn metric(app: &TestApp, sample: &str) -> f64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {sample} in /metrics"))
}

async fn backlog_reaches(app: &TestApp, pending: f64) {
    eventually(
        Duration::from_secs(60),
        "the backlog gauge shows every pending execution",
        || async { (metric(app, "flowforge_execution_backlog ").await == pending).then_some(()) },
    )
    .await;
}

/// Waits until `workflow` has `expected` executions recorded (an admitted
/// start may still be on its way to the store), and checks no more appear.
async fn assert_executions(app: &TestApp, workflow: &str, expected: usize) {
    let what = format!("{expected} executions of {workflow}");
    eventually(Duration::from_secs(30), &what, || async {
        let head = app.head().await;
        let (status, page) = app
            .get(&format!(
                "/api/v1/executions?workflow_id={workflow}&limit=100&consistent_with={head}"
            ))
            .await;
        assert_eq!(status, 200, "{page}");
        let count = page["items"].as_array().map_or(0, Vec::len);
        assert!(
            count <= expected,
            "{count} executions of {workflow}: {page}"
        );
        (count == expected).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_backlog_answers_429_or_503_with_retry_after_and_drains() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |args| {
        args.max_pending_executions = 6;
        args.max_pending_per_workflow = 4;
        args.async_backlog_percent = 50;
    })
    .await
    else {
        return;
    };
    let (open, url) = gate().await;
    let (a, b) = (
        gated_workflow(&app, "a", &url).await,
        gated_workflow(&app, "b", &url).await,
    );

    // Fire-and-forget starts fill half of the workflow's share.
    for _ in 0..2 {
        let (status, body, _) = start_async(&app, &a).await;
        assert_eq!(status, 202, "{body}");
    }
    let (status, body, retry_after) = start_async(&app, &a).await;
    assert_eq!((status, retry_after.as_deref()), (429, Some("1")), "{body}");
    assert_eq!(body["error"]["code"], "backlog_full", "{body}");
    assert_eq!(body["error"]["details"]["limit"], 2, "{body}");

    // Callers that wait still get the rest of it.
    let mut waiting = vec![start_waiting(&app, &a), start_waiting(&app, &a)];
    backlog_reaches(&app, 4.0).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/workflows/{a}/executions?wait=true"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 429, "the workflow's share is full: {body}");

    // Another workflow: no room left for fire-and-forget in the whole
    // deployment (half of 6), room for two waiting callers, then none.
    let (status, body, retry_after) = start_async(&app, &b).await;
    assert_eq!((status, retry_after.as_deref()), (503, Some("1")), "{body}");
    waiting.push(start_waiting(&app, &b));
    waiting.push(start_waiting(&app, &b));
    backlog_reaches(&app, 6.0).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/workflows/{b}/executions?wait=true"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 503, "the deployment's backlog is full: {body}");
    assert_eq!(
        metric(
            &app,
            r#"flowforge_executions_refused_total{reason="workflow_backlog"}"#
        )
        .await,
        2.0
    );
    assert_eq!(
        metric(
            &app,
            r#"flowforge_executions_refused_total{reason="global_backlog"}"#
        )
        .await,
        2.0
    );
    // A refused start records nothing.
    assert_executions(&app, &a, 4).await;
    assert_executions(&app, &b, 2).await;

    open.send_replace(true);
    for caller in waiting {
        let (status, run) = caller.await.expect("caller");
        assert_eq!(
            (status, run["status"].as_str()),
            (200, Some("succeeded")),
            "{run}"
        );
    }
    backlog_reaches(&app, 0.0).await;
    let (status, body, _) = start_async(&app, &a).await;
    assert_eq!(status, 202, "room again once the backlog drained: {body}");
}
