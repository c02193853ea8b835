//! Workflows running for real: webhooks, retries against a local HTTP server,
//! runaway expressions, bad input — on PostgreSQL and on the embedded store.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{eventually, flaky_server::FlakyServer, inbox::Inbox, Backend, TestApp};

async fn activate(app: &TestApp, id: &str) {
    let (status, body) = app
        .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn sum_webhook_answers_with_the_true_branch(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&json!({"name": "sum", "nodes": [
            {"name": "Start", "type": "webhook", "parameters": {"path": "sum", "method": "POST", "response_mode": "last_node"}},
            {"name": "Total", "type": "set", "parameters": {"fields": {"total": "{{ $json.body.a + $json.body.b }}"}}},
            {"name": "Big", "type": "if", "parameters": {"condition": "{{ $json.total > 10 }}"}}],
            "connections": {"Start": {"main": [[{"node": "Total"}]]}, "Total": {"main": [[{"node": "Big"}]]}}}))
        .await;
    let (status, body) = app.post("/webhook/sum", &json!({"a": 4, "b": 9})).await;
    assert_eq!(
        status, 404,
        "inactive workflows do not answer webhooks: {body}"
    );
    activate(&app, &id).await;
    let (status, body) = app.post("/webhook/sum", &json!({"a": 4, "b": 9})).await;
    assert_eq!((status, body), (200, json!({"total": 13})));
}

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

async fn bad_runs_are_refused_and_record_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&support::simple_workflow("w", &[]))
        .await;
    let (archived, _, _) = app
        .create_workflow(&support::simple_workflow("gone", &[]))
        .await;
    let (status, _, _) = app
        .send(
            app.http
                .delete(app.url(&format!("/api/v1/workflows/{archived}"))),
        )
        .await;
    assert_eq!(status, 200);
    let head = app.head().await;
    let unknown = "0195f3a0-0000-7000-8000-00000000beef";
    let cases = [
        (
            format!("/api/v1/workflows/{id}/executions"),
            json!({"input": [1, 2]}),
            400,
            "invalid_body",
        ),
        (
            format!("/api/v1/workflows/{id}/executions"),
            json!({"items": []}),
            400,
            "invalid_body",
        ),
        (
            format!("/api/v1/workflows/{unknown}/executions"),
            json!({}),
            404,
            "not_found",
        ),
        (
            format!("/api/v1/workflows/{archived}/executions"),
            json!({}),
            409,
            "workflow_archived",
        ),
        (
            "/webhook/nobody-home".to_owned(),
            json!({}),
            404,
            "not_found",
        ),
        (
            format!("/api/v1/executions/{unknown}/cancel"),
            json!({}),
            404,
            "not_found",
        ),
    ];
    for (path, body, status, code) in cases {
        let (got, answer) = app.post(&path, &body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {answer}"
        );
    }
    let (status, _) = app.get(&format!("/api/v1/executions/{unknown}")).await;
    assert_eq!(status, 404);
    assert_eq!(app.head().await, head, "nothing recorded");
}

