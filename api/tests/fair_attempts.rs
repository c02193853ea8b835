//! Node attempts run in a bounded pool served round-robin across executions:
//! one execution's wide fan-out of HTTP calls runs a few calls at a time, and
//! another execution that asks meanwhile gets the next free slot instead of
//! waiting for the whole fan-out.

mod support;

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex,
};
use std::time::Duration;

use axum::{extract::State, routing::post, Json, Router};
use serde_json::{json, Value};
use support::{eventually, Backend, TestApp};
use tokio::sync::Semaphore;

/// A third-party API that holds every call until the test releases one;
/// it records who called, in arrival order, and how many calls it held at once.
#[derive(Clone)]
struct HeldApi {
    arrivals: Arc<Mutex<Vec<String>>>,
    held: Arc<AtomicUsize>,
    most_held: Arc<AtomicUsize>,
    release: Arc<Semaphore>,
}

impl HeldApi {
    async fn start() -> (Self, String) {
        let api = HeldApi {
            arrivals: Arc::default(),
            held: Arc::default(),
            most_held: Arc::default(),
            release: Arc::new(Semaphore::new(0)),
        };
        let app = Router::new()
            .route("/held", post(hold))
            .with_state(api.clone());
        let url = format!("{}/held", support::serve_on_loopback(app).await);
        (api, url)
    }

    fn arrivals(&self) -> Vec<String> {
        self.arrivals.lock().expect("arrivals").clone()
    }
}

async fn hold(State(api): State<HeldApi>, Json(body): Json<Value>) -> Json<Value> {
    let caller = body["caller"].as_str().unwrap_or("?").to_owned();
    api.arrivals.lock().expect("arrivals").push(caller);
    let held = api.held.fetch_add(1, Ordering::SeqCst) + 1;
    api.most_held.fetch_max(held, Ordering::SeqCst);
    if let Ok(permit) = api.release.acquire().await {
        permit.forget();
    }
    api.held.fetch_sub(1, Ordering::SeqCst);
    Json(json!({"ok": true}))
}

async fn fan_out_does_not_starve_another_execution(backend: Backend) {
    const FAN_OUT: usize = 12;
    let Some(app) = TestApp::spawn_with(backend, |args| {
        args.max_concurrent_attempts = 2;
        args.max_attempts_per_execution = 2;
    })
    .await
    else {
        return;
    };
    let (api, url) = HeldApi::start().await;
    let call = |name: String, caller: &str| json!({"name": name, "type": "http_request", "parameters": {"method": "POST", "url": url, "body": {"caller": caller}, "timeout_ms": 60000}});
    let mut nodes = vec![json!({"name": "Start", "type": "manual_trigger"})];
    nodes.extend((0..FAN_OUT).map(|n| call(format!("Call {n}"), "wide")));
    let targets: Vec<Value> = (0..FAN_OUT)
        .map(|n| json!({"node": format!("Call {n}")}))
        .collect();
    let (wide, _, _) = app
        .create_workflow(&json!({"name": "wide", "nodes": nodes,
            "connections": {"Start": {"main": [targets]}}}))
        .await;
    let (other, _, _) = app
        .create_workflow(&json!({"name": "other", "nodes": [
            {"name": "Start", "type": "manual_trigger"}, call("Call".to_owned(), "other")],
            "connections": {"Start": {"main": [[{"node": "Call"}]]}}}))
        .await;

    let (status, wide_run) = app
        .post(&format!("/api/v1/workflows/{wide}/executions"), &json!({}))
        .await;
    assert_eq!(status, 202, "{wide_run}");
    eventually(Duration::from_secs(20), "two calls arrive", || async {
        (api.arrivals().len() == 2).then_some(())
    })
    .await;
    let (status, other_run) = app
        .post(&format!("/api/v1/workflows/{other}/executions"), &json!({}))
        .await;
    assert_eq!(status, 202, "{other_run}");

    // Let the calls go one at a time; after each, the pool fills up again.
    let total = FAN_OUT + 1;
    for released in 1..=total {
        api.release.add_permits(1);
        let refilled = 2.min(total - released);
        eventually(
            Duration::from_secs(20),
            "the released slots are refilled",
            || async {
                (api.held.load(Ordering::SeqCst) == refilled
                    && api.arrivals().len() == (released + refilled).min(total))
                .then_some(())
            },
        )
        .await;
    }

    let arrivals = api.arrivals();
    let other_at = arrivals
        .iter()
        .position(|caller| caller == "other")
        .expect("the other execution called");
    assert!(
        other_at < 6,
        "the other execution got one of the next free slots, not the last: {arrivals:?}"
    );
    assert_eq!(
        api.most_held.load(Ordering::SeqCst),
        2,
        "never more calls at once than the pool has slots"
    );
    for run in [&wide_run, &other_run] {
        let id = run["execution_id"].as_str().expect("id");
        eventually(
            Duration::from_secs(20),
            "the execution succeeds",
            || async {
                let (_, detail) = app.get(&format!("/api/v1/executions/{id}")).await;
                (detail["status"] == "succeeded").then_some(())
            },
        )
        .await;
    }
}

for_each_backend!(fan_out_does_not_starve_another_execution);
