//! The API answers as its OpenAPI document says: error bodies, documented
//! error statuses, parameter bounds and `consistent_with` beyond the head.
//! Schemathesis checks the same at large (`.ci/schemathesis`); these are the
//! cases it found, pinned so a regression shows up in `cargo test`.

mod support;

use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};
use support::{simple_workflow, Backend, TestApp};

/// The largest log position a store holds, and one past it.
const MAX_POSITION: u64 = i64::MAX as u64;

async fn openapi(app: &TestApp) -> Value {
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200, "{doc}");
    doc
}

/// The schema of query parameter `name` of `method path` in the document.
fn query_schema<'a>(doc: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has parameters"))
        .iter()
        .find(|p| p["name"] == name && p["in"] == "query")
        .map(|p| &p["schema"])
        .unwrap_or_else(|| panic!("{method} {path} documents ?{name}"))
}

async fn errors_without_details_have_no_details_key(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, body) = app
        .get("/api/v1/workflows/0195f3a0-0000-7000-8000-000000000000")
        .await;
    assert_eq!(status, 404, "{body}");
    let error = body["error"].as_object().expect("error object");
    assert_eq!(error["code"], "not_found");
    assert!(
        !error.contains_key("details"),
        "no details means no key, not null: {body}"
    );

    // An error that has details still carries them as an object.
    let (id, _, _) = app
        .create_workflow(&support::simple_workflow("details", &[]))
        .await;
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .header("If-Match", "\"1\"")
                .json(&json!({"name": "x", "nodes": [{"name": "Oops", "type": "sendEmail"}], "connections": {}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"].is_object(), "{body}");

    // The document says the same: details is an optional object.
    let doc = openapi(&app).await;
    let detail = &doc["components"]["schemas"]["ErrorDetail"];
    assert_eq!(
        detail["properties"]["details"]["type"], "object",
        "{detail}"
    );
    let required: Vec<&str> = detail["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, ["code", "message"]);
}

async fn a_body_not_declared_as_json_is_415_as_documented(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = serde_json::to_string(&simple_workflow("plain", &[])).expect("JSON");
    let (status, answer, _) = app
        .send(
            app.http
                .post(app.url("/api/v1/workflows"))
                .header(CONTENT_TYPE, "text/plain")
                .body(body),
        )
        .await;
    assert_eq!(status, 415, "{answer}");
    assert_eq!(answer["error"]["code"], "unsupported_media_type");

    // Every operation that reads a JSON body documents what a bad one gets;
    // webhooks take any body, so they have no 415.
    let doc = openapi(&app).await;
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            if operation.get("requestBody").is_none() || path.ends_with("/webhook/{path}") {
                continue;
            }
            for status in ["400", "413", "415"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} documents {status}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} operations take a body");
}

async fn page_limits_are_what_the_document_says(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let doc = openapi(&app).await;
    for (path, largest) in [
        ("/api/v1/workflows", 500),
        ("/api/v1/executions", 500),
        ("/api/v1/sagas", 500),
        ("/api/v1/audit", 1000),
        ("/api/v1/events", 1000),
    ] {
        let schema = query_schema(&doc, "get", path, "limit");
        assert_eq!(
            (schema["minimum"].as_u64(), schema["maximum"].as_u64()),
            (Some(1), Some(largest)),
            "{path}: {schema}"
        );
        for (limit, expected) in [(0, 400), (1, 200), (largest, 200), (largest + 1, 400)] {
            let (status, body) = app.get(&format!("{path}?limit={limit}")).await;
            assert_eq!(status, expected, "{path}?limit={limit}: {body}");
            if expected == 400 {
                assert_eq!(body["error"]["code"], "invalid_parameter", "{body}");
                assert!(body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&format!("between 1 and {largest}"))));
            }
        }
    }
}

async fn log_positions_beyond_i64_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let doc = openapi(&app).await;
    for (path, name) in [
        ("/api/v1/events", "after"),
        ("/api/v1/audit", "after"),
        ("/api/v1/workflows", "consistent_with"),
        ("/api/v1/executions", "consistent_with"),
    ] {
        let schema = query_schema(&doc, "get", path, name);
        assert_eq!(
            (schema["minimum"].as_u64(), schema["maximum"].as_u64()),
            (Some(0), Some(MAX_POSITION)),
            "{path}?{name}: {schema}"
        );
        let (status, body) = app
            .get(&format!("{path}?{name}={}", MAX_POSITION + 1))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{path}?{name}=2^63: {body}"
        );
    }
    // The largest position is a valid place to start reading: nothing after it.
    for path in ["/api/v1/events", "/api/v1/audit"] {
        let (status, body) = app.get(&format!("{path}?after={MAX_POSITION}")).await;
        assert_eq!(status, 200, "{path}?after=2^63-1: {body}");
    }
}

