//! Webhook routes are unique among active workflows: a second workflow with an
//! overlapping method and path is refused at activation (or at an update of an
//! active workflow) with 409 naming the holder, and nothing changes — also when
//! two instances activate at the same moment. Every workspace has its own
//! paths: two workspaces may both answer `orders`, each at its own URL.

mod support;

use serde_json::{json, Value};
use support::{Backend, TestApp};

fn hook(name: &str, method: &str, path: &str) -> Value {
    json!({"name": name, "nodes": [
        {"name": "Hook", "type": "webhook", "parameters": {"path": path, "method": method}},
        {"name": "Done", "type": "noop"}],
        "connections": {"Hook": {"main": [[{"node": "Done"}]]}}})
}

async fn lifecycle(app: &TestApp, id: &str, action: &str) -> (u16, Value) {
    app.post(&format!("/api/v1/workflows/{id}/{action}"), &Value::Null)
        .await
}

async fn is_active(app: &TestApp, id: &str) -> bool {
    let head = app.head().await;
    let (status, body) = app
        .get(&format!("/api/v1/workflows/{id}?consistent_with={head}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["active"].as_bool().expect("active")
}

fn assert_taken_by(status: u16, body: &Value, holder: &str, holder_name: &str) {
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "webhook_path_taken", "{body}");
    assert_eq!(body["error"]["details"]["workflow_id"], holder, "{body}");
    assert_eq!(
        body["error"]["details"]["workflow_name"], holder_name,
        "{body}"
    );
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains(holder) && message.contains(holder_name),
        "{message}"
    );
}

async fn a_second_workflow_on_a_taken_route_is_refused_and_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (first, _, _) = app
        .create_workflow(&hook("orders A", "POST", "orders"))
        .await;
    let (second, _, _) = app
        .create_workflow(&hook("orders B", "post", "/orders/"))
        .await;
    let (any, _, _) = app
        .create_workflow(&hook("orders any", "*", "orders"))
        .await;
    let (reader, _, _) = app
        .create_workflow(&hook("orders GET", "GET", "orders"))
        .await;
    assert_eq!(lifecycle(&app, &first, "activate").await.0, 200);

    let head = app.head().await;
    let (status, body) = lifecycle(&app, &second, "activate").await;
    assert_taken_by(status, &body, &first, "orders A");
    assert_eq!(
        app.head().await,
        head,
        "a refused activation records nothing"
    );
    assert!(!is_active(&app, &second).await);
    let (status, body) = lifecycle(&app, &any, "activate").await;
    assert_taken_by(status, &body, &first, "orders A");
    assert_eq!(app.head().await, head);

    assert_eq!(
        lifecycle(&app, &reader, "activate").await.0,
        200,
        "another method on the same path is another route"
    );
    assert_eq!(
        lifecycle(&app, &first, "activate").await.0,
        200,
        "the holder may activate again"
    );

    let (status, body) = app.post("/webhook/orders", &json!({})).await;
    assert_eq!(status, 202, "{body}");
    let execution = body["execution_id"].as_str().expect("execution id");
    let (_, run) = app.get(&format!("/api/v1/executions/{execution}")).await;
    assert_eq!(run["workflow_id"], first.as_str(), "the holder answers");
}

async fn deactivation_and_archival_free_the_route(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (first, _, _) = app.create_workflow(&hook("first", "POST", "free")).await;
    let (second, _, _) = app.create_workflow(&hook("second", "POST", "free")).await;
    assert_eq!(lifecycle(&app, &first, "activate").await.0, 200);
    assert_eq!(lifecycle(&app, &first, "deactivate").await.0, 200);
    assert_eq!(lifecycle(&app, &second, "activate").await.0, 200);
    let (status, body) = lifecycle(&app, &first, "activate").await;
    assert_taken_by(status, &body, &second, "second");

    let response = app
        .http
        .delete(app.url(&format!("/api/v1/workflows/{second}")))
        .send()
        .await
        .expect("archive");
    assert_eq!(response.status(), 200);
    assert_eq!(lifecycle(&app, &first, "activate").await.0, 200);
    assert!(is_active(&app, &first).await);
}

async fn an_active_workflow_is_not_updated_onto_a_taken_route(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (first, _, _) = app.create_workflow(&hook("first", "POST", "a")).await;
    let (second, version, _) = app.create_workflow(&hook("second", "POST", "b")).await;
    assert_eq!(lifecycle(&app, &first, "activate").await.0, 200);
    let (status, body) = lifecycle(&app, &second, "activate").await;
    assert_eq!(status, 200, "{body}");
    let version = body["version"].as_u64().unwrap_or(version);

    let head = app.head().await;
    let update = |path: &str| {
        app.http
            .put(app.url(&format!("/api/v1/workflows/{second}")))
            .header("If-Match", version.to_string())
            .json(&hook("second", "POST", path))
    };
    let (status, body, _) = app.send(update("a")).await;
    assert_taken_by(status, &body, &first, "first");
    assert_eq!(app.head().await, head, "a refused update records nothing");

    let (status, body, _) = app.send(update("c")).await;
    assert_eq!(status, 200, "{body}");
    let (third, _, _) = app.create_workflow(&hook("third", "POST", "b")).await;
    assert_eq!(
        lifecycle(&app, &third, "activate").await.0,
        200,
        "the route the update dropped is free"
    );
    let (fourth, _, _) = app.create_workflow(&hook("fourth", "POST", "c")).await;
    let (status, body) = lifecycle(&app, &fourth, "activate").await;
    assert_taken_by(status, &body, &second, "second");
}

