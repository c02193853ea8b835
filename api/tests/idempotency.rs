//! `Idempotency-Key` on execution starts: a retry with the same key (on any
//! instance) answers with the execution the first request started instead of
//! starting another; another key starts another execution.

mod support;

use serde_json::{json, Value};
use support::{Backend, TestApp};

const KEY: &str = "idempotency-key";

fn manual() -> Value {
    json!({"name": "manual", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Echo", "type": "set", "parameters": {"fields": {"n": "{{ $json.n }}"}}}],
        "connections": {"Start": {"main": [[{"node": "Echo"}]]}}})
}

fn webhook(path: &str, mode: &str) -> Value {
    json!({"name": "hook", "nodes": [
        {"name": "Hook", "type": "webhook", "parameters": {"path": path, "method": "POST", "response_mode": mode}},
        {"name": "Echo", "type": "set", "parameters": {"fields": {"n": "{{ $json.body.n }}"}}}],
        "connections": {"Hook": {"main": [[{"node": "Echo"}]]}}})
}

/// Starts workflow `id` with `key` (if any); returns status, body and whether
/// the answer is marked as a replay.
async fn start(app: &TestApp, id: &str, key: Option<&str>, query: &str) -> (u16, Value, bool) {
    let mut request = app
        .http
        .post(app.url(&format!("/api/v1/workflows/{id}/executions{query}")))
        .json(&json!({"input": [{"n": 1}]}));
    if let Some(key) = key {
        request = request.header(KEY, key);
    }
    let (status, body, headers) = app.send(request).await;
    let replayed = headers
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    (status, body, replayed)
}

async fn call_hook(app: &TestApp, path: &str, key: &str) -> (u16, Value, bool) {
    let request = app
        .http
        .post(app.url(&format!("/webhook/{path}")))
        .header(KEY, key)
        .json(&json!({"n": 7}));
    let (status, body, headers) = app.send(request).await;
    (status, body, headers.contains_key("idempotent-replayed"))
}

/// The ids of every execution of workflow `id`, once the list reflects the head.
/// Every answer is 202 and names the same execution.
fn assert_one_execution(answers: &[(u16, Value, bool)], round: usize) {
    let ids: std::collections::BTreeSet<&str> = answers
        .iter()
        .map(|(status, body, _)| {
            assert_eq!(*status, 202, "{body}");
            body["execution_id"].as_str().expect("id")
        })
        .collect();
    assert_eq!(ids.len(), 1, "round {round}: {answers:?}");
}

async fn executions_of(app: &TestApp, id: &str) -> Vec<String> {
    let head = app.head().await;
    let (status, page) = app
        .get(&format!(
            "/api/v1/executions?workflow_id={id}&limit=500&consistent_with={head}"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids
}

async fn a_retried_start_answers_with_the_first_execution(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app.create_workflow(&manual()).await;
    let (status, first, replayed) = start(&app, &id, Some("order-1"), "").await;
    assert_eq!((status, replayed), (202, false), "{first}");
    let (status, again, replayed) = start(&app, &id, Some("order-1"), "").await;
    assert_eq!((status, replayed), (202, true), "{again}");
    assert_eq!(again["execution_id"], first["execution_id"]);

    let (status, waited, replayed) = start(&app, &id, Some("order-1"), "?wait=true").await;
    assert_eq!((status, replayed), (200, true), "{waited}");
    assert_eq!(waited["execution_id"], first["execution_id"]);
    assert_eq!(waited["output"], json!([[{"n": 1}]]));

    let (_, other, _) = start(&app, &id, Some("order-2"), "").await;
    assert_ne!(other["execution_id"], first["execution_id"]);
    let (_, plain, _) = start(&app, &id, None, "").await;
    let (_, plain_again, _) = start(&app, &id, None, "").await;
    assert_ne!(plain["execution_id"], plain_again["execution_id"]);

    let (other_workflow, _, _) = app.create_workflow(&manual()).await;
    let (_, elsewhere, _) = start(&app, &other_workflow, Some("order-1"), "").await;
    assert_ne!(
        elsewhere["execution_id"], first["execution_id"],
        "a key names a start of one workflow"
    );
    assert_eq!(executions_of(&app, &id).await.len(), 4);
}

async fn a_bad_key_is_refused_and_starts_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app.create_workflow(&manual()).await;
    let head = app.head().await;
    let (status, body, _) = start(&app, &id, Some(&"k".repeat(256)), "").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_parameter");
    let (status, _, _) = start(&app, &id, Some(&"k".repeat(255)), "").await;
    assert_eq!(status, 202, "255 bytes is the limit");
    assert_eq!(executions_of(&app, &id).await.len(), 1);
    assert!(app.head().await > head);
}

async fn a_retried_webhook_answers_with_the_first_execution(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (sync_id, _, _) = app.create_workflow(&webhook("sync", "last_node")).await;
    let (async_id, _, _) = app.create_workflow(&webhook("async", "immediately")).await;
    for id in [&sync_id, &async_id] {
        let (status, body) = app
            .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let first = call_hook(&app, "sync", "delivery-1").await;
    assert_eq!((first.0, &first.1, first.2), (200, &json!({"n": 7}), false));
    let again = call_hook(&app, "sync", "delivery-1").await;
    assert_eq!((again.0, &again.1, again.2), (200, &json!({"n": 7}), true));
    assert_eq!(executions_of(&app, &sync_id).await.len(), 1);

    let first = call_hook(&app, "async", "delivery-1").await;
    let again = call_hook(&app, "async", "delivery-1").await;
    assert_eq!((first.0, again.0, again.2), (202, 202, true));
    assert_eq!(first.1["execution_id"], again.1["execution_id"]);
    let other = call_hook(&app, "async", "delivery-2").await;
    assert_ne!(other.1["execution_id"], first.1["execution_id"]);
    assert_eq!(executions_of(&app, &async_id).await.len(), 2);
}

for_each_backend!(
    a_retried_start_answers_with_the_first_execution,
    a_bad_key_is_refused_and_starts_nothing,
    a_retried_webhook_answers_with_the_first_execution,
);

/// Many requests with one key at once, spread over two instances on one
/// database: one execution, and every answer names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_with_one_key_start_one_execution() {
    let Some(one) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let two = TestApp::spawn_sharing(&one, |_| {}).await;
    let (id, _, _) = one.create_workflow(&manual()).await;
    let (hook_id, _, _) = one.create_workflow(&webhook("burst", "immediately")).await;
    let (status, body) = one
        .post(
            &format!("/api/v1/workflows/{hook_id}/activate"),
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for round in 0..4 {
        let key = format!("burst-{round}");
        let starts = (0..12).map(|n| {
            let app = if n % 2 == 0 { &one } else { &two };
            start(app, &id, Some(&key), "")
        });
        let answers = futures::future::join_all(starts).await;
        assert_one_execution(&answers, round);
        let fresh = answers.iter().filter(|(_, _, replayed)| !replayed).count();
        assert_eq!(fresh, 1, "exactly one request started it: {answers:?}");

        let calls = (0..12).map(|n| {
            let app = if n % 2 == 0 { &one } else { &two };
            call_hook(app, "burst", &key)
        });
        let answers = futures::future::join_all(calls).await;
        assert_one_execution(&answers, round);
    }
    assert_eq!(executions_of(&one, &id).await.len(), 4);
    assert_eq!(executions_of(&one, &hook_id).await.len(), 4);
}
