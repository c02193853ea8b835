//! The replay tooling of the `flowforge` binary against a real PostgreSQL:
//! rebuilding a read model of 100,000 events under a serving API, and moving a
//! log to an empty database with export and import.

mod support;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use flowforge_domain::{
    encode_event,
    workflow::{RawWorkflowDefinition, WorkflowDefinition, WorkflowEvent, WorkflowId},
};
use flowforge_infra::{
    database::Database,
    event_store::{upcasting::Upcasters, EventMetadata, ExpectedVersion, NewEvent, StreamId},
    test_support::TestDatabase,
};
use flowforge_projections::catalog::{checksum, ReadModelChecksum, PROJECTIONS};
use serde_json::json;
use support::{Backend, TestApp};
use uuid::Uuid;

fn definition(name: &str) -> WorkflowDefinition {
    let raw: RawWorkflowDefinition = serde_json::from_value(json!({
        "name": name,
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Set", "type": "set", "parameters": {"fields": {"n": name}}}
        ],
        "connections": {"Start": {"main": [[{"node": "Set"}]]}}
    }))
    .expect("raw definition");
    WorkflowDefinition::parse(raw).expect("valid definition")
}

/// A workflow's history of `length` events: created, then activations,
/// deactivations and definition updates in turn.
fn history(id: WorkflowId, length: usize) -> Vec<WorkflowEvent> {
    let mut events = vec![WorkflowEvent::Created {
        workflow_id: id,
        name: format!("wf-{id}"),
        definition: definition("v1"),
        tags: vec!["bulk".to_owned()],
        definition_version: 1,
    }];
    let mut version = 1;
    for n in 1..length {
        events.push(match n % 3 {
            1 => WorkflowEvent::Activated {
                workflow_id: id,
                definition_version: version,
            },
            2 => WorkflowEvent::Deactivated { workflow_id: id },
            _ => {
                version += 1;
                WorkflowEvent::DefinitionUpdated {
                    workflow_id: id,
                    name: format!("wf-{id}-v{version}"),
                    definition: definition(&format!("v{version}")),
                    tags: vec!["bulk".to_owned(), format!("v{version}")],
                    definition_version: version,
                }
            }
        });
    }
    events
}