async fn cancel_stops_a_waiting_execution(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&json!({"name": "slow", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Pause", "type": "wait", "parameters": {"duration_ms": 60000}}],
            "connections": {"Start": {"main": [[{"node": "Pause"}]]}}}))
        .await;
    let (status, started) = app
        .post(&format!("/api/v1/workflows/{id}/executions"), &json!({}))
        .await;
    assert_eq!(status, 202);
    let execution = started["execution_id"].as_str().expect("id");
    eventually(Duration::from_secs(10), "the execution waits", || async {
        let (_, detail) = app.get(&format!("/api/v1/executions/{execution}")).await;
        detail["status"] == "waiting"
    })
    .await;
    let (status, body) = app
        .post(
            &format!("/api/v1/executions/{execution}/cancel"),
            &json!({"reason": "enough"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, detail) = app.get(&format!("/api/v1/executions/{execution}")).await;
    assert_eq!(
        (
            detail["status"].as_str(),
            detail["cancellation"]["reason"].as_str()
        ),
        (Some("cancelled"), Some("enough"))
    );
    // Cancelling again is idempotent; cancelling a finished execution is refused.
    let (status, _) = app
        .post(
            &format!("/api/v1/executions/{execution}/cancel"),
            &json!({"reason": "enough"}),
        )
        .await;
    assert_eq!(status, 200);
    let (quick, _, _) = app
        .create_workflow(&support::simple_workflow("quick", &[]))
        .await;
    // The execution list shows the cancelled one under its workflow.
    let head = app.head().await;
    let (status, page) = app
        .get(&format!(
            "/api/v1/executions?workflow_id={id}&consistent_with={head}"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(
        (
            page["items"][0]["status"].as_str(),
            page["items"][0]["trigger"].as_str()
        ),
        (Some("cancelled"), Some("manual"))
    );
    let (status, _) = app.get("/api/v1/executions?status=sleeping").await;
    assert_eq!(status, 400);
    let (_, done) = app
        .post(
            &format!("/api/v1/workflows/{quick}/executions?wait=true"),
            &json!({}),
        )
        .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let finished = done["execution_id"].as_str().expect("id");
    let (status, body) = app
        .post(&format!("/api/v1/executions/{finished}/cancel"), &json!({}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("execution_conflict")),
        "{body}"
    );
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

async fn a_wait_resumes_when_called(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (inbox, inbox_url) = Inbox::start().await;
    let (id, _, _) = app
        .create_workflow(&json!({"name": "approval", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Ask", "type": "http_request", "parameters": {"method": "POST", "url": inbox_url, "body": {"link": "{{ $execution.resumeUrl }}"}}},
            {"name": "Approval", "type": "wait", "parameters": {"resume": "webhook"}},
            {"name": "Decide", "type": "set", "parameters": {"fields": {"approved": "{{ $json.approved }}"}}}],
            "connections": {"Start": {"main": [[{"node": "Ask"}]]}, "Ask": {"main": [[{"node": "Approval"}]]}, "Approval": {"main": [[{"node": "Decide"}]]}}}))
        .await;
    let (_, started) = app
        .post(&format!("/api/v1/workflows/{id}/executions"), &json!({}))
        .await;
    let execution = started["execution_id"].as_str().expect("id").to_owned();
    let link = inbox.wait_for(1, Duration::from_secs(10)).await[0]["link"]
        .as_str()
        .expect("the workflow sent its resume link")
        .to_owned();
    let token = link.rsplit('/').next().expect("token").to_owned();
    eventually(Duration::from_secs(10), "the execution waits", || async {
        let (_, detail) = app.get(&format!("/api/v1/executions/{execution}")).await;
        detail["status"] == "waiting"
    })
    .await;
    let (status, body) = app
        .post(
            &format!("/api/v1/executions/{execution}/resume/not-the-token"),
            &json!({"approved": true}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/executions/{execution}/resume/{token}"),
            &json!({"approved": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let detail = eventually(
        Duration::from_secs(10),
        "the execution succeeds",
        || async {
            let (_, detail) = app.get(&format!("/api/v1/executions/{execution}")).await;
            (detail["status"] == "succeeded").then_some(detail)
        },
    )
    .await;
    assert_eq!(detail["output"], json!([[{"approved": true}]]));
}

/// Regression: a scheduler that recorded a tick and died before starting its
/// execution lost that run. Now the next scheduler to come up starts it.
async fn a_tick_fired_but_never_started_starts_after_a_restart(backend: Backend) {
    use chrono::Timelike;
    use flowforge_commands::CommandBus;
    use flowforge_domain::{
        schedule::{schedule_id, Schedule, ScheduleCommand},
        workflow::WorkflowId,
    };
    use flowforge_infra::event_store::{upcasting::Upcasters, EventMetadata};

    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    // Once a year: it never fires by itself during the test.
    let (id, _, _) = app
        .create_workflow(&json!({"name": "yearly", "nodes": [
            {"name": "Every year", "type": "schedule", "parameters": {"cron": "0 0 0 1 1 *", "timezone": "UTC"}}]}))
        .await;
    activate(&app, &id).await;
    let workflow_id: WorkflowId = id.parse().expect("workflow id");
    let tick = chrono::Utc::now().with_nanosecond(0).expect("whole second")
        - chrono::TimeDelta::seconds(5);
    let execution_id = flowforge_engine::tick_execution_id(workflow_id, "Every year", tick);
    let commands = CommandBus::new(app.database().event_store(Upcasters::default()));
    commands
        .execute::<Schedule>(
            &schedule_id(workflow_id, "Every year"),
            ScheduleCommand::Fire {
                workflow_id,
                node: "Every year".to_owned(),
                tick,
                execution_id,
            },
            None,
            &EventMetadata::default(),
        )
        .await
        .expect("the tick is recorded, as by a scheduler about to die");
    app.restart().await;

    let detail = eventually(Duration::from_secs(20), "the lost tick starts", || async {
        let (status, detail) = app.get(&format!("/api/v1/executions/{execution_id}")).await;
        (status == 200).then_some(detail)
    })
    .await;
    assert_eq!(detail["trigger"]["kind"], "schedule", "{detail}");
    assert_eq!(
        detail["input"][0]["timestamp"],
        tick.to_rfc3339(),
        "{detail}"
    );
    let head = app.head().await;
    let (_, page) = app
        .get(&format!(
            "/api/v1/executions?workflow_id={id}&consistent_with={head}"
        ))
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
}

/// Regression: a schedule whose cron pattern changed kept its old next tick,
/// so a yearly schedule changed to every second did not fire for a year.
async fn a_changed_cron_pattern_takes_effect_at_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let schedule = |cron: &str| {
        json!({"name": "changing", "nodes": [
            {"name": "Tick", "type": "schedule", "parameters": {"cron": cron, "timezone": "UTC"}}]})
    };
    let (id, _, _) = app.create_workflow(&schedule("0 0 0 1 1 *")).await;
    activate(&app, &id).await;
    // Let the schedulers see the yearly pattern first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/workflows/{id}")))
                .header("If-Match", "*")
                .json(&schedule("* * * * * *")),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(
        Duration::from_secs(10),
        "the every-second pattern fires",
        || async {
            let head = app.head().await;
            let (_, page) = app
                .get(&format!(
                    "/api/v1/executions?workflow_id={id}&consistent_with={head}"
                ))
                .await;
            page["items"]
                .as_array()
                .is_some_and(|items| !items.is_empty())
        },
    )
    .await;
}

for_each_backend!(
    a_changed_cron_pattern_takes_effect_at_once,
    a_tick_fired_but_never_started_starts_after_a_restart,
    a_wait_resumes_when_called,
    bad_parameters_fail_the_node_instead_of_hanging,
    an_oversized_http_response_fails_its_node,
    sum_webhook_answers_with_the_true_branch,
    http_request_retries_with_growing_waits,
    runaway_scripts_fail_their_node_and_the_server_keeps_serving,
    bad_runs_are_refused_and_record_nothing,
    cancel_stops_a_waiting_execution,
);

/// Two instances, one schedule firing every second for about 10 s: each tick
/// starts exactly one execution.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_run_each_schedule_tick_once() {
    let Some(first) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let second = TestApp::spawn_sharing(&first, |_| {}).await;
    let (id, _, _) = first
        .create_workflow(&json!({"name": "tick", "nodes": [
            {"name": "Every second", "type": "schedule", "parameters": {"cron": "* * * * * *", "timezone": "Europe/Berlin"}},
            {"name": "Stamp", "type": "set", "parameters": {"fields": {"at": "{{ $json.timestamp }}"}}}],
            "connections": {"Every second": {"main": [[{"node": "Stamp"}]]}}}))
        .await;
    activate(&first, &id).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (status, _) = first
        .post(&format!("/api/v1/workflows/{id}/deactivate"), &Value::Null)
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut after = 0;
    let (mut ticks, mut scheduled_runs, mut run_ticks) = (Vec::new(), 0, Vec::new());
    loop {
        let (_, page) = second
            .get(&format!("/api/v1/events?after={after}&limit=1000"))
            .await;
        let events = page["events"].as_array().expect("events");
        if events.is_empty() {
            break;
        }
        for event in events {
            match event["event_type"].as_str() {
                Some("ScheduleFired") => {
                    ticks.push(event["payload"]["tick"].as_str().expect("tick").to_owned())
                }
                Some("ExecutionRequested") if event["payload"]["trigger"]["kind"] == "schedule" => {
                    scheduled_runs += 1;
                    run_ticks.push(event["payload"]["input"][0]["timestamp"].to_string());
                }
                _ => {}
            }
        }
        after = page["next_after"].as_u64().expect("next");
    }
    let mut distinct = ticks.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        ticks.len(),
        "no tick fired twice: {ticks:?}"
    );
    assert_eq!(
        scheduled_runs,
        ticks.len(),
        "one execution per tick: ticks {ticks:?}, runs {run_ticks:?}"
    );
    assert!(
        (8..=12).contains(&ticks.len()),
        "about one tick per second for 10 s: {}",
        ticks.len()
    );
    let seconds: Vec<i64> = distinct
        .iter()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .expect("RFC 3339")
                .timestamp()
        })
        .collect();
    assert!(
        seconds.windows(2).all(|w| w[1] - w[0] == 1),
        "consecutive seconds, none missed: {seconds:?}"
    );
}
