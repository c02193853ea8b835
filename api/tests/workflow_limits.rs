//! The size limits on workflows, through the HTTP API on both stores: a
//! definition with too many nodes, too many bytes or too wide a fan-out is
//! refused with 422 `workflow_too_large` naming the limit, the value and the
//! setting to raise, and nothing is stored; a node that outputs too many items
//! fails its run with `too_many_items`.

mod support;

use serde_json::{json, Value};
use support::{simple_workflow, Backend, TestApp};

/// A manual trigger followed by `count - 1` noop nodes in a chain.
fn chain(count: usize) -> Value {
    let nodes: Vec<Value> = (0..count)
        .map(|i| {
            let node_type = if i == 0 { "manual_trigger" } else { "noop" };
            json!({"name": format!("n{i}"), "type": node_type})
        })
        .collect();
    let connections: serde_json::Map<String, Value> = (1..count)
        .map(|i| {
            (
                format!("n{}", i - 1),
                json!({"main": [[{"node": format!("n{i}")}]]}),
            )
        })
        .collect();
    json!({"name": "chain", "nodes": nodes, "connections": connections})
}

/// A manual trigger connected to `targets` noop nodes.
fn fan(targets: usize) -> Value {
    let mut nodes = vec![json!({"name": "Start", "type": "manual_trigger"})];
    nodes.extend((0..targets).map(|i| json!({"name": format!("t{i}"), "type": "noop"})));
    let main: Vec<Value> = (0..targets)
        .map(|i| json!({"node": format!("t{i}")}))
        .collect();
    json!({"name": "fan", "nodes": nodes, "connections": {"Start": {"main": [main]}}})
}

/// A valid two-node workflow whose Set node carries `bytes` of text.
fn heavy(bytes: usize) -> Value {
    json!({"name": "heavy", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Blob", "type": "set", "parameters": {"fields": {"blob": "x".repeat(bytes)}}}],
        "connections": {"Start": {"main": [[{"node": "Blob"}]]}}})
}

/// The workflows the read model lists once it has caught up with the log.
async fn listed(app: &TestApp) -> Vec<Value> {
    let head = app.head().await;
    let (status, page) = app
        .get(&format!(
            "/api/v1/workflows?include_archived=true&consistent_with={head}"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

/// Posts `definition`, expects 422 `workflow_too_large` with these details,
/// and checks that nothing was recorded. Returns the error message.
async fn refused(app: &TestApp, definition: &Value, limit: &str, actual: u64, max: u64) -> String {
    let head = app.head().await;
    let before = listed(app).await;
    let (status, body) = app.post("/api/v1/workflows", definition).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("workflow_too_large")),
        "{body}"
    );
    let details = &body["error"]["details"];
    assert_eq!(details["limit"], limit, "{body}");
    assert_eq!(details["actual"], actual, "{body}");
    assert_eq!(details["max"], max, "{body}");
    assert_eq!(app.head().await, head, "nothing was recorded");
    assert_eq!(listed(app).await, before, "the list is unchanged");
    let message = body["error"]["message"].as_str().expect("message");
    let setting = details["setting"].as_str().expect("setting");
    assert!(message.contains(setting), "{message}");
    message.to_owned()
}

async fn a_workflow_with_too_many_nodes_is_refused_and_not_stored(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_workflow(&simple_workflow("kept", &[])).await;
    let message = refused(&app, &chain(1_001), "max_nodes", 1_001, 1_000).await;
    assert_eq!(
        message,
        "workflow too large: the workflow has 1001 nodes, more than the limit of 1000; raise FLOWFORGE_MAX_WORKFLOW_NODES to allow more"
    );
    app.create_workflow(&chain(1_000)).await;

    // An update past the limit is refused the same way and keeps the old version.
    let (id, _, _) = app.create_workflow(&chain(2)).await;
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .header("If-Match", "*")
                .json(&chain(5_000)),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("workflow_too_large")),
        "{body}"
    );
    assert_eq!(
        body["error"]["details"]["setting"],
        "FLOWFORGE_MAX_WORKFLOW_NODES"
    );
    let (_, stream) = app.get(&format!("/api/v1/streams/workflow/{id}")).await;
    assert_eq!(stream["version"], 1, "no new definition version: {stream}");
}

