//! Executions survive `kill -9`: the `flowforge` binary dies while executions
//! sit in a Wait node and others are mid-call; after a restart every one
//! finishes, no node that had succeeded runs again, and an interrupted call is
//! repeated with the same idempotency key. Callers waiting on a sub-workflow
//! that waits are among them: each child starts once and resumes its caller.
//! A saga killed mid-compensation finishes after the restart, each step
//! undone under one idempotency key.

mod support;

use std::{
    collections::HashMap,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{extract::State, http::HeaderMap, routing::post, Json, Router};
use flowforge_infra::test_support::{TestDatabase, TestJetStream};
use serde_json::{json, Value};
use support::{
    eventually,
    process::{postgres_and_nats, FlowforgeProcess},
};

/// Counts calls per route and remembers their idempotency keys.
#[derive(Clone, Default)]
struct Recorder {
    calls: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl Recorder {
    fn record(&self, route: &str, headers: &HeaderMap) {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        self.calls
            .lock()
            .expect("calls")
            .entry(route.to_owned())
            .or_default()
            .push(key);
    }

    fn keys(&self, route: &str) -> Vec<String> {
        self.calls
            .lock()
            .expect("calls")
            .get(route)
            .cloned()
            .unwrap_or_default()
    }
}

async fn before(State(r): State<Recorder>, headers: HeaderMap) -> Json<Value> {
    r.record("before", &headers);
    Json(json!({"step": "before"}))
}

async fn after(State(r): State<Recorder>, headers: HeaderMap) -> Json<Value> {
    r.record("after", &headers);
    Json(json!({"step": "after"}))
}

async fn slow(State(r): State<Recorder>, headers: HeaderMap) -> Json<Value> {
    r.record("slow", &headers);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    Json(json!({"step": "slow"}))
}

async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

async fn executions_survive_sigkill(env: Vec<(&str, String)>) {
    let recorder = Recorder::default();
    let app = Router::new()
        .route("/before", post(before))
        .route("/after", post(after))
        .route("/slow", post(slow))
        .with_state(recorder.clone());
    let base = support::serve_on_loopback(app).await;
    let http = reqwest::Client::new();
    let server = FlowforgeProcess::start(&env, Stdio::null());
    server.wait_ready(&http).await;
    let http = support::owner_client(&server.base).await;

    let waiting = json_of(http.post(format!("{}/api/v1/workflows", server.base)).json(&json!({"name": "waits", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Before", "type": "http_request", "parameters": {"method": "POST", "url": format!("{base}/before")}},
        {"name": "Pause", "type": "wait", "parameters": {"duration_ms": 3000}},
        {"name": "After", "type": "http_request", "parameters": {"method": "POST", "url": format!("{base}/after")}}],
        "connections": {"Start": {"main": [[{"node": "Before"}]]}, "Before": {"main": [[{"node": "Pause"}]]}, "Pause": {"main": [[{"node": "After"}]]}}}))).await;
    let slow_flow = json_of(http.post(format!("{}/api/v1/workflows", server.base)).json(&json!({"name": "slow", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Slow", "type": "http_request", "parameters": {"method": "POST", "url": format!("{base}/slow")}}],
        "connections": {"Start": {"main": [[{"node": "Slow"}]]}}}))).await;

    let caller = json_of(http.post(format!("{}/api/v1/workflows", server.base)).json(&json!({"name": "caller", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Call", "type": "execute_workflow", "parameters": {"workflow_id": waiting["id"]}},
        {"name": "Done", "type": "noop"}],
        "connections": {"Start": {"main": [[{"node": "Call"}]]}, "Call": {"main": [[{"node": "Done"}]]}}}))).await;

    let mut waiting_runs = Vec::new();
    for _ in 0..20 {
        let started = json_of(http.post(format!(
            "{}/api/v1/workflows/{}/executions",
            server.base,
            waiting["id"].as_str().expect("id")
        )))
        .await;
        waiting_runs.push(
            started["execution_id"]
                .as_str()
                .expect("execution")
                .to_owned(),
        );
    }
    let mut caller_runs = Vec::new();
    for _ in 0..3 {
        let started = json_of(http.post(format!(
            "{}/api/v1/workflows/{}/executions",
            server.base,
            caller["id"].as_str().expect("id")
        )))
        .await;
        caller_runs.push(
            started["execution_id"]
                .as_str()
                .expect("execution")
                .to_owned(),
        );
    }
    // Every one of them (and each caller's child) has called `before` and
    // sits in the Wait node; each caller waits for its child.
    eventually(
        Duration::from_secs(30),
        "executions reach the Wait node",
        || async {
            let mut all_waiting = recorder.keys("before").len() == 23;
            for id in waiting_runs.iter().chain(&caller_runs) {
                let detail =
                    json_of(http.get(format!("{}/api/v1/executions/{id}", server.base))).await;
                all_waiting &= detail["status"] == "waiting";
            }
            all_waiting
        },
    )
    .await;
    let mut slow_runs = Vec::new();
    for _ in 0..5 {
        let started = json_of(http.post(format!(
            "{}/api/v1/workflows/{}/executions",
            server.base,
            slow_flow["id"].as_str().expect("id")
        )))
        .await;
        slow_runs.push(
            started["execution_id"]
                .as_str()
                .expect("execution")
                .to_owned(),
        );
    }
    // Mid-call: the slow requests have reached the server, none has answered.
    eventually(Duration::from_secs(10), "slow calls start", || async {
        recorder.keys("slow").len() >= 5
    })
    .await;
    server.kill();
    assert_eq!(
        recorder.keys("after").len(),
        0,
        "killed before any wait ended"
    );

    let server = FlowforgeProcess::start(&env, Stdio::null());
    server.wait_ready(&http).await;
    let http = support::owner_client(&server.base).await;
    eventually(
        Duration::from_secs(60),
        "every execution finishes",
        || async {
            for id in waiting_runs.iter().chain(&slow_runs).chain(&caller_runs) {
                let detail =
                    json_of(http.get(format!("{}/api/v1/executions/{id}", server.base))).await;
                if detail["status"] != "succeeded" {
                    return false;
                }
            }
            true
        },
    )
    .await;
    assert_eq!(
        recorder.keys("before").len(),
        23,
        "no succeeded node ran twice, and no sub-workflow started twice"
    );
    assert_eq!(recorder.keys("after").len(), 23, "every wait ended once");
    let slow_keys = recorder.keys("slow");
    for id in &slow_runs {
        let calls = slow_keys
            .iter()
            .filter(|k| k.starts_with(id.as_str()))
            .count();
        assert!(calls >= 1, "{id} called");
        let distinct: std::collections::HashSet<_> = slow_keys
            .iter()
            .filter(|k| k.starts_with(id.as_str()))
            .collect();
        assert_eq!(
            distinct.len(),
            1,
            "a repeated call carries the same idempotency key"
        );
    }
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_executions_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    executions_survive_sigkill(vec![(
        "FLOWFORGE_DATA_DIR",
        dir.path().display().to_string(),
    )])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_executions_survive_sigkill() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    executions_survive_sigkill(vec![("DATABASE_URL", db.location.clone())]).await;
}

