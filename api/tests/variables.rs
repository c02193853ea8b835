//! Workspace variables through the HTTP API, on both stores: set, changed
//! and removed as events; read by expressions as `$vars` in the workspace
//! that owns them and nowhere else; bad names refused without recording
//! anything. And `$env`: closed by default, exactly the listed names when a
//! deployment opens some.

mod support;

use serde_json::{json, Value};
use support::{Backend, TestApp};

fn reading(expression: &str) -> Value {
    json!({"name": "reads", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Read", "type": "set", "parameters": {"fields": {"value": expression}}}],
        "connections": {"Start": {"main": [[{"node": "Read"}]]}}})
}

/// Runs workflow `id` once, waiting; answers the start's answer.
async fn run(app: &TestApp, id: &str, workspace: Option<&str>) -> Value {
    let mut request = app
        .http
        .post(app.url(&format!("/api/v1/workflows/{id}/executions?wait=true")));
    if let Some(workspace) = workspace {
        request = request.header("x-workspace-id", workspace);
    }
    let (status, answer, _) = app.send(request.json(&json!({"input": [{}]}))).await;
    assert!(status == 200 || status == 500, "{status} {answer}");
    answer
}

async fn set(app: &TestApp, name: &str, value: &str) -> (u16, Value) {
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/variables/{name}")))
                .json(&json!({"value": value})),
        )
        .await;
    (status, body)
}

async fn variables_reach_expressions_in_their_workspace_only(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, region) = set(&app, "region", "eu-west").await;
    assert_eq!(status, 200, "{region}");
    assert_eq!(
        (&region["name"], &region["value"]),
        (&json!("region"), &json!("eu-west"))
    );
    let (status, list) = app.get("/api/v1/variables").await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["name"], "region", "{list}");

    let (workflow, _, _) = app.create_workflow(&reading("{{ $vars.region }}")).await;
    let answer = run(&app, &workflow, None).await;
    assert_eq!(
        answer["output"],
        json!([[{"value": "eu-west"}]]),
        "{answer}"
    );

    // A new value is what the next run reads.
    assert_eq!(set(&app, "region", "us-east").await.0, 200);
    let answer = run(&app, &workflow, None).await;
    assert_eq!(
        answer["output"],
        json!([[{"value": "us-east"}]]),
        "{answer}"
    );

    // Another workspace has its own variables.
    let second = app.create_workspace("Second").await;
    let theirs = app
        .create_workflow_in(&second, &reading("{{ $vars.region ?? 'none' }}"))
        .await;
    let answer = run(&app, &theirs, Some(&second)).await;
    assert_eq!(answer["output"], json!([[{"value": "none"}]]), "{answer}");
    let (_, listed, _) = app
        .send(
            app.http
                .get(app.url("/api/v1/variables"))
                .header("x-workspace-id", &second),
        )
        .await;
    assert_eq!(listed, json!([]));

    // Bad input changes nothing.
    let head = app.head().await;
    for (name, value) in [
        ("my-region", "x".to_owned()),
        ("1st", "x".to_owned()),
        ("big", "x".repeat(16 * 1024 + 1)),
    ] {
        let (status, refused) = set(&app, name, &value).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (422, Some("invalid_variable")),
            "{name}: {refused}"
        );
    }
    let (status, refused, _) = app
        .send(
            app.http
                .put(app.url("/api/v1/variables/region"))
                .json(&json!({"value": 7})),
        )
        .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (400, &json!("invalid_body"))
    );
    assert_eq!(app.head().await, head, "refusals record nothing");

    // Every change is an event of the workspace's variables stream.
    let workspace = app.first_workspace().await;
    let (status, stream) = app
        .get(&format!("/api/v1/streams/variables/{workspace}"))
        .await;
    assert_eq!(status, 200, "{stream}");
    let types: Vec<&str> = stream["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(types, ["VariableSet", "VariableSet"], "{stream}");

    // Removed, it is undefined.
    let (status, _, _) = app
        .send(app.http.delete(app.url("/api/v1/variables/region")))
        .await;
    assert_eq!(status, 204);
    let (status, again, _) = app
        .send(app.http.delete(app.url("/api/v1/variables/region")))
        .await;
    assert_eq!(
        (status, &again["error"]["code"]),
        (404, &json!("not_found"))
    );
    let answer = run(&app, &workflow, None).await;
    assert_eq!(answer["output"], json!([[{"value": null}]]), "{answer}");
}

async fn env_is_closed_unless_names_are_listed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (workflow, _, _) = app.create_workflow(&reading("{{ $env.PATH }}")).await;
    let answer = run(&app, &workflow, None).await;
    assert!(
        answer.to_string().contains("access to $env is disabled"),
        "{answer}"
    );

    let opened = TestApp::spawn_with(backend, |args| {
        args.env_allow = Some("PATH, NOT_SET_ANYWHERE_5B3C".to_owned());
    })
    .await
    .expect("a second instance");
    let (listed, _, _) = opened.create_workflow(&reading("{{ $env.PATH }}")).await;
    let answer = run(&opened, &listed, None).await;
    let path = std::env::var("PATH").expect("PATH");
    assert_eq!(answer["output"], json!([[{"value": path}]]), "{answer}");
    let (unlisted, _, _) = opened
        .create_workflow(&reading("{{ $env.DATABASE_URL ?? 'hidden' }}"))
        .await;
    let answer = run(&opened, &unlisted, None).await;
    assert_eq!(answer["output"], json!([[{"value": "hidden"}]]), "{answer}");
}

for_each_backend!(
    variables_reach_expressions_in_their_workspace_only,
    env_is_closed_unless_names_are_listed,
);
