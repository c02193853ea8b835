//! Nodes that fail: retries with growing waits against a flaky server,
//! runaway scripts, bad parameters and oversized responses fail their node
//! and leave the server serving.

use super::*;

async fn http_request_retries_with_growing_waits(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (server, url) = FlakyServer::start(2).await;
    let (id, _, _) = app
        .create_workflow(&json!({"name": "retry", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Call", "type": "http_request", "parameters": {"method": "POST", "url": url, "body": {"hello": "{{ $json.who }}"}},
             "retry": {"max_tries": 3, "wait_ms": 200, "backoff": "exponential"}}],
            "connections": {"Start": {"main": [[{"node": "Call"}]]}}}))
        .await;
    let (status, run) = app
        .post(
            &format!("/api/v1/workflows/{id}/executions?wait=true"),
            &json!({"input": [{"who": "world"}]}),
        )
        .await;
    assert_eq!(
        (status, run["status"].as_str()),
        (200, Some("succeeded")),
        "{run}"
    );
    assert_eq!(run["output"][0][0]["ok"], true);

    let calls = server.calls();
    assert_eq!(calls.len(), 3, "failed twice, then succeeded");
    let first_wait = calls[1].0 - calls[0].0;
    let second_wait = calls[2].0 - calls[1].0;
    assert!(
        second_wait > first_wait,
        "waits grow: {first_wait:?} then {second_wait:?}"
    );
    assert!(
        first_wait >= Duration::from_millis(100),
        "jitter takes at most half of 200 ms: {first_wait:?}"
    );
    let keys: Vec<&str> = calls.iter().map(|(_, key)| key.as_str()).collect();
    let execution_id = run["execution_id"].as_str().expect("id");
    assert_eq!(
        keys,
        [1, 2, 3]
            .map(|attempt| format!("{execution_id}:Call:{attempt}:0"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );

    let (_, detail) = app.get(&format!("/api/v1/executions/{execution_id}")).await;
    let call = detail["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["node"] == "Call")
        .expect("Call ran");
    assert_eq!(call["attempts"].as_array().map(Vec::len), Some(3), "{call}");
    assert_eq!(call["attempts"][0]["error"]["code"], "http_status");
}

async fn runaway_scripts_fail_their_node_and_the_server_keeps_serving(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cases = [
        (
            "loop",
            json!({"name": "Spin", "type": "set", "parameters": {"fields": {"x": "{{ while(true){} }}"}}}),
            "expression_timeout",
        ),
        (
            "bomb",
            json!({"name": "Spin", "type": "code", "parameters": {"js": "let a = []; while (true) a.push(new Array(1e6).fill(1));"}}),
            "expression_memory",
        ),
    ];
    for (what, node, code) in cases {
        let (id, _, _) = app
            .create_workflow(
                &json!({"name": what, "nodes": [{"name": "Start", "type": "manual_trigger"}, node],
                "connections": {"Start": {"main": [[{"node": "Spin"}]]}}}),
            )
            .await;
        let started = Instant::now();
        let (status, run) = app
            .post(
                &format!("/api/v1/workflows/{id}/executions?wait=true"),
                &json!({}),
            )
            .await;
        assert_eq!(
            (status, run["status"].as_str()),
            (200, Some("failed")),
            "{what}: {run}"
        );
        assert_eq!(run["failure"]["node"], "Spin", "{what}");
        assert_eq!(run["failure"]["error"]["code"], code, "{what}: {run}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what} was stopped by its limit"
        );
        let (status, _) = app.get("/health/ready").await;
        assert_eq!(status, 200, "{what}: the server keeps serving");
    }
}

/// Regression: parameters that once panicked a node's task (and left its
/// execution hanging) now fail the node with a clear error.
async fn bad_parameters_fail_the_node_instead_of_hanging(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let cases = [
        (
            "switch",
            json!({"name": "Bad", "type": "switch", "parameters": {"rules": "{{ [false, true] }}"}}),
        ),
        (
            "wait",
            json!({"name": "Bad", "type": "wait", "parameters": {"duration_ms": 9_000_000_000_000_000_000_u64}}),
        ),
    ];
    for (what, node) in cases {
        let (id, _, _) = app
            .create_workflow(
                &json!({"name": what, "nodes": [{"name": "Start", "type": "manual_trigger"}, node],
                "connections": {"Start": {"main": [[{"node": "Bad"}]]}}}),
            )
            .await;
        let (status, run) = app
            .post(
                &format!("/api/v1/workflows/{id}/executions?wait=true&timeout_ms=10000"),
                &json!({}),
            )
            .await;
        assert_eq!(
            (status, run["status"].as_str()),
            (200, Some("failed")),
            "{what}: {run}"
        );
        assert_eq!(
            run["failure"]["error"]["code"], "parameters",
            "{what}: {run}"
        );
    }
}

/// Regression: a response body was read whole into memory (and the event log)
/// whatever its size.
async fn an_oversized_http_response_fails_its_node(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (_server, url) = FlakyServer::start(0).await;
    for (limit, expected) in [(10, "failed"), (1000, "succeeded")] {
        let (id, _, _) = app
            .create_workflow(&json!({"name": "big", "nodes": [
                {"name": "Start", "type": "manual_trigger"},
                {"name": "Call", "type": "http_request",
                 "parameters": {"method": "POST", "url": url, "max_response_bytes": limit}}],
                "connections": {"Start": {"main": [[{"node": "Call"}]]}}}))
            .await;
        let (_, run) = app
            .post(
                &format!("/api/v1/workflows/{id}/executions?wait=true"),
                &json!({}),
            )
            .await;
        assert_eq!(run["status"], expected, "limit {limit}: {run}");
        if expected == "failed" {
            assert_eq!(
                run["failure"]["error"]["code"], "http_response_too_large",
                "{run}"
            );
        }
    }
}

for_each_backend!(
    http_request_retries_with_growing_waits,
    runaway_scripts_fail_their_node_and_the_server_keeps_serving,
    bad_parameters_fail_the_node_instead_of_hanging,
    an_oversized_http_response_fails_its_node,
);
