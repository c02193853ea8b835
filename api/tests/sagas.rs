//! Sagas through the HTTP API on both stores, against a local booking server
//! that records every cancellation: completed steps are undone newest first,
//! failing undos are retried with growing waits, a saga that cannot finish
//! parks until an operator retries or skips, and a cancelled execution is
//! compensated too.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{
    booking_server::{trip, BookingServer},
    eventually, Backend, TestApp,
};

async fn run_failing(app: &TestApp, workflow: &str) -> String {
    let (status, run) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions?wait=true"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (
            status,
            run["status"].as_str(),
            run["failure"]["node"].as_str()
        ),
        (200, Some("failed"), Some("Car")),
        "{run}"
    );
    run["execution_id"].as_str().expect("id").to_owned()
}

/// Polls a saga until it is in `status`; panics after `within`.
async fn saga_in(app: &TestApp, id: &str, status: &str, within: Duration) -> Value {
    let what = format!("saga {id} becomes {status}");
    eventually(within, &what, || async {
        let (code, saga) = app.get(&format!("/api/v1/sagas/{id}")).await;
        (code == 200 && saga["saga"]["status"] == status).then_some(saga)
    })
    .await
}

fn step<'a>(saga: &'a Value, name: &str) -> &'a Value {
    saga["saga"]["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["step"] == name))
        .unwrap_or_else(|| panic!("no step {name}: {saga}"))
}

async fn a_step_that_fails_for_good_undoes_the_earlier_ones_newest_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (server, base) = BookingServer::start().await;
    let (workflow, _, _) = app.create_workflow(&trip(&base, Value::Null, false)).await;
    let failed_at = Instant::now();
    let execution = run_failing(&app, &workflow).await;
    let saga = saga_in(&app, &execution, "compensated", Duration::from_secs(20)).await;
    let took = failed_at.elapsed();
    assert_eq!(server.cancelled_ids(), ["hotel-1", "flight-1"]);
    let keys: Vec<String> = server.cancellations().into_iter().map(|c| c.key).collect();
    assert_eq!(
        keys,
        [
            format!("saga:{execution}:Hotel:1:0"),
            format!("saga:{execution}:Flight:1:0")
        ]
    );
    assert_eq!(saga["saga"]["reason"], "failure");
    assert_eq!(step(&saga, "Hotel")["status"], "compensated");
    assert_eq!(
        step(&saga, "Flight")["compensation_output"][0]["cancelled"],
        "flight-1"
    );

    let (_, detail) = app.get(&format!("/api/v1/executions/{execution}")).await;
    assert_eq!(detail["status"], "failed");
    assert_eq!(detail["saga"], format!("/api/v1/sagas/{execution}"));
    let head = app.head().await;
    let (status, page) = app
        .get(&format!(
            "/api/v1/sagas?status=compensated&consistent_with={head}"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["id"], execution.as_str(), "{page}");
    assert_eq!(page["items"][0]["steps"], 2, "{page}");

    let (_, history) = app.get(&format!("/api/v1/streams/saga/{execution}")).await;
    let types: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "SagaStepCompleted",
            "SagaStepCompleted",
            "SagaCompensationStarted",
            "SagaStepCompensated",
            "SagaStepCompensated",
            "SagaCompensated"
        ]
    );
    // The replay tooling folds the saga from its events, now and at any version.
    let output = support::flowforge(
        &["aggregate", "show", "saga", &execution, "--at-version", "3"],
        app.database_location(),
    )
    .await;
    let shown: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(shown["state"]["status"], "compensating", "{shown}");
    assert_eq!(shown["latest_version"], 6, "{shown}");
    println!("saga of {execution}, from the run's answer to compensated: {took:?}");
    for event in history["events"].as_array().expect("events") {
        println!(
            "{}",
            json!({"version": event["version"], "type": event["event_type"], "data": event["payload"]})
        );
    }
}

