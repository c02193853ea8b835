//! The engine's controls, through the HTTP API on both stores: sub-workflows,
//! retry from the failed node, the live event stream (SSE), and the workflow
//! settings — time limit, concurrency cap, error workflow.

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use support::{eventually, flaky_server::FlakyServer, Backend, TestApp};

/// Polls an execution until its status is final; panics after `within`.
async fn wait_until_finished(app: &TestApp, execution: &str, within: Duration) -> Value {
    let what = format!("execution {execution} finishes");
    eventually(within, &what, || async {
        let (status, detail) = app.get(&format!("/api/v1/executions/{execution}")).await;
        assert_eq!(status, 200, "{detail}");
        ["succeeded", "failed", "cancelled"]
            .contains(&detail["status"].as_str().unwrap_or(""))
            .then_some(detail)
    })
    .await
}

async fn start(app: &TestApp, workflow: &str, input: Value) -> String {
    let (status, started) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions"),
            &json!({ "input": input }),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    started["execution_id"].as_str().expect("id").to_owned()
}

async fn run_to_end(app: &TestApp, workflow: &str, input: Value) -> Value {
    let (status, run) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions?wait=true"),
            &json!({ "input": input }),
        )
        .await;
    assert_eq!(status, 200, "the run ends in time: {run}");
    run
}

/// The executions of a workflow, once the list has caught up with the log.
async fn executions_of(app: &TestApp, workflow: &str) -> Vec<Value> {
    let head = app.head().await;
    let (status, page) = app
        .get(&format!(
            "/api/v1/executions?workflow_id={workflow}&consistent_with={head}"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

fn node<'a>(detail: &'a Value, name: &str) -> Option<&'a Value> {
    detail["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["node"] == name)
}

async fn a_sub_workflow_returns_its_output_to_the_caller(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (child, _, _) = app
        .create_workflow(&json!({"name": "double", "nodes": [
            {"name": "In", "type": "manual_trigger"},
            {"name": "Double", "type": "set", "parameters": {"fields": {"doubled": "{{ $json.x * 2 }}"}}}],
            "connections": {"In": {"main": [[{"node": "Double"}]]}}}))
        .await;
    let (caller, _, _) = app
        .create_workflow(&json!({"name": "caller", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Call", "type": "execute_workflow", "parameters": {"workflow_id": child}},
            {"name": "After", "type": "set", "parameters": {"fields": {"seen": "{{ $json.doubled + 1 }}"}}}],
            "connections": {"Start": {"main": [[{"node": "Call"}]]}, "Call": {"main": [[{"node": "After"}]]}}}))
        .await;
    let run = run_to_end(&app, &caller, json!([{"x": 2}, {"x": 5}])).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let seen: Vec<&Value> = run["output"][0]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| &item["seen"])
        .collect();
    assert_eq!(seen, [&json!(5), &json!(11)], "{run}");

    let children = executions_of(&app, &child).await;
    assert_eq!(children.len(), 1, "one child execution: {children:?}");
    assert_eq!(children[0]["trigger"], "sub_workflow");
    let child_id = children[0]["id"].as_str().expect("id");
    let (_, child_detail) = app.get(&format!("/api/v1/executions/{child_id}")).await;
    assert_eq!(
        child_detail["trigger"]["details"]["parent_execution_id"],
        run["execution_id"]
    );

    // A failing sub-workflow fails the calling node, with the child's reason.
    let (failing, _, _) = app
        .create_workflow(&json!({"name": "refuse", "nodes": [
            {"name": "In", "type": "manual_trigger"},
            {"name": "No", "type": "stop_and_error", "parameters": {"message": "out of stock"}}],
            "connections": {"In": {"main": [[{"node": "No"}]]}}}))
        .await;
    let (caller, _, _) = app
        .create_workflow(&json!({"name": "caller of a failure", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Call", "type": "execute_workflow", "parameters": {"workflow_id": failing}}],
            "connections": {"Start": {"main": [[{"node": "Call"}]]}}}))
        .await;
    let run = run_to_end(&app, &caller, json!([{}])).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["failure"]["node"], "Call");
    assert_eq!(run["failure"]["error"]["code"], "sub_workflow_failed");
    let message = run["failure"]["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("out of stock"), "{message}");

    // An unknown workflow fails the node at once.
    let (caller, _, _) = app
        .create_workflow(&json!({"name": "caller of nothing", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Call", "type": "execute_workflow",
             "parameters": {"workflow_id": "0190f1c2-0000-7000-8000-00000000dead"}}],
            "connections": {"Start": {"main": [[{"node": "Call"}]]}}}))
        .await;
    let run = run_to_end(&app, &caller, json!([{}])).await;
    assert_eq!(
        (
            run["status"].as_str(),
            run["failure"]["error"]["code"].as_str()
        ),
        (Some("failed"), Some("workflow_not_found")),
        "{run}"
    );
}