async fn a_node_with_too_wide_a_fan_out_is_refused_naming_it(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    refused(&app, &fan(101), "max_fan_out", 101, 100).await;
    let (status, body) = app.post("/api/v1/workflows", &fan(101)).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["details"]["node"], "Start");
    assert_eq!(
        body["error"]["details"]["setting"],
        "FLOWFORGE_MAX_NODE_FANOUT"
    );
    app.create_workflow(&fan(100)).await;
}

async fn a_definition_over_the_byte_limit_is_refused_and_the_body_limit_still_applies(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn_with(backend, |args| {
        args.max_body_bytes = 4 * 1024 * 1024;
        args.limits.max_workflow_bytes = 64 * 1024;
    })
    .await
    else {
        return;
    };
    let (status, body) = app.post("/api/v1/workflows", &heavy(100 * 1024)).await;
    assert_eq!(status, 422, "{body}");
    let actual = body["error"]["details"]["actual"].as_u64().expect("actual");
    assert!(actual > 100 * 1024, "{body}");
    refused(
        &app,
        &heavy(100 * 1024),
        "max_definition_bytes",
        actual,
        64 * 1024,
    )
    .await;
    assert_eq!(
        body["error"]["details"]["setting"],
        "FLOWFORGE_MAX_WORKFLOW_BYTES"
    );
    app.create_workflow(&heavy(32 * 1024)).await;

    // Past the body limit the request is refused before it is read.
    let (status, body) = app.post("/api/v1/workflows", &heavy(5 * 1024 * 1024)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("payload_too_large")),
        "{body}"
    );
}

async fn configured_limits_replace_the_defaults(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |args| {
        args.limits.max_workflow_nodes = 3;
        args.limits.max_node_fanout = 1;
    })
    .await
    else {
        return;
    };
    refused(&app, &chain(4), "max_nodes", 4, 3).await;
    refused(&app, &fan(2), "max_fan_out", 2, 1).await;
    app.create_workflow(&chain(3)).await;
}

async fn a_node_that_outputs_too_many_items_fails_the_run(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |args| args.limits.max_items_per_node = 3).await
    else {
        return;
    };
    let many = |count: usize| {
        json!({"name": "many", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Make", "type": "code",
             "parameters": {"js": format!("return Array.from({{length: {count}}}, (_, i) => ({{json: {{i}}}}))")}}],
            "connections": {"Start": {"main": [[{"node": "Make"}]]}}})
    };
    for (count, status) in [(3, "succeeded"), (4, "failed")] {
        let (id, _, _) = app.create_workflow(&many(count)).await;
        let (code, run) = app
            .post(
                &format!("/api/v1/workflows/{id}/executions?wait=true"),
                &json!({"input": [{}]}),
            )
            .await;
        assert_eq!(code, 200, "{run}");
        assert_eq!(run["status"], status, "{count} items: {run}");
        if status == "failed" {
            let error = &run["failure"]["error"];
            assert_eq!(error["code"], "too_many_items", "{run}");
            assert_eq!(error["details"]["limit"], 3, "{run}");
            assert!(
                error["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("FLOWFORGE_MAX_ITEMS_PER_NODE")),
                "{run}"
            );
        }
    }
}

for_each_backend!(
    a_workflow_with_too_many_nodes_is_refused_and_not_stored,
    a_node_with_too_wide_a_fan_out_is_refused_naming_it,
    a_definition_over_the_byte_limit_is_refused_and_the_body_limit_still_applies,
    configured_limits_replace_the_defaults,
    a_node_that_outputs_too_many_items_fails_the_run,
);