async fn a_failing_undo_is_retried_with_growing_waits(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (server, base) = BookingServer::start().await;
    server.fail("hotel-1", 2);
    let retry = json!({"max_tries": 4, "wait_ms": 200, "backoff": "exponential"});
    let (workflow, _, _) = app.create_workflow(&trip(&base, retry, false)).await;
    let execution = run_failing(&app, &workflow).await;
    let saga = saga_in(&app, &execution, "compensated", Duration::from_secs(20)).await;
    let hotel: Vec<_> = server
        .cancellations()
        .into_iter()
        .filter(|c| c.id == "hotel-1")
        .collect();
    assert_eq!(hotel.len(), 3, "failed twice, then succeeded");
    let first_wait = hotel[1].at - hotel[0].at;
    let second_wait = hotel[2].at - hotel[1].at;
    assert!(
        second_wait > first_wait && first_wait >= Duration::from_millis(100),
        "waits grow: {first_wait:?} then {second_wait:?}"
    );
    let attempts: Vec<&str> = hotel.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        attempts,
        [1, 2, 3]
            .map(|n| format!("saga:{execution}:Hotel:{n}:0"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        step(&saga, "Hotel")["failed_attempts"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{saga}"
    );
    assert_eq!(
        server.cancelled_ids().last().map(String::as_str),
        Some("flight-1")
    );
}

async fn an_undo_that_keeps_failing_parks_until_an_operator_acts(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (server, base) = BookingServer::start().await;
    server.fail("hotel-1", usize::MAX);
    let retry = json!({"max_tries": 2, "wait_ms": 50});
    let (workflow, _, _) = app.create_workflow(&trip(&base, retry, false)).await;

    // Parked on the hotel; the flight is not touched meanwhile.
    let execution = run_failing(&app, &workflow).await;
    let saga = saga_in(&app, &execution, "parked", Duration::from_secs(20)).await;
    assert_eq!(saga["saga"]["parked_step"], "Hotel");
    assert_eq!(saga["next_step"], "Hotel");
    assert_eq!(server.cancelled_ids(), ["hotel-1", "hotel-1"]);
    let head = app.head().await;
    let (_, parked) = app
        .get(&format!(
            "/api/v1/sagas?status=parked&consistent_with={head}"
        ))
        .await;
    assert_eq!(parked["items"][0]["parked_step"], "Hotel", "{parked}");

    // The hotel's API is fixed; retry finishes the saga.
    server.fix("hotel-1");
    let (status, body) = app
        .post(&format!("/api/v1/sagas/{execution}/retry"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    saga_in(&app, &execution, "compensated", Duration::from_secs(20)).await;
    assert_eq!(
        server.cancelled_ids(),
        ["hotel-1", "hotel-1", "hotel-1", "flight-1"]
    );
    let (status, body) = app
        .post(&format!("/api/v1/sagas/{execution}/retry"), &json!({}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("saga_conflict")),
        "only a parked saga is retried: {body}"
    );

    // Another trip parks the same way; this time the operator cancels the
    // hotel by phone and skips the step.
    server.fail("hotel-1", usize::MAX);
    let second = run_failing(&app, &workflow).await;
    saga_in(&app, &second, "parked", Duration::from_secs(20)).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/sagas/{second}/skip-step"),
            &json!({"step": "Flight"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("saga_conflict")),
        "{body}"
    );
    let (status, body, _) = app
        .send(
            app.http
                .post(app.url(&format!("/api/v1/sagas/{second}/skip-step")))
                .header("X-Actor", "ops@example.com")
                .json(&json!({"step": "Hotel", "reason": "cancelled by phone"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let saga = saga_in(&app, &second, "compensated", Duration::from_secs(20)).await;
    assert_eq!(step(&saga, "Hotel")["status"], "skipped");
    // The signed-in caller, not the forged X-Actor header, is recorded.
    assert_eq!(
        step(&saga, "Hotel")["skipped_by"],
        app.owner_actor().await.as_str(),
        "{saga}"
    );
    assert_eq!(step(&saga, "Flight")["status"], "compensated");

    let (status, _) = app
        .get("/api/v1/sagas/0190f1c2-0000-7000-8000-00000000cafe")
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/api/v1/sagas?status=sleeping").await;
    assert_eq!(status, 400);
}

async fn a_cancelled_execution_undoes_what_completed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (server, base) = BookingServer::start().await;
    let (workflow, _, _) = app.create_workflow(&trip(&base, Value::Null, true)).await;
    let (_, started) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions"),
            &json!({}),
        )
        .await;
    let execution = started["execution_id"].as_str().expect("id").to_owned();
    eventually(
        Duration::from_secs(20),
        "the run reaches the pause",
        || async {
            let (_, detail) = app.get(&format!("/api/v1/executions/{execution}")).await;
            detail["status"] == "waiting"
        },
    )
    .await;
    let (status, body) = app
        .post(
            &format!("/api/v1/executions/{execution}/cancel"),
            &json!({"reason": "trip called off"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let saga = saga_in(&app, &execution, "compensated", Duration::from_secs(20)).await;
    assert_eq!(saga["saga"]["reason"], "cancel");
    assert_eq!(server.cancelled_ids(), ["hotel-1", "flight-1"]);
}

async fn a_run_past_its_deadline_undoes_what_completed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (server, base) = BookingServer::start().await;
    let mut definition = trip(&base, Value::Null, true);
    definition["settings"] = json!({"execution_timeout_ms": 500});
    let (workflow, _, _) = app.create_workflow(&definition).await;
    let (status, run) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions?wait=true"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, run["failure"]["error"]["code"].as_str()),
        (200, Some("execution_timeout")),
        "{run}"
    );
    let execution = run["execution_id"].as_str().expect("id");
    let saga = saga_in(&app, execution, "compensated", Duration::from_secs(20)).await;
    assert_eq!(saga["saga"]["reason"], "deadline");
    assert_eq!(server.cancelled_ids(), ["hotel-1", "flight-1"]);
}

for_each_backend!(
    a_run_past_its_deadline_undoes_what_completed,
    a_step_that_fails_for_good_undoes_the_earlier_ones_newest_first,
    a_failing_undo_is_retried_with_growing_waits,
    an_undo_that_keeps_failing_parks_until_an_operator_acts,
    a_cancelled_execution_undoes_what_completed,
);
