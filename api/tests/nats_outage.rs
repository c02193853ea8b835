//! Executions go on while NATS is down: the store is the source of truth, so
//! the orchestrator and the projections follow it directly until JetStream is
//! back, then return to it without gaps or double work, and the publisher
//! catches up. Set `FLOWFORGE_TEST_OUTAGE_SECS` to hold the outage longer (the
//! count of executions completed during it is printed).

mod support;

use std::time::{Duration, Instant};

use flowforge_infra::test_support::{TestJetStream, TestNats};
use serde_json::json;
use support::{
    assert_published_once_in_order, assert_read_models_match_log, nats_bus, simple_workflow,
    Backend, TestApp,
};

const SETTLE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn executions_run_to_the_end_while_nats_is_down() {
    let Some(mut nats) = TestNats::start() else {
        return;
    };
    let jetstream = TestJetStream::new(&nats.url);
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |args| {
        args.bus = nats_bus(&jetstream.settings)
    })
    .await
    else {
        return;
    };
    let (workflow, _, _) = app.create_workflow(&simple_workflow("during", &[])).await;
    let run_path = format!("/api/v1/workflows/{workflow}/executions?wait=true&timeout_ms=20000");
    let (status, body) = app.post(&run_path, &json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("succeeded")),
        "{body}"
    );
    app.settled(SETTLE).await;

    nats.stop();
    let outage: u64 = std::env::var("FLOWFORGE_TEST_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let until = Instant::now() + Duration::from_secs(outage);
    let mut completed = 0;
    while completed < 5 || Instant::now() < until {
        let (status, body) = app.post(&run_path, &json!({})).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("succeeded")),
            "an execution started while NATS is down runs to the end: {body}"
        );
        completed += 1;
    }
    println!("executions completed during a {outage} s NATS outage: {completed}");
    let (status, ready) = app.get("/health/ready").await;
    assert_eq!(status, 200, "work goes on from the store: {ready}");

    nats.restart();
    let (status, body) = app.post(&run_path, &json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("succeeded")),
        "{body}"
    );
    let head = app.settled(SETTLE).await;
    assert_published_once_in_order(&jetstream.settings, head).await;
    assert_read_models_match_log(&app, head).await;
    let mut executions = Vec::new();
    let mut after = String::new();
    loop {
        let (_, page) = app
            .get(&format!(
                "/api/v1/executions?limit=500&consistent_with={head}{after}"
            ))
            .await;
        executions.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_after"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    assert_eq!(
        executions.len(),
        completed + 2,
        "each run once in the read model"
    );
    assert!(
        executions.iter().all(|e| e["status"] == "succeeded"),
        "{executions:?}"
    );
}