/// Appends `workflows` histories of `length` events straight to the store.
async fn fill(database: &Database, workflows: usize, length: usize) {
    let store = database.event_store(Upcasters::default());
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in (writer..workflows).step_by(4) {
                    let id = WorkflowId::from_uuid(Uuid::now_v7());
                    let events = history(id, length)
                        .iter()
                        .map(|event| {
                            let (event_type, schema_version, payload) =
                                encode_event(event).expect("encode");
                            NewEvent::new(
                                event_type,
                                schema_version,
                                payload,
                                EventMetadata {
                                    actor: Some(format!("loader-{writer}")),
                                    ..EventMetadata::default()
                                },
                            )
                        })
                        .collect();
                    let stream = StreamId::new("workflow", id.to_string()).expect("stream");
                    store
                        .append(&stream, ExpectedVersion::NoStream, events)
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
}

async fn checksums(database: &Database) -> Vec<(String, ReadModelChecksum)> {
    let mut sums = Vec::new();
    for name in PROJECTIONS {
        let sum = checksum(name, database)
            .await
            .expect("checksum")
            .expect("known projection");
        sums.push((name.to_owned(), sum));
    }
    sums
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuilding_100k_events_matches_the_live_read_model_while_the_api_answers() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let started = Instant::now();
    fill(app.database(), 10_000, 10).await;
    let filled = started.elapsed();
    let head = app.settled(Duration::from_secs(600)).await;
    assert_eq!(head, 100_000 + support::SETUP_EVENTS);
    println!(
        "100,000 events appended in {filled:?}; live projections caught up after {:?}",
        started.elapsed()
    );
    let live = checksums(app.database()).await;
    let rows = |name: &str| {
        live.iter()
            .find(|(n, _)| n == name)
            .map(|(_, sum)| sum.rows)
    };
    assert_eq!(
        rows("audit_log"),
        Some(100_000 + support::SETUP_EVENTS),
        "audit log: one row per event"
    );
    assert_eq!(rows("workflows"), Some(10_000), "one row per workflow");

    // Queries run throughout the rebuilds; every one must succeed.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (answered, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let reader = {
        let (http, base) = (app.http.clone(), app.base.clone());
        let (stop, answered, failed) = (stop.clone(), answered.clone(), failed.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for path in [
                    "/api/v1/workflows?limit=20&tag=bulk",
                    "/api/v1/audit?limit=20&actor=loader-1",
                ] {
                    let ok = http
                        .get(format!("{base}{path}"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    let counter = if ok { &answered } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    for name in PROJECTIONS {
        let output =
            support::flowforge(&["projections", "rebuild", name], app.database_location()).await;
        println!("{}", String::from_utf8_lossy(&output.stdout).trim());
    }
    stop.store(true, Ordering::Relaxed);
    reader.await.expect("reader");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "every query during the rebuilds succeeded"
    );
    assert!(
        answered.load(Ordering::Relaxed) > 10,
        "queries ran during the rebuilds"
    );

    assert_eq!(
        checksums(app.database()).await,
        live,
        "the rebuilt read models equal the live ones"
    );

    // The running projections carry on after the swap.
    let (id, _, position) = app
        .create_workflow(&support::simple_workflow("after rebuild", &[]))
        .await;
    let (status, _) = app
        .get(&format!(
            "/api/v1/workflows/{id}?consistent_with={position}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.settled(Duration::from_secs(60)).await,
        100_001 + support::SETUP_EVENTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn export_and_import_into_an_empty_database_rebuild_to_the_same_checksums() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    fill(app.database(), 300, 7).await;
    for n in 0..20 {
        app.create_workflow(&support::simple_workflow(&format!("api-{n}"), &["api"]))
            .await;
    }
    let head = app.settled(Duration::from_secs(120)).await;
    let live = checksums(app.database()).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("events.ndjson");
    let file = file.to_str().expect("utf-8 path");
    support::flowforge(
        &["events", "export", "--out", file],
        app.database_location(),
    )
    .await;

    let Some(target) = TestDatabase::postgres().await else {
        return;
    };
    let output = support::flowforge(&["events", "import", file], &target.location).await;
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("head is now {head}")));
    for name in PROJECTIONS {
        support::flowforge(&["projections", "rebuild", name], &target.location).await;
    }
    assert_eq!(
        checksums(&target.database).await,
        live,
        "same log, same read models"
    );

    // The log itself came across unchanged, event for event.
    let source = app.database().event_store(Upcasters::default());
    let copy = target.database.event_store(Upcasters::default());
    assert_eq!(
        copy.read_all(0, 10_000).await.expect("copy"),
        source.read_all(0, 10_000).await.expect("source")
    );

    // A second import is refused: the store is no longer empty.
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flowforge"));
    let refused = command
        .args(["events", "import", file])
        .env("DATABASE_URL", &target.location)
        .output()
        .expect("flowforge runs");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already holds"));
    // --append continues an interrupted import: nothing new, nothing doubled.
    let output =
        support::flowforge(&["events", "import", "--append", file], &target.location).await;
    assert!(String::from_utf8_lossy(&output.stdout)
        .contains(&format!("imported 0 events ({head} already present)")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_show_and_events_tail_read_a_stream() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&support::simple_workflow("shown", &["x"]))
        .await;
    app.post(
        &format!("/api/v1/workflows/{id}/activate"),
        &serde_json::Value::Null,
    )
    .await;
    app.create_workflow(&support::simple_workflow("other", &[]))
        .await;

    let output = support::flowforge(
        &["aggregate", "show", "workflow", &id, "--at-version", "1"],
        app.database_location(),
    )
    .await;
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        (shown["version"].as_u64(), shown["latest_version"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(shown["state"]["status"], "inactive");
    let output = support::flowforge(
        &["aggregate", "show", "workflow", &id],
        app.database_location(),
    )
    .await;
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(shown["state"]["status"], "active");

    let output = support::flowforge(
        &[
            "events",
            "tail",
            "--json",
            "--stream",
            &format!("workflow/{id}"),
        ],
        app.database_location(),
    )
    .await;
    let types: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).expect("JSON line")["event_type"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(types, ["WorkflowCreated", "WorkflowActivated"]);
    let after = (app.head().await - 1).to_string();
    let output = support::flowforge(
        &["events", "tail", "--after", &after],
        app.database_location(),
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
}