async fn consistent_with_beyond_the_head_is_409_at_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, position) = app.create_workflow(&simple_workflow("read me", &[])).await;

    // A position a write returned is waited for and read.
    let (status, body) = app
        .get(&format!(
            "/api/v1/workflows/{id}?consistent_with={position}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");

    // One no write has been given yet is refused without waiting out the
    // 5 s consistency timeout, on every read model that takes it.
    let beyond = position + 1000;
    let mut urls: Vec<String> = [
        format!("/api/v1/workflows/{id}"),
        "/api/v1/workflows".to_owned(),
        "/api/v1/executions".to_owned(),
        "/api/v1/sagas".to_owned(),
        "/api/v1/audit".to_owned(),
    ]
    .iter()
    .map(|path| format!("{path}?consistent_with={beyond}"))
    .collect();
    urls.push(format!("/api/v1/workflows?consistent_with={MAX_POSITION}"));
    for url in urls {
        let started = Instant::now();
        let (status, body) = app.get(&url).await;
        let took = started.elapsed();
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("position_beyond_head")),
            "{url}: {body}"
        );
        assert!(took < Duration::from_secs(2), "{url} took {took:?}");
        assert!(body["error"]["details"]["head"].as_u64() >= Some(position));
    }
    let (_, body) = app
        .get(&format!("/api/v1/workflows?consistent_with={beyond}"))
        .await;
    assert_eq!(body["error"]["details"]["position"], beyond, "{body}");

    // And the document lists the 409.
    let doc = openapi(&app).await;
    let responses = &doc["paths"]["/api/v1/workflows"]["get"]["responses"];
    assert!(responses.get("409").is_some(), "{responses}");
}

async fn if_match_takes_exactly_the_documented_forms(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app.create_workflow(&simple_workflow("tagged", &[])).await;
    let activate = |if_match: &'static str| {
        app.send(
            app.http
                .post(app.url(&format!("/api/v1/workflows/{id}/activate")))
                .header("If-Match", if_match),
        )
    };
    for malformed in ["null", "\"\"1\"", "W/1", "1.0", ""] {
        let (status, body, _) = activate(malformed).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_parameter")),
            "If-Match {malformed:?}: {body}"
        );
    }
    // Well formed but no version the workflow is at: a conflict, however large.
    let (status, body, _) = activate("\"123456789012345678901234567890\"").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("version_conflict")),
        "{body}"
    );
    let (status, body, _) = activate("W/\"1\"").await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(2)), "{body}");
}

async fn well_formed_queries_and_bodies_are_read(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // JSON Schema counts 1500.0 as an integer, so the API reads it as one.
    let mut workflow = simple_workflow("whole numbers", &[]);
    workflow["nodes"][1]["timeout_ms"] = json!(1500.0);
    workflow["nodes"][1]["retry"] = json!({"max_tries": 2.0, "wait_ms": 10.0});
    let (status, body) = app.post("/api/v1/workflows", &workflow).await;
    assert_eq!(status, 201, "{body}");

    // A reversed time window is empty, on the audit log as on executions.
    for path in ["/api/v1/audit", "/api/v1/executions"] {
        let (status, body) = app
            .get(&format!(
                "{path}?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z"
            ))
            .await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

/// Every answer is marked as data for browsers; a webhook's answer, which a
/// workflow shapes, gets no content security policy of the API's.
async fn every_answer_carries_the_security_headers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&json!({"name": "hook", "nodes": [
            {"name": "In", "type": "webhook", "parameters": {"path": "headers", "method": "POST", "response_mode": "immediately"}}],
            "connections": {}}))
        .await;
    let (status, body) = app
        .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    for (path, api) in [
        ("/health/live", true),
        ("/api/v1/no-such-route", true),
        ("/api/v1/workflows", true),
        ("/webhook/headers", false),
    ] {
        let request = if api {
            app.http.get(app.url(path))
        } else {
            app.http.post(app.url(path)).json(&json!({}))
        };
        let (status, _, headers) = app.send(request).await;
        assert!(status < 500, "{path}: {status}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(
            headers
                .get("content-security-policy")
                .map(|v| v.to_str().unwrap_or_default()),
            api.then_some("default-src 'none'; frame-ancestors 'none'"),
            "{path}"
        );
    }
}

for_each_backend!(
    every_answer_carries_the_security_headers,
    errors_without_details_have_no_details_key,
    a_body_not_declared_as_json_is_415_as_documented,
    page_limits_are_what_the_document_says,
    log_positions_beyond_i64_are_refused,
    consistent_with_beyond_the_head_is_409_at_once,
    if_match_takes_exactly_the_documented_forms,
    well_formed_queries_and_bodies_are_read,
);
