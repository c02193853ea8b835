//! The guard against server-side request forgery, through a real server and
//! a real HTTP server on loopback: by default an HTTP Request node cannot
//! reach loopback (by address or by name), the cloud metadata address, or a
//! private address a redirect points to, and fails saying which setting
//! opens it; the server it aimed at sees nothing. A credential test is
//! guarded alike. Listing a destination opens exactly that.

mod support;

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use axum::{
    extract::State,
    response::Redirect,
    routing::{any, get},
    Json, Router,
};
use serde_json::{json, Value};
use support::{Backend, TestApp};

async fn target() -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    async fn hit(State(hits): State<Arc<AtomicUsize>>) -> Json<Value> {
        hits.fetch_add(1, Ordering::SeqCst);
        Json(json!({"reached": true}))
    }
    let base_port = std::sync::Arc::new(std::sync::OnceLock::<u16>::new());
    let port_for_redirect = base_port.clone();
    let app = Router::new()
        .route("/hit", any(hit))
        .route(
            "/away",
            get(move || {
                let port = port_for_redirect.get().copied().unwrap_or_default();
                async move { Redirect::temporary(&format!("http://127.0.0.1:{port}/hit")) }
            }),
        )
        .with_state(hits.clone());
    let base = support::serve_on_loopback(app).await;
    let port: u16 = base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let _ = base_port.set(port);
    (port, hits)
}

fn calling(url: &str) -> Value {
    json!({"name": "calls", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Call", "type": "http_request", "parameters": {"url": url}}],
        "connections": {"Start": {"main": [[{"node": "Call"}]]}}})
}

/// Runs a workflow calling `url` once; the error it failed with.
async fn failure(app: &TestApp, url: &str) -> Value {
    let (workflow, _, _) = app.create_workflow(&calling(url)).await;
    let (status, execution) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions?wait=true"),
            &json!({"input": [{}]}),
        )
        .await;
    assert_eq!(
        (status, &execution["status"]),
        (200, &json!("failed")),
        "{url}: {execution}"
    );
    execution["failure"]["error"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_public_destinations_are_refused_unless_listed() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |args| {
        // Loopback only by name: an address written out, or reached by a
        // redirect, stays refused.
        args.outbound.allow = Some("localhost".to_owned());
    })
    .await
    else {
        return;
    };
    let (port, hits) = target().await;
    for (url, range) in [
        (format!("http://127.0.0.1:{port}/hit"), "loopback"),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "link-local",
        ),
        ("http://[::ffff:10.0.0.1]/".to_owned(), "private"),
        (format!("http://localhost:{port}/away"), "loopback"),
    ] {
        let error = failure(&app, &url).await;
        assert_eq!(error["code"], "destination_refused", "{url}: {error}");
        let message = error["message"].as_str().expect("message");
        assert!(
            message.contains(range) && message.contains("FLOWFORGE_OUTBOUND_ALLOW"),
            "{url}: {message}"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached the target");

    // Listed by name, it is reached.
    let (workflow, _, _) = app
        .create_workflow(&calling(&format!("http://localhost:{port}/hit")))
        .await;
    let (status, answer) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions?wait=true"),
            &json!({"input": [{}]}),
        )
        .await;
    assert_eq!(
        (status, &answer["status"]),
        (200, &json!("succeeded")),
        "{answer}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_names_and_credential_tests_cannot_reach_loopback() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.outbound.allow = None;
    })
    .await
    else {
        return;
    };
    let (port, hits) = target().await;
    let error = failure(&app, &format!("http://localhost:{port}/hit")).await;
    assert_eq!(error["code"], "destination_refused", "{error}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let (status, created) = app
        .post(
            "/api/v1/credentials",
            &json!({"name": "Local", "type": "redis",
                    "data": {"host": "127.0.0.1", "port": port, "password": "r3dis-pass"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id");
    let (status, tested) = app
        .post(&format!("/api/v1/credentials/{id}/test"), &Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(tested["ok"], false, "{tested}");
    assert!(
        tested["message"]
            .as_str()
            .is_some_and(|m| m.contains("loopback")),
        "{tested}"
    );
}
