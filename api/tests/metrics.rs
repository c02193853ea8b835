//! `/metrics` after a workload — a webhook run, a version conflict, a failing
//! node — holds each metric family with sane values, and `promtool check
//! metrics` (Debian's `prometheus` package) accepts the output.

mod support;

use std::{
    io::Write,
    process::{Command, Stdio},
    time::Duration,
};

use flowforge_infra::test_support::services_required;
use serde_json::{json, Value};
use support::{eventually, Backend, TestApp};

/// The value of the sample `name{labels}` (labels as they print, in order),
/// if the exposition has it.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (series == name_and_labels).then(|| value.parse().ok())?
        })
}

async fn scrape(app: &TestApp) -> String {
    let response = reqwest::get(app.url("/metrics")).await.expect("scrape");
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        response.headers()["content-type"]
    );
    response.text().await.expect("body")
}

async fn metrics_cover_requests_commands_store_executions_and_nodes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (sum, _, _) = app
        .create_workflow(&json!({"name": "sum", "nodes": [
            {"name": "Start", "type": "webhook", "parameters": {"path": "metrics-sum", "method": "POST", "response_mode": "last_node"}},
            {"name": "Total", "type": "set", "parameters": {"fields": {"total": "{{ $json.body.a + $json.body.b }}"}}}],
            "connections": {"Start": {"main": [[{"node": "Total"}]]}}}))
        .await;
    let (status, _) = app
        .post(&format!("/api/v1/workflows/{sum}/activate"), &Value::Null)
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .post("/webhook/metrics-sum", &json!({"a": 1, "b": 2}))
        .await;
    assert_eq!((status, body), (200, json!({"total": 3})));
    // A stale version: a conflict.
    let (status, _, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{sum}")))
                .header("If-Match", "\"1\"")
                .json(&support::simple_workflow("stale", &[])),
        )
        .await;
    assert_eq!(status, 409);
    // A failing node.
    let (failing, _, _) = app
        .create_workflow(&json!({"name": "fails", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "No", "type": "stop_and_error", "parameters": {"message": "no"}}],
            "connections": {"Start": {"main": [[{"node": "No"}]]}}}))
        .await;
    let (_, run) = app
        .post(
            &format!("/api/v1/workflows/{failing}/executions?wait=true"),
            &json!({}),
        )
        .await;
    assert_eq!(run["status"], "failed", "{run}");

    // The orchestrator counts an ending once it has seen it.
    let text = eventually(
        Duration::from_secs(10),
        "finished executions are counted",
        || async {
            let text = scrape(&app).await;
            let counted = |status: &str| {
                let name = format!("flowforge_executions_finished_total{{status=\"{status}\"}}");
                sample(&text, &name).is_some()
            };
            (counted("failed") && counted("succeeded")).then_some(text)
        },
    )
    .await;
    let at_least_one = [
        r#"flowforge_http_requests_total{method="POST",route="/webhook/{*path}",status="200"}"#,
        r#"flowforge_http_requests_total{method="PUT",route="/api/v1/workflows/{id}",status="409"}"#,
        r#"flowforge_http_request_duration_seconds_count{method="POST",route="/api/v1/workflows"}"#,
        r#"flowforge_commands_total{aggregate="workflow",outcome="ok"}"#,
        r#"flowforge_commands_total{aggregate="workflow",outcome="conflict"}"#,
        r#"flowforge_commands_total{aggregate="execution",outcome="ok"}"#,
        r#"flowforge_command_duration_seconds_count{aggregate="execution"}"#,
        "flowforge_events_appended_total",
        r#"flowforge_executions_started_total{trigger="webhook"}"#,
        r#"flowforge_executions_started_total{trigger="manual"}"#,
        r#"flowforge_executions_finished_total{status="failed"}"#,
        r#"flowforge_execution_duration_seconds_count{status="succeeded"}"#,
        r#"flowforge_node_runs_total{node_type="set",outcome="succeeded"}"#,
        r#"flowforge_node_runs_total{node_type="stop_and_error",outcome="failed"}"#,
        r#"flowforge_node_duration_seconds_count{node_type="webhook"}"#,
        "flowforge_event_store_head_position",
        "process_resident_memory_bytes",
    ];
    for series in at_least_one {
        let value = sample(&text, series).unwrap_or_else(|| panic!("missing {series}:\n{text}"));
        assert!(value >= 1.0, "{series} = {value}");
    }
    let backend_label = match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    let commits = format!(
        r#"flowforge_event_store_commit_duration_seconds_count{{backend="{backend_label}"}}"#
    );
    assert!(
        sample(&text, &commits).is_some_and(|n| n >= 1.0),
        "{commits}"
    );
    for projection in ["workflows", "executions", "audit_log", "sagas"] {
        let lag = format!(r#"flowforge_projection_lag_events{{projection="{projection}"}}"#);
        let lag = sample(&text, &lag).unwrap_or_else(|| panic!("missing {lag}"));
        assert!(lag >= 0.0, "{projection} lag {lag}");
    }
    // Bounded labels: no id ever appears in a series.
    assert!(!text.contains(&sum), "a workflow id leaked into a label");

    promtool_accepts(&text);
}

/// `promtool check metrics` on the exposition; skipped (saying why) when
/// promtool is not installed, except in CI.
fn promtool_accepts(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) if !services_required() => {
            println!("SKIPPED: promtool is not installed ({error}); apt-get install prometheus");
            return;
        }
        Err(error) => panic!("promtool is required in CI: {error}"),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool runs");
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

for_each_backend!(metrics_cover_requests_commands_store_executions_and_nodes);
