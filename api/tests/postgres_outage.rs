//! A PostgreSQL outage under load: while the database is away, requests that
//! need it answer 503 with `Retry-After` (never a 500, never a hang without
//! end), readiness says the store is down; once it is back the same process
//! serves again without a restart, and nothing half-written is visible. Set
//! `FLOWFORGE_TEST_PG_OUTAGE_SECS` for a longer outage (default 3 s).

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{
    assert_read_models_match_log, eventually, private_postgres::PrivatePostgres, simple_workflow,
    Backend, TestApp,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_answers_503_and_recovers_without_restart() {
    let Some(postgres) = PrivatePostgres::start() else {
        return;
    };
    let url = postgres.url.clone();
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |args| {
        args.storage.database_url = Some(url);
    })
    .await
    else {
        return;
    };
    let (workflow, _, _) = app.create_workflow(&simple_workflow("steady", &[])).await;
    let run_path = format!("/api/v1/workflows/{workflow}/executions?wait=true&timeout_ms=20000");
    let (status, run) = app.post(&run_path, &json!({})).await;
    assert_eq!(
        (status, run["status"].as_str()),
        (200, Some("succeeded")),
        "{run}"
    );

    // Load: writers keep creating workflows through the outage.
    let load = {
        let (http, url) = (app.http.clone(), app.url("/api/v1/workflows"));
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            let until = Instant::now() + Duration::from_secs(600);
            while Instant::now() < until {
                let response = http
                    .post(&url)
                    .json(&simple_workflow("under load", &[]))
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                let Ok(response) = response else { continue };
                let status = response.status().as_u16();
                let retry_after = response.headers().contains_key("retry-after");
                statuses.push((status, retry_after));
                if statuses.len() > 20
                    && status == 201
                    && statuses.iter().rev().nth(1).is_some_and(|s| s.0 == 201)
                    && statuses.iter().any(|s| s.0 == 503)
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    postgres.stop();
    let outage: u64 = std::env::var("FLOWFORGE_TEST_PG_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let until = Instant::now() + Duration::from_secs(outage);
    let mut unavailable = 0;
    while Instant::now() < until {
        let (status, body, headers) = app
            .send(
                app.http
                    .post(app.url("/api/v1/workflows"))
                    .json(&simple_workflow("during", &[])),
            )
            .await;
        assert_eq!(status, 503, "a write while the database is down: {body}");
        assert!(
            headers.contains_key("retry-after"),
            "503 says when to retry"
        );
        let (status, ready) = app.get("/health/ready").await;
        assert_eq!(status, 503, "not ready while the store is down: {ready}");
        unavailable += 1;
    }
    println!("{unavailable} requests answered 503 during a {outage} s database outage");

    postgres.start_again();
    let statuses = tokio::time::timeout(Duration::from_secs(120), load)
        .await
        .expect("the load ends once writes succeed again")
        .expect("load task");
    for (status, retry_after) in &statuses {
        assert!(
            *status == 201 || (*status == 503 && *retry_after),
            "only successes and 503s with Retry-After: {statuses:?}"
        );
    }
    // The same process serves again: commands, executions, read models.
    let run = eventually(Duration::from_secs(60), "a run is served again", || async {
        let (status, run) = app.post(&run_path, &json!({})).await;
        (status == 200).then_some(run)
    })
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let head = app.settled(Duration::from_secs(60)).await;
    assert_read_models_match_log(&app, head).await;
    let (status, ready) = app.get("/health/ready").await;
    assert_eq!(status, 200, "{ready}");
}