async fn a_compensation_survives_sigkill(env: Vec<(&str, String)>) {
    let (bookings, base) = support::booking_server::BookingServer::start().await;
    // The hotel's first cancellation hangs: the process dies while it is in flight.
    bookings.stall("hotel-1", Duration::from_secs(3));
    let http = reqwest::Client::new();
    let server = FlowforgeProcess::start(&env, Stdio::null());
    server.wait_ready(&http).await;
    let http = support::owner_client(&server.base).await;
    let workflow = json_of(
        http.post(format!("{}/api/v1/workflows", server.base))
            .json(&support::booking_server::trip(&base, Value::Null, false)),
    )
    .await;
    let started = json_of(http.post(format!(
        "{}/api/v1/workflows/{}/executions",
        server.base,
        workflow["id"].as_str().expect("id")
    )))
    .await;
    let execution = started["execution_id"].as_str().expect("id").to_owned();
    eventually(Duration::from_secs(30), "compensation starts", || async {
        !bookings.cancelled_ids().is_empty()
    })
    .await;
    server.kill();

    let server = FlowforgeProcess::start(&env, Stdio::null());
    server.wait_ready(&http).await;
    let http = support::owner_client(&server.base).await;
    let saga = eventually(
        Duration::from_secs(60),
        "the saga is compensated",
        || async {
            let saga = json_of(http.get(format!("{}/api/v1/sagas/{execution}", server.base))).await;
            (saga["saga"]["status"] == "compensated").then_some(saga)
        },
    )
    .await;
    let cancellations = bookings.cancellations();
    let keys_of = |id: &str| -> std::collections::HashSet<String> {
        cancellations
            .iter()
            .filter(|c| c.id == id)
            .map(|c| c.key.clone())
            .collect()
    };
    assert_eq!(
        keys_of("hotel-1"),
        [format!("saga:{execution}:Hotel:1:0")].into(),
        "the interrupted undo was repeated under the same key"
    );
    assert_eq!(
        cancellations.iter().filter(|c| c.id == "hotel-1").count(),
        2,
        "killed in flight, then run again"
    );
    assert_eq!(
        cancellations.iter().filter(|c| c.id == "flight-1").count(),
        1,
        "the flight was undone once"
    );
    let compensated: Vec<&Value> = saga["saga"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| &s["status"])
        .collect();
    assert_eq!(compensated, [&json!("compensated"), &json!("compensated")]);
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_compensation_survives_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    a_compensation_survives_sigkill(vec![(
        "FLOWFORGE_DATA_DIR",
        dir.path().display().to_string(),
    )])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_and_nats_compensation_survives_sigkill() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    a_compensation_survives_sigkill(postgres_and_nats(&db, &jetstream)).await;
}