async fn a_retry_reuses_what_succeeded_and_runs_from_the_failed_node(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (before, before_url) = FlakyServer::start(0).await;
    let (flaky, flaky_url) = FlakyServer::start(1).await;
    let (id, _, _) = app
        .create_workflow(&json!({"name": "book", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Reserve", "type": "http_request", "parameters": {"method": "POST", "url": before_url}},
            {"name": "Pay", "type": "http_request", "parameters": {"method": "POST", "url": flaky_url}},
            {"name": "Done", "type": "set", "parameters": {"fields": {"paid": "{{ $json.ok }}"}}}],
            "connections": {"Start": {"main": [[{"node": "Reserve"}]]},
                            "Reserve": {"main": [[{"node": "Pay"}]]},
                            "Pay": {"main": [[{"node": "Done"}]]}}}))
        .await;
    let run = run_to_end(&app, &id, json!([{"order": 7}])).await;
    assert_eq!(
        (run["status"].as_str(), run["failure"]["node"].as_str()),
        (Some("failed"), Some("Pay")),
        "{run}"
    );
    let failed = run["execution_id"].as_str().expect("id");

    let (status, retry) = app
        .post(&format!("/api/v1/executions/{failed}/retry"), &json!({}))
        .await;
    assert_eq!(status, 202, "{retry}");
    assert_eq!(retry["retry_of"], failed);
    let retried = retry["execution_id"].as_str().expect("id");
    let detail = wait_until_finished(&app, retried, Duration::from_secs(20)).await;
    assert_eq!(detail["status"], "succeeded", "{detail}");
    assert_eq!(detail["output"][0][0]["paid"], true, "{detail}");
    assert_eq!(before.calls().len(), 1, "Reserve's output was reused");
    assert_eq!(flaky.calls().len(), 2, "Pay ran again");
    assert_eq!(detail["trigger"]["kind"], "retry");
    assert_eq!(detail["trigger"]["details"]["retry_of"], failed);
    assert!(node(&detail, "Reserve").is_none(), "{detail}");
    assert!(node(&detail, "Pay").is_some(), "{detail}");

    // Only a failed or cancelled execution can be retried, and nothing is recorded otherwise.
    let head = app.head().await;
    let (status, body) = app
        .post(&format!("/api/v1/executions/{retried}/retry"), &json!({}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_retryable")),
        "{body}"
    );
    let (status, _) = app
        .post(
            "/api/v1/executions/0190f1c2-0000-7000-8000-00000000beef/retry",
            &json!({}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.head().await, head);
}

/// One Server-Sent Event: (id, event type, data).
type Sse = (u64, String, Value);

/// Reads a whole SSE response until the server closes it.
async fn read_sse(app: &TestApp, execution: &str, last_event_id: Option<u64>) -> (u16, Vec<Sse>) {
    let mut request =
        reqwest::Client::new().get(app.url(&format!("/api/v1/executions/{execution}/stream")));
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let mut response = request.send().await.expect("stream request");
    let status = response.status().as_u16();
    if status != 200 {
        return (status, Vec::new());
    }
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("text/event-stream")
    );
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = response.chunk().await.expect("chunk") {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the stream ends after the execution's last event");
    let events = text
        .split("\n\n")
        .filter_map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(&format!("{name}: ")))
                    .map(str::to_owned)
            };
            Some((
                field("id")?.parse().ok()?,
                field("event")?,
                serde_json::from_str(&field("data")?).ok()?,
            ))
        })
        .collect();
    (status, events)
}

