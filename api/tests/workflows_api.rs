//! The workflow API as a user drives it, on PostgreSQL and on the embedded store.

mod support;

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH};
use serde_json::{json, Value};
use support::{eventually, simple_workflow, Backend, TestApp};

async fn create_activate_read_update_and_archive(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, version, position) = app
        .create_workflow(&simple_workflow("greeter", &["demo"]))
        .await;
    assert_eq!(version, 1);

    let (status, body) = app
        .get(&format!(
            "/api/v1/workflows/{id}?consistent_with={position}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["name"].as_str(),
            body["status"].as_str(),
            body["active"].as_bool()
        ),
        (Some("greeter"), Some("inactive"), Some(false))
    );
    assert_eq!(body["tags"], json!(["demo"]));
    assert_eq!(body["definition"]["nodes"][1]["type"], "set");

    let (status, body) = app
        .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(2)), "{body}");
    let activated_at = body["position"].as_u64().expect("position");

    let (status, page) = app
        .get(&format!(
            "/api/v1/workflows?active=true&tag=demo&consistent_with={activated_at}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["items"][0]["id"], id.as_str());
    let (_, inactive) = app.get("/api/v1/workflows?active=false").await;
    assert_eq!(inactive["items"], json!([]));
    let (_, other_tag) = app.get("/api/v1/workflows?tag=other").await;
    assert_eq!(other_tag["items"], json!([]));

    // A stale If-Match is refused with the current version, and changes nothing.
    let mut update = simple_workflow("greeter v2", &["demo", "v2"]);
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .header(IF_MATCH, "\"1\"")
                .json(&update),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "version_conflict");
    assert_eq!(body["error"]["details"]["current_version"], 2);

    // `If-Match: *` changes whatever version is current.
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .header(IF_MATCH, "*")
                .json(&simple_workflow("greeter", &["demo"])),
        )
        .await;
    assert_eq!(
        (status, body["version"].as_u64()),
        (200, Some(2)),
        "identical definition: no new version: {body}"
    );

    update["expected_version"] = json!(2);
    let (status, body, headers) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .json(&update),
        )
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(3)), "{body}");
    assert_eq!(
        headers.get(ETAG).and_then(|v| v.to_str().ok()),
        Some("\"3\"")
    );
    let updated_at = body["position"].as_u64().expect("position");
    let (_, body) = app
        .get(&format!(
            "/api/v1/workflows/{id}?consistent_with={updated_at}"
        ))
        .await;
    assert_eq!(
        (
            body["name"].as_str(),
            body["definition_version"].as_u64(),
            body["status"].as_str()
        ),
        (Some("greeter v2"), Some(2), Some("active"))
    );

    let (status, body, _) = app
        .send(app.http.delete(app.url(&format!("/api/v1/workflows/{id}"))))
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(4)), "{body}");
    let archived_at = body["position"].as_u64().expect("position");
    let (_, listed) = app
        .get(&format!("/api/v1/workflows?consistent_with={archived_at}"))
        .await;
    assert_eq!(
        listed["items"],
        json!([]),
        "archived workflows are not listed by default"
    );
    let (_, listed) = app.get("/api/v1/workflows?include_archived=true").await;
    assert_eq!(listed["items"][0]["status"], "archived");
    let (status, body) = app
        .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("workflow_archived"))
    );

    // The history is exactly the events that made it what it is.
    let (status, stream) = app.get(&format!("/api/v1/streams/workflow/{id}")).await;
    assert_eq!(status, 200);
    let types: Vec<&str> = stream["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "WorkflowCreated",
            "WorkflowActivated",
            "WorkflowDefinitionUpdated",
            "WorkflowArchived"
        ]
    );
    let versions: Vec<u64> = stream["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["version"].as_u64())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    assert_eq!(stream["events"][0]["metadata"]["tenant_id"], "default");

    let (_, log) = app.get("/api/v1/events?after=1&limit=2").await;
    let positions: Vec<u64> = log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["position"].as_u64())
        .collect();
    assert_eq!(
        (positions, log["next_after"].as_u64(), log["head"].as_u64()),
        (vec![2, 3], Some(3), Some(4))
    );
}

async fn paging_walks_every_workflow_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut created = Vec::new();
    let mut last = 0;
    for n in 0..7 {
        let (id, _, position) = app
            .create_workflow(&simple_workflow(&format!("w{n}"), &[]))
            .await;
        created.push(id);
        last = position;
    }
    let mut seen = Vec::new();
    let mut query = format!("/api/v1/workflows?limit=3&consistent_with={last}");
    loop {
        let (status, page) = app.get(&query).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|w| w["id"].as_str().map(str::to_owned)),
        );
        match page["next_after"].as_str() {
            Some(after) => query = format!("/api/v1/workflows?limit=3&after={after}"),
            None => break,
        }
    }
    assert_eq!(seen, created);
}

