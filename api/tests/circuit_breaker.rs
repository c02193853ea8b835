//! A circuit breaker per outbound host, through a real server and a real
//! HTTP server on loopback that fails: after the configured failures in a
//! row, nodes calling that host fail at once with `circuit_open` and the
//! host sees no more calls; readiness stays ready and names the host,
//! `/metrics` counts it; after the cool-down one probe goes through, and
//! its success closes the circuit.

mod support;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{extract::State, http::StatusCode, routing::get, Router};
use serde_json::{json, Value};
use support::{Backend, TestApp};

#[derive(Default)]
struct Flaky {
    calls: AtomicUsize,
    healthy: AtomicBool,
}

async fn run(app: &TestApp, workflow: &str) -> Value {
    let (status, execution) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions?wait=true"),
            &json!({"input": [{}]}),
        )
        .await;
    assert_eq!(status, 200, "{execution}");
    execution
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_host_is_paused_then_probed() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.outbound.circuit_failures = 3;
        args.outbound.circuit_cooldown_secs = 1;
    })
    .await
    else {
        return;
    };
    let flaky = Arc::new(Flaky::default());
    async fn answer(State(flaky): State<Arc<Flaky>>) -> (StatusCode, &'static str) {
        flaky.calls.fetch_add(1, Ordering::SeqCst);
        if flaky.healthy.load(Ordering::SeqCst) {
            (StatusCode::OK, "{\"ok\": true}")
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, "down")
        }
    }
    let base = support::serve_on_loopback(
        Router::new()
            .route("/service", get(answer))
            .with_state(flaky.clone()),
    )
    .await;
    let host = base.trim_start_matches("http://").to_owned();
    let (workflow, _, _) = app
        .create_workflow(&json!({"name": "calls", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Call", "type": "http_request", "parameters": {"url": format!("{base}/service")}}],
            "connections": {"Start": {"main": [[{"node": "Call"}]]}}}))
        .await;

    for _ in 0..3 {
        let execution = run(&app, &workflow).await;
        assert_eq!(
            execution["failure"]["error"]["code"], "http_status",
            "{execution}"
        );
    }
    let execution = run(&app, &workflow).await;
    assert_eq!(
        execution["failure"]["error"]["code"], "circuit_open",
        "{execution}"
    );
    assert_eq!(
        execution["failure"]["error"]["details"]["host"],
        host.as_str()
    );
    assert_eq!(
        flaky.calls.load(Ordering::SeqCst),
        3,
        "the paused host saw no fourth call"
    );

    let (status, ready) = app.get("/health/ready").await;
    assert_eq!(
        status, 200,
        "an outside service being down leaves the instance ready: {ready}"
    );
    assert_eq!(
        ready["checks"]["circuits"][0]["host"],
        host.as_str(),
        "{ready}"
    );
    assert_eq!(ready["checks"]["circuits"][0]["failures"], 3);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("flowforge_outbound_circuits_open 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("flowforge_outbound_refused_total{reason=\"circuit_open\"}"),
        "{metrics}"
    );

    flaky.healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let execution = run(&app, &workflow).await;
    assert_eq!(execution["status"], "succeeded", "the probe: {execution}");
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 4);
    let (_, ready) = app.get("/health/ready").await;
    assert_eq!(
        ready["checks"]["circuits"],
        json!([]),
        "closed again: {ready}"
    );
    let execution = run(&app, &workflow).await;
    assert_eq!(execution["status"], "succeeded");
}
