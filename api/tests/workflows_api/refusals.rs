//! Bad input is refused with a clear error and changes nothing; invalid
//! workflows name the node at fault.

use super::*;

/// Every refused request gets its status and error body, and records nothing.
async fn bad_input_is_refused_and_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |args| args.max_body_bytes = 64 * 1024).await
    else {
        return;
    };
    let (id, _, _) = app.create_workflow(&simple_workflow("existing", &[])).await;
    let head = app.head().await;
    let workflows = app.url("/api/v1/workflows");
    let one = app.url(&format!("/api/v1/workflows/{id}"));
    let unknown = "0195f3a0-0000-7000-8000-00000000beef";

    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        ("malformed JSON", app.http.post(&workflows).header(CONTENT_TYPE, "application/json").body("{\"name\": "), 400, "malformed_json"),
        ("not an object", app.http.post(&workflows).json(&json!([1, 2])), 400, "invalid_body"),
        ("misspelt field", app.http.post(&workflows).json(&json!({"name": "x", "nodes": [{"name": "S", "type": "manual_trigger", "paramters": {}}]})), 400, "invalid_body"),
        ("tags not strings", app.http.post(&workflows).json(&json!({"name": "x", "tags": [1], "nodes": []})), 400, "invalid_body"),
        ("no content type", app.http.post(&workflows).body("{}"), 415, "unsupported_media_type"),
        ("oversized body", app.http.post(&workflows).header(CONTENT_TYPE, "application/json").body(format!("{{\"name\": \"{}\"}}", "x".repeat(100 * 1024))), 413, "payload_too_large"),
        ("unknown workflow", app.http.get(app.url(&format!("/api/v1/workflows/{unknown}"))), 404, "not_found"),
        ("not an id", app.http.get(app.url("/api/v1/workflows/not-a-uuid")), 404, "not_found"),
        ("activate unknown", app.http.post(app.url(&format!("/api/v1/workflows/{unknown}/activate"))), 404, "not_found"),
        ("archive unknown", app.http.delete(app.url(&format!("/api/v1/workflows/{unknown}"))), 404, "not_found"),
        ("update unknown", app.http.put(app.url(&format!("/api/v1/workflows/{unknown}"))).header(IF_MATCH, "1").json(&simple_workflow("x", &[])), 404, "not_found"),
        ("update without version", app.http.put(&one).json(&simple_workflow("x", &[])), 428, "precondition_required"),
        ("update stale", app.http.put(&one).header(IF_MATCH, "\"7\"").json(&simple_workflow("x", &[])), 409, "version_conflict"),
        ("bad If-Match", app.http.put(&one).header(IF_MATCH, "abc").json(&simple_workflow("x", &[])), 400, "invalid_parameter"),
        ("activate stale", app.http.post(app.url(&format!("/api/v1/workflows/{id}/activate"))).header(IF_MATCH, "5"), 409, "version_conflict"),
        ("empty tag", app.http.post(&workflows).json(&simple_workflow("x", &[" "])), 422, "invalid_tag"),
        ("bad limit", app.http.get(app.url("/api/v1/workflows?limit=0")), 400, "invalid_parameter"),
        ("bad active filter", app.http.get(app.url("/api/v1/workflows?active=maybe")), 400, "invalid_parameter"),
        ("bad log limit", app.http.get(app.url("/api/v1/events?limit=5000")), 400, "invalid_parameter"),
        ("unknown stream", app.http.get(app.url(&format!("/api/v1/streams/workflow/{unknown}"))), 404, "not_found"),
        ("unknown route", app.http.get(app.url("/api/v1/nothing-here")), 404, "not_found"),
        ("wrong method", app.http.patch(&workflows).json(&json!({})), 405, "method_not_allowed"),
    ];
    for (what, request, status, code) in cases {
        let (got, body, _) = app.send(request).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }
    assert_eq!(app.head().await, head, "refused requests recorded nothing");
}

/// Each validation rule gets a 422 naming the node at fault.
async fn invalid_workflows_name_the_node(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let trigger = json!({"name": "Start", "type": "manual_trigger"});
    let set = |name: &str| json!({"name": name, "type": "set"});
    let cases = vec![
        (
            "unknown type",
            json!({"name": "w", "nodes": [trigger, {"name": "Mystery", "type": "teleport"}]}),
            Some("Mystery"),
        ),
        (
            "duplicate name",
            json!({"name": "w", "nodes": [trigger, set("Twice"), set("Twice")]}),
            Some("Twice"),
        ),
        (
            "missing target",
            json!({"name": "w", "nodes": [trigger], "connections": {"Start": {"main": [[{"node": "Ghost"}]]}}}),
            Some("Start"),
        ),
        (
            "cycle",
            json!({"name": "w", "nodes": [trigger, set("A"), set("B")], "connections": {
            "Start": {"main": [[{"node": "A"}]]}, "A": {"main": [[{"node": "B"}]]}, "B": {"main": [[{"node": "A"}]]}}}),
            Some("A"),
        ),
        (
            "no trigger",
            json!({"name": "w", "nodes": [set("Lonely")]}),
            None,
        ),
        (
            "empty workflow name",
            json!({"name": " ", "nodes": [trigger]}),
            None,
        ),
        (
            "empty node name",
            json!({"name": "w", "nodes": [trigger, set("")]}),
            None,
        ),
    ];
    let head = app.head().await;
    for (what, definition, node) in cases {
        let (status, body) = app.post("/api/v1/workflows", &definition).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("invalid_workflow")),
            "{what}: {body}"
        );
        let message = body["error"]["message"].as_str().expect("message");
        if let Some(node) = node {
            assert!(
                message.contains(node),
                "{what}: message {message:?} names {node}"
            );
            if what != "missing target" && what != "cycle" {
                assert_eq!(body["error"]["details"]["node"], node, "{what}");
            }
        }
    }
    assert_eq!(app.head().await, head);
}

for_each_backend!(
    bad_input_is_refused_and_changes_nothing,
    invalid_workflows_name_the_node,
);
