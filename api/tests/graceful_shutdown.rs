//! SIGTERM to a real `flowforge serve` leading on PostgreSQL beside a second
//! instance: the node attempt running at that moment finishes and is recorded
//! once (not cut off and run again by the next leader), the request waiting
//! for the execution answers 503 instead of hanging, the lease is given up so
//! the other instance finishes the execution at once; and a call longer than
//! the grace period does not hold the shutdown up.

mod support;

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{extract::State, routing::post, Json, Router};
use flowforge_infra::test_support::TestDatabase;
use serde_json::{json, Value};
use support::{eventually, process::FlowforgeProcess};

/// When a call came in, and when it was answered (if it was).
type Call = (Instant, Option<Instant>);

/// A third-party API that takes `delay` to answer; it records its calls.
#[derive(Clone)]
struct SlowApi {
    delay: Duration,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl SlowApi {
    async fn start(delay: Duration) -> (Self, String) {
        let api = SlowApi {
            delay,
            calls: Arc::default(),
        };
        let app = Router::new()
            .route("/slow", post(answer_slowly))
            .with_state(api.clone());
        let url = format!("{}/slow", support::serve_on_loopback(app).await);
        (api, url)
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }
}

async fn answer_slowly(State(api): State<SlowApi>) -> Json<Value> {
    let call = {
        let mut calls = api.calls.lock().expect("calls");
        calls.push((Instant::now(), None));
        calls.len() - 1
    };
    tokio::time::sleep(api.delay).await;
    api.calls.lock().expect("calls")[call].1 = Some(Instant::now());
    Json(json!({"ok": true}))
}

async fn json_of(request: reqwest::RequestBuilder) -> (u16, Value, Option<String>) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        retry_after,
    )
}

/// Two instances on one fresh database, the first one leading, with a
/// workflow that calls `url` and then sets a field.
async fn leader_and_standby(
    db: &TestDatabase,
    grace_secs: u64,
    url: &str,
) -> (FlowforgeProcess, FlowforgeProcess, String) {
    let http = reqwest::Client::new();
    let env = |grace: u64| {
        vec![
            ("DATABASE_URL", db.location.clone()),
            ("FLOWFORGE_SHUTDOWN_GRACE_SECS", grace.to_string()),
        ]
    };
    let leader = FlowforgeProcess::start(&env(grace_secs), Stdio::null());
    leader.wait_ready(&http).await;
    let http = support::owner_client(&leader.base).await;
    let standby = FlowforgeProcess::start(&env(grace_secs), Stdio::null());
    standby.wait_ready(&http).await;
    let http = support::owner_client(&standby.base).await;
    let (status, workflow, _) = json_of(
        http.post(format!("{}/api/v1/workflows", leader.base))
            .json(&json!({"name": "slow call", "nodes": [
                {"name": "Start", "type": "manual_trigger"},
                {"name": "Call", "type": "http_request", "parameters": {"method": "POST", "url": url, "timeout_ms": 60000}},
                {"name": "After", "type": "set", "parameters": {"fields": {"after": true}}}],
                "connections": {"Start": {"main": [[{"node": "Call"}]]}, "Call": {"main": [[{"node": "After"}]]}}})),
    )
    .await;
    assert_eq!(status, 201, "{workflow}");
    let id = workflow["id"].as_str().expect("workflow id").to_owned();
    (leader, standby, id)
}

async fn execution_status(http: &reqwest::Client, base: &str, id: &str) -> Value {
    json_of(http.get(format!("{base}/api/v1/executions/{id}")))
        .await
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_the_running_node_finish_once_and_hands_over_at_once() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let (api, url) = SlowApi::start(Duration::from_secs(3)).await;
    let (leader, standby, workflow) = leader_and_standby(&db, 30, &url).await;
    let http = support::owner_client(&leader.base).await;

    // A caller waits for the execution's end; the node's call is under way.
    let waiting = {
        let request = http.post(format!(
            "{}/api/v1/workflows/{workflow}/executions?wait=true&timeout_ms=60000",
            leader.base
        ));
        tokio::spawn(json_of(request))
    };
    eventually(Duration::from_secs(20), "the call arrives", || async {
        (api.calls().len() == 1).then_some(())
    })
    .await;

    let terminated = tokio::task::spawn_blocking(move || {
        let status = leader.terminate();
        (status, Instant::now())
    });
    let (status, exited_at) = terminated.await.expect("terminate");
    assert!(
        status.success(),
        "flowforge exits cleanly on SIGTERM: {status}"
    );

    let calls = api.calls();
    let answered_at = calls[0]
        .1
        .expect("the running call finished before the process exited");
    assert!(answered_at <= exited_at);

    // The waiting caller is told to retry instead of being cut off or hung.
    let (status, body, retry_after) = waiting.await.expect("waiting caller");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "shutting_down", "{body}");
    assert!(retry_after.is_some(), "503 carries Retry-After");
    let execution = body["error"]["details"]["execution_id"]
        .as_str()
        .expect("the error names the execution")
        .to_owned();

    // The standby takes the lease over at once and finishes the execution
    // from the recorded outcome: the call is not made a second time.
    let finished = eventually(
        Duration::from_secs(10),
        "the standby finishes the execution",
        || async {
            let detail = execution_status(&http, &standby.base, &execution).await;
            (detail["status"] == "succeeded").then_some(detail)
        },
    )
    .await;
    assert!(
        exited_at.elapsed() < Duration::from_secs(10),
        "the standby finished within seconds of the leader's exit"
    );
    assert_eq!(api.calls().len(), 1, "the call ran exactly once");
    let after = finished["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["node"] == "After")
        .expect("After ran");
    assert_eq!(after["status"], "succeeded", "{finished}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_longer_than_the_grace_period_does_not_hold_shutdown_up() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let (api, url) = SlowApi::start(Duration::from_secs(8)).await;
    let (leader, standby, workflow) = leader_and_standby(&db, 1, &url).await;
    let http = support::owner_client(&leader.base).await;

    let (status, started, _) = json_of(http.post(format!(
        "{}/api/v1/workflows/{workflow}/executions",
        leader.base
    )))
    .await;
    assert_eq!(status, 202, "{started}");
    let execution = started["execution_id"].as_str().expect("id").to_owned();
    eventually(Duration::from_secs(20), "the call arrives", || async {
        (api.calls().len() == 1).then_some(())
    })
    .await;

    let sent_at = Instant::now();
    let status = tokio::task::spawn_blocking(move || leader.terminate())
        .await
        .expect("terminate");
    assert!(status.success(), "{status}");
    assert!(
        sent_at.elapsed() < Duration::from_secs(6),
        "shutdown waited about the 1 s grace period, not the 8 s call: {:?}",
        sent_at.elapsed()
    );

    // The abandoned attempt is run again by the next leader (at least once).
    eventually(
        Duration::from_secs(30),
        "the standby finishes the execution",
        || async {
            let detail = execution_status(&http, &standby.base, &execution).await;
            (detail["status"] == "succeeded").then_some(())
        },
    )
    .await;
    assert_eq!(api.calls().len(), 2, "the cut-off call was made again");
}