async fn an_execution_streams_its_events_live(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&json!({"name": "paced", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Pause", "type": "wait", "parameters": {"duration_ms": 400}},
            {"name": "Done", "type": "noop"}],
            "connections": {"Start": {"main": [[{"node": "Pause"}]]}, "Pause": {"main": [[{"node": "Done"}]]}}}))
        .await;
    let execution = start(&app, &id, json!([{"n": 1}])).await;
    let (status, events) = read_sse(&app, &execution, None).await;
    assert_eq!(status, 200);
    let ids: Vec<u64> = events.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(
        ids,
        (1..=ids.len() as u64).collect::<Vec<_>>(),
        "{events:?}"
    );
    let types: Vec<&str> = events.iter().map(|(_, kind, _)| kind.as_str()).collect();
    assert_eq!(types.first(), Some(&"ExecutionRequested"), "{types:?}");
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"), "{types:?}");
    assert!(
        types.contains(&"NodeWaiting") && types.contains(&"NodeResumed"),
        "{types:?}"
    );
    let (_, kind, data) = &events[0];
    assert_eq!(data["event_type"], kind.as_str(), "{data}");
    assert_eq!(data["version"], 1, "{data}");

    // A client that reconnects with Last-Event-ID gets only what it missed.
    let (_, rest) = read_sse(&app, &execution, Some(2)).await;
    assert_eq!(rest.as_slice(), &events[2..]);
    // Regression: reconnecting after the final event waited forever.
    let (status, none) = read_sse(&app, &execution, Some(events.len() as u64)).await;
    assert_eq!((status, none.len()), (200, 0));

    let (status, _) = read_sse(&app, "0190f1c2-0000-7000-8000-00000000f00d", None).await;
    assert_eq!(status, 404);
    let response = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/executions/{execution}/stream")))
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

/// A workflow that runs one execution at a time, each pausing `pause_ms`.
async fn one_at_a_time(app: &TestApp, pause_ms: u64) -> String {
    let (id, _, _) = app
        .create_workflow(
            &json!({"name": "one at a time", "settings": {"max_concurrent_executions": 1},
            "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Pause", "type": "wait", "parameters": {"duration_ms": pause_ms}}],
            "connections": {"Start": {"main": [[{"node": "Pause"}]]}}}),
        )
        .await;
    id
}

async fn a_concurrency_cap_queues_the_excess_in_request_order(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let id = one_at_a_time(&app, 300).await;
    let mut executions = Vec::new();
    for n in 0..3 {
        executions.push(start(&app, &id, json!([{ "n": n }])).await);
    }
    // While the first runs, the last waits its turn, listed as queued.
    eventually(
        Duration::from_secs(5),
        "the last is listed as queued",
        || async {
            let head = app.head().await;
            let (_, page) = app
                .get(&format!(
                    "/api/v1/executions?workflow_id={id}&status=queued&consistent_with={head}"
                ))
                .await;
            page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item["id"].as_str())
                .any(|queued| queued == executions[2])
        },
    )
    .await;
    let (_, detail) = app
        .get(&format!("/api/v1/executions/{}", executions[2]))
        .await;
    assert_eq!(detail["status"], "queued", "{detail}");
    let mut spans = Vec::new();
    for execution in &executions {
        let detail = wait_until_finished(&app, execution, Duration::from_secs(20)).await;
        assert_eq!(detail["status"], "succeeded", "{detail}");
        let start = node(&detail, "Start").expect("Start ran");
        let pause = node(&detail, "Pause").expect("Pause ran");
        spans.push((
            time(&start["attempts"][0]["started_at"]),
            time(&pause["attempts"][0]["finished_at"]),
        ));
    }
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "the next execution starts only after the previous one finished: {spans:?}"
        );
    }
    // Held back once each, and the first not at all.
    for (execution, times_queued) in executions.iter().zip([0, 1, 1]) {
        let (_, stream) = app
            .get(&format!("/api/v1/streams/execution/{execution}"))
            .await;
        let queued = stream["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["event_type"] == "ExecutionQueued")
            .count();
        assert_eq!(queued, times_queued, "{stream}");
    }
}