async fn metadata_comes_from_the_request(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let correlation = "0195f3a0-0000-7000-8000-000000000001";
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (status, body, headers) = app
        .send(
            app.http
                .post(app.url("/api/v1/workflows"))
                .header("x-actor", "alice")
                .header("x-correlation-id", correlation)
                .header("traceparent", traceparent)
                .json(&simple_workflow("traced", &[])),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(headers["x-correlation-id"], correlation);
    let (_, stream) = app
        .get(&format!(
            "/api/v1/streams/workflow/{}",
            body["id"].as_str().expect("id")
        ))
        .await;
    let metadata = &stream["events"][0]["metadata"];
    assert_eq!(
        (
            metadata["actor"].as_str(),
            metadata["correlation_id"].as_str(),
            metadata["traceparent"].as_str()
        ),
        (Some("alice"), Some(correlation), Some(traceparent))
    );

    // Without one, the request gets a correlation id of its own: returned to
    // the caller and recorded with the events.
    let (status, body, headers) = app
        .send(
            app.http
                .post(app.url("/api/v1/workflows"))
                .header("x-correlation-id", "not-a-uuid")
                .json(&simple_workflow("uncorrelated", &[])),
        )
        .await;
    assert_eq!(status, 201);
    let made = headers["x-correlation-id"].to_str().expect("ASCII");
    assert!(uuid::Uuid::parse_str(made).is_ok(), "{made}");
    let (_, stream) = app
        .get(&format!(
            "/api/v1/streams/workflow/{}",
            body["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(stream["events"][0]["metadata"]["correlation_id"], made);
}

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

async fn restart_loses_nothing(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&simple_workflow("durable", &["keep"]))
        .await;
    let (_, activated) = app
        .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
        .await;
    let position = activated["position"].as_u64().expect("position");
    let (_, before) = app
        .get(&format!(
            "/api/v1/workflows/{id}?consistent_with={position}"
        ))
        .await;
    let (_, history_before) = app.get(&format!("/api/v1/streams/workflow/{id}")).await;

    app.restart().await;

    let (status, after) = app
        .get(&format!(
            "/api/v1/workflows/{id}?consistent_with={position}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(after, before);
    let (_, history_after) = app.get(&format!("/api/v1/streams/workflow/{id}")).await;
    assert_eq!(history_after, history_before);
    let (_, ready) = app.get("/health/ready").await;
    assert_eq!(
        ready["checks"]["projections"]["workflows"], position,
        "resumed at its checkpoint"
    );
    // And it keeps working after the restart.
    let (second, _, _) = app
        .create_workflow(&simple_workflow("after restart", &[]))
        .await;
    assert_ne!(second, id);
}

async fn health_and_openapi(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(
        app.get("/health/live").await,
        (200, json!({"status": "ok"}))
    );
    // Ready once the executions earlier processes left open are resumed,
    // which on a busy machine can take a moment after the listener is up.
    let ready = eventually(Duration::from_secs(30), "the instance is ready", || async {
        let (status, ready) = app.get("/health/ready").await;
        (status == 200).then_some(ready)
    })
    .await;
    assert_eq!(ready["checks"]["store"], "ok", "{ready}");

    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let expected = [
        ("/api/v1/workflows", vec!["get", "post"]),
        ("/api/v1/workflows/{id}", vec!["delete", "get", "put"]),
        ("/api/v1/workflows/{id}/activate", vec!["post"]),
        ("/api/v1/workflows/{id}/deactivate", vec!["post"]),
        ("/api/v1/streams/{aggregate_type}/{id}", vec!["get"]),
        ("/api/v1/events", vec!["get"]),
        ("/api/v1/audit", vec!["get"]),
        ("/api/v1/workflows/{id}/executions", vec!["post"]),
        ("/api/v1/executions", vec!["get"]),
        ("/api/v1/executions/{id}", vec!["get"]),
        ("/api/v1/executions/{id}/cancel", vec!["post"]),
        ("/api/v1/executions/{id}/resume/{token}", vec!["post"]),
        ("/api/v1/executions/{id}/retry", vec!["post"]),
        ("/api/v1/executions/{id}/stream", vec!["get"]),
        ("/api/v1/sagas", vec!["get"]),
        ("/api/v1/sagas/{id}", vec!["get"]),
        ("/api/v1/sagas/{id}/retry", vec!["post"]),
        ("/api/v1/sagas/{id}/skip-step", vec!["post"]),
        ("/webhook/{path}", vec!["post"]),
        ("/api/v1/projections", vec!["get"]),
        ("/api/v1/openapi.json", vec!["get"]),
        ("/metrics", vec!["get"]),
        ("/health/live", vec!["get"]),
        ("/health/ready", vec!["get"]),
    ];
    let paths = doc["paths"].as_object().expect("paths");
    assert_eq!(
        paths.len(),
        expected.len(),
        "documented paths: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (path, methods) in expected {
        let mut documented: Vec<&str> = paths[path]
            .as_object()
            .expect(path)
            .keys()
            .map(String::as_str)
            .collect();
        documented.sort_unstable();
        assert_eq!(documented, methods, "{path}");
        // Every documented route answers (anything but the router's own 404/405).
        for method in methods {
            let url = app.url(
                &path
                    .replace("{id}", "0195f3a0-0000-7000-8000-000000000000")
                    .replace("{aggregate_type}", "workflow")
                    .replace("{path}", "nothing-here")
                    .replace("{token}", "no-such-token"),
            );
            let request = app
                .http
                .request(method.to_uppercase().parse().expect("method"), url)
                .json(&json!({}));
            let response = request.send().await.expect("request reaches the server");
            let status = response.status().as_u16();
            // `/metrics` answers text, every other route JSON.
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            assert!(
                status != 405 && !(status == 404 && body["error"]["message"] == "route not found"),
                "{method} {path}: {status}"
            );
        }
    }
}

for_each_backend!(
    create_activate_read_update_and_archive,
    paging_walks_every_workflow_once,
    metadata_comes_from_the_request,
    bad_input_is_refused_and_changes_nothing,
    invalid_workflows_name_the_node,
    restart_loses_nothing,
    health_and_openapi,
);