/// A webhook workflow that answers with its own name.
fn answering(name: &str, path: &str) -> Value {
    json!({"name": name, "nodes": [
        {"name": "Hook", "type": "webhook",
         "parameters": {"path": path, "response_mode": "last_node"}},
        {"name": "Say", "type": "set", "parameters": {"fields": {"from": name}}}],
        "connections": {"Hook": {"main": [[{"node": "Say"}]]}}})
}

async fn each_workspace_has_its_own_paths(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let first = app.first_workspace().await;
    let second = app.create_workspace("Second").await;
    let in_second = |request: reqwest::RequestBuilder| request.header("x-workspace-id", &second);

    let (mine, _, _) = app.create_workflow(&answering("first's", "orders")).await;
    assert_eq!(lifecycle(&app, &mine, "activate").await.0, 200);
    let theirs = app
        .create_workflow_in(&second, &answering("second's", "orders"))
        .await;
    let (status, body, _) = app
        .send(in_second(app.http.post(
            app.url(&format!("/api/v1/workflows/{theirs}/activate")),
        )))
        .await;
    assert_eq!(
        status, 200,
        "the same path in another workspace is free: {body}"
    );

    let call = |url: String| {
        let app = &app;
        async move {
            let (status, body, _) = app
                .send(reqwest::Client::new().post(url).json(&json!({})))
                .await;
            (status, body)
        }
    };
    let (status, body) = call(app.url("/webhook/orders")).await;
    assert_eq!((status, &body["from"]), (200, &json!("first's")), "{body}");
    let (status, body) = call(app.url(&format!("/workspaces/{first}/webhook/orders"))).await;
    assert_eq!((status, &body["from"]), (200, &json!("first's")), "{body}");
    let (status, body) = call(app.url(&format!("/workspaces/{second}/webhook/orders"))).await;
    assert_eq!((status, &body["from"]), (200, &json!("second's")), "{body}");

    // Within a workspace a path stays unique.
    let again = app
        .create_workflow_in(&second, &answering("again", "orders"))
        .await;
    let (status, body, _) = app
        .send(in_second(app.http.post(
            app.url(&format!("/api/v1/workflows/{again}/activate")),
        )))
        .await;
    assert_taken_by(status, &body, &theirs, "second's");

    // Elsewhere there is nothing, and nothing is recorded.
    let head = app.head().await;
    for url in [
        format!("/workspaces/{}/webhook/orders", uuid::Uuid::now_v7()),
        "/workspaces/not-a-workspace/webhook/orders".to_owned(),
        format!("/workspaces/{second}/webhook/other"),
    ] {
        let (status, body) = call(app.url(&url)).await;
        assert_eq!(status, 404, "{url}: {body}");
    }
    assert_eq!(app.head().await, head);
}

for_each_backend!(
    a_second_workflow_on_a_taken_route_is_refused_and_changes_nothing,
    deactivation_and_archival_free_the_route,
    an_active_workflow_is_not_updated_onto_a_taken_route,
    each_workspace_has_its_own_paths,
);

/// Two instances on one database activate workflows with the same route at
/// the same moment, many times over: each time exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_activations_on_two_instances_let_exactly_one_win() {
    let Some(one) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let two = TestApp::spawn_sharing(&one, |_| {}).await;
    for round in 0..8 {
        let path = format!("race-{round}");
        let mut ids = Vec::new();
        for n in 0..4 {
            let (id, _, _) = one
                .create_workflow(&hook(&format!("racer {n}"), "POST", &path))
                .await;
            ids.push(id);
        }
        let attempts = ids.iter().enumerate().map(|(n, id)| {
            let app = if n % 2 == 0 { &one } else { &two };
            lifecycle(app, id, "activate")
        });
        let answers = futures::future::join_all(attempts).await;
        let winners: Vec<usize> = (0..ids.len()).filter(|n| answers[*n].0 == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        let winner = winners[0];
        for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
            assert_taken_by(*status, body, &ids[winner], &format!("racer {winner}"));
        }
        let mut active = Vec::new();
        for id in &ids {
            if is_active(&one, id).await {
                active.push(id);
            }
        }
        assert_eq!(
            active,
            [&ids[winner]],
            "round {round}: only the winner is active"
        );
    }
}
