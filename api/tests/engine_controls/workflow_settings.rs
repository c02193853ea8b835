//! The workflow settings the engine enforces: the concurrency cap (queued
//! in request order, kept across a restart) and the time limit (with the
//! error workflow).

use super::*;

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
    a_concurrency_cap_queues_the_excess_in_request_order,
    a_run_past_its_time_limit_fails_and_starts_the_error_workflow,
    a_queued_execution_runs_after_a_restart,
);
