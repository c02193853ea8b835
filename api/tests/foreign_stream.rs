//! Two deployments on one NATS server with one stream name: the second one's
//! database holds another log than the stream. Every reader of the stream
//! must refuse it — the projections, the execution orchestrator, the saga
//! manager and the publisher — and go on from the store, while readiness says
//! which stream is wrong.

mod support;

use std::time::Duration;

use flowforge_infra::test_support::TestJetStream;
use serde_json::{json, Value};
use support::{
    booking_server::{trip, BookingServer},
    eventually, nats_bus, simple_workflow, Backend, TestApp,
};

const SETTLE: Duration = Duration::from_secs(60);

/// A stream filled by a first deployment (workflows, a run, a compensated
/// saga), and a second deployment on a fresh database pointed at it.
async fn deployment_beside_another(jetstream: &TestJetStream) -> Option<(TestApp, Vec<String>)> {
    let first = TestApp::spawn_with(Backend::Postgres, |args| {
        args.bus = nats_bus(&jetstream.settings)
    })
    .await?;
    let mut foreign = Vec::new();
    for n in 0..3 {
        let (id, _, _) = first
            .create_workflow(&simple_workflow(&format!("foreign-{n}"), &["foreign"]))
            .await;
        let (status, run) = first
            .post(
                &format!("/api/v1/workflows/{id}/executions?wait=true"),
                &json!({}),
            )
            .await;
        assert_eq!(
            (status, run["status"].as_str()),
            (200, Some("succeeded")),
            "{run}"
        );
        foreign.push(id);
    }
    first.settled(SETTLE).await;
    drop(first);
    let other = TestApp::spawn_with(Backend::Postgres, |args| {
        args.bus = nats_bus(&jetstream.settings)
    })
    .await?;
    Some((other, foreign))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_names_a_stream_holding_another_log() {
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    let Some((other, _)) = deployment_beside_another(&jetstream).await else {
        return;
    };
    let (status, ready) = other.get("/health/ready").await;
    let nats = ready["checks"]["nats"].as_str().unwrap_or_default();
    assert_eq!(status, 503, "{ready}");
    assert!(
        nats.contains(&jetstream.settings.stream) && nats.contains("another store's log"),
        "readiness names the stream and the fault: {ready}"
    );
    assert!(
        nats.contains("FLOWFORGE_NATS_STREAM"),
        "and what to do: {ready}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projections_refuse_another_log_and_show_their_own() {
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    let Some((other, foreign)) = deployment_beside_another(&jetstream).await else {
        return;
    };
    let (own, _, _) = other
        .create_workflow(&simple_workflow("own", &["own"]))
        .await;
    let head = other.head().await;
    let (status, page) = other
        .get(&format!(
            "/api/v1/workflows?limit=100&consistent_with={head}"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|w| w["id"].as_str())
        .collect();
    assert_eq!(ids, [own.as_str()], "only this store's workflow: {page}");
    for id in &foreign {
        let (status, _) = other.get(&format!("/api/v1/workflows/{id}")).await;
        assert_eq!(
            status, 404,
            "the other deployment's workflow {id} is not here"
        );
    }
    let (_, audit) = other
        .get(&format!("/api/v1/audit?limit=100&consistent_with={head}"))
        .await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(usize::try_from(head).expect("small")),
        "the audit log holds this store's events only: {audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_orchestrator_refuses_another_log_and_runs_its_own_executions() {
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    let Some((other, _)) = deployment_beside_another(&jetstream).await else {
        return;
    };
    let (own, _, _) = other.create_workflow(&simple_workflow("own", &[])).await;
    let (status, run) = other
        .post(
            &format!("/api/v1/workflows/{own}/executions?wait=true&timeout_ms=20000"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, run["status"].as_str()),
        (200, Some("succeeded")),
        "this store's execution runs: {run}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_saga_manager_refuses_another_log_and_compensates_its_own() {
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    let Some((other, _)) = deployment_beside_another(&jetstream).await else {
        return;
    };
    let (server, base) = BookingServer::start().await;
    let (workflow, _, _) = other
        .create_workflow(&trip(&base, Value::Null, false))
        .await;
    let (status, run) = other
        .post(
            &format!("/api/v1/workflows/{workflow}/executions?wait=true&timeout_ms=20000"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, run["status"].as_str()),
        (200, Some("failed")),
        "{run}"
    );
    let execution = run["execution_id"].as_str().expect("id");
    let saga = format!("/api/v1/sagas/{execution}");
    eventually(SETTLE, "the saga is compensated", || async {
        let (status, body) = other.get(&saga).await;
        (status == 200 && body["saga"]["status"] == "compensated").then_some(())
    })
    .await;
    assert_eq!(server.cancelled_ids(), ["hotel-1", "flight-1"]);
}