async fn a_run_past_its_time_limit_fails_and_starts_the_error_workflow(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (handler, _, _) = app
        .create_workflow(&json!({"name": "on failure", "nodes": [
            {"name": "Failed", "type": "error_trigger"},
            {"name": "Note", "type": "set", "parameters": {"fields": {
                "failed": "{{ $json.execution.id }}", "why": "{{ $json.execution.error.code }}"}}}],
            "connections": {"Failed": {"main": [[{"node": "Note"}]]}}}))
        .await;
    let (slow, _, _) = app
        .create_workflow(&json!({"name": "slow", "settings": {"execution_timeout_ms": 300, "error_workflow": handler},
            "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Pause", "type": "wait", "parameters": {"duration_ms": 60000}}],
            "connections": {"Start": {"main": [[{"node": "Pause"}]]}}}))
        .await;
    let began = Instant::now();
    let run = run_to_end(&app, &slow, json!([{}])).await;
    assert_eq!(
        (
            run["status"].as_str(),
            run["failure"]["error"]["code"].as_str()
        ),
        (Some("failed"), Some("execution_timeout")),
        "{run}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "{:?}",
        began.elapsed()
    );
    let failed = run["execution_id"].as_str().expect("id");

    let handled = eventually(
        Duration::from_secs(20),
        "the error workflow runs",
        || async {
            let runs = executions_of(&app, &handler).await;
            let done = runs.iter().find(|r| r["status"] == "succeeded")?;
            assert_eq!(runs.len(), 1, "one error run per failure: {runs:?}");
            Some(done["id"].as_str().expect("id").to_owned())
        },
    )
    .await;
    let (_, detail) = app.get(&format!("/api/v1/executions/{handled}")).await;
    assert_eq!(detail["trigger"]["kind"], "error_workflow", "{detail}");
    assert_eq!(detail["trigger"]["node"], "Failed", "{detail}");
    assert_eq!(
        detail["output"][0][0],
        json!({"failed": failed, "why": "execution_timeout"}),
        "{detail}"
    );

    // Settings FlowForge cannot use are refused with the key named; nothing is recorded.
    let head = app.head().await;
    let (status, body) = app
        .post(
            "/api/v1/workflows",
            &json!({"name": "bad", "settings": {"max_concurrent_executions": 0},
                    "nodes": [{"name": "Start", "type": "manual_trigger"}]}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_workflow")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("max_concurrent_executions")),
        "{body}"
    );
    assert_eq!(app.head().await, head);
}

/// A workflow that calls itself stops at the depth limit instead of starting
/// executions forever: the deepest call fails with `sub_workflow_depth`, and
/// every caller above it fails in turn.
async fn a_workflow_that_calls_itself_stops_at_the_depth_limit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let recursive = |target: &str| {
        json!({"name": "recursive", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Again", "type": "execute_workflow", "parameters": {"workflow_id": target}}],
            "connections": {"Start": {"main": [[{"node": "Again"}]]}}})
    };
    let (id, _, _) = app
        .create_workflow(&recursive("0190f1c2-0000-7000-8000-00000000dead"))
        .await;
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .header("If-Match", "*")
                .json(&recursive(&id)),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let run = run_to_end(&app, &id, json!([{}])).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["failure"]["error"]["code"], "sub_workflow_failed");

    let runs = executions_of(&app, &id).await;
    let levels =
        usize::try_from(flowforge_domain::execution::MAX_SUB_WORKFLOW_DEPTH).expect("small") + 1;
    assert_eq!(
        runs.len(),
        levels,
        "one execution per level, 0 to the limit"
    );
    assert!(runs.iter().all(|r| r["status"] == "failed"), "{runs:?}");
    let mut deepest = Vec::new();
    for summary in &runs {
        let (_, detail) = app
            .get(&format!(
                "/api/v1/executions/{}",
                summary["id"].as_str().expect("id")
            ))
            .await;
        if detail["failure"]["error"]["code"] == "sub_workflow_depth" {
            deepest.push(detail);
        }
    }
    assert_eq!(deepest.len(), 1, "only the deepest call hits the limit");
}

/// A queued execution outlives a restart: the new orchestrator finds it by
/// its `queued` status and runs it once a slot frees.
async fn a_queued_execution_runs_after_a_restart(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    let id = one_at_a_time(&app, 500).await;
    let first = start(&app, &id, json!([{}])).await;
    let second = start(&app, &id, json!([{}])).await;
    eventually(Duration::from_secs(5), "the second is queued", || async {
        let (_, detail) = app.get(&format!("/api/v1/executions/{second}")).await;
        let head = app.head().await;
        let (_, page) = app
            .get(&format!(
                "/api/v1/executions?status=queued&consistent_with={head}"
            ))
            .await;
        detail["status"] == "queued" && page["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    app.restart().await;
    for execution in [&first, &second] {
        let detail = wait_until_finished(&app, execution, Duration::from_secs(20)).await;
        assert_eq!(detail["status"], "succeeded", "{detail}");
    }
}

for_each_backend!(
    a_queued_execution_runs_after_a_restart,
    a_workflow_that_calls_itself_stops_at_the_depth_limit,
    a_sub_workflow_returns_its_output_to_the_caller,
    a_retry_reuses_what_succeeded_and_runs_from_the_failed_node,
    an_execution_streams_its_events_live,
    a_concurrency_cap_queues_the_excess_in_request_order,
    a_run_past_its_time_limit_fails_and_starts_the_error_workflow,
);
