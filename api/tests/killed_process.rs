//! The `flowforge` binary killed with SIGKILL mid-stream: every acknowledged
//! command survives, on PostgreSQL (with and without NATS) and on the embedded
//! store.

mod support;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use flowforge_infra::test_support::{TestDatabase, TestJetStream};
use serde_json::{json, Value};
use support::{
    eventually,
    process::{postgres_and_nats, FlowforgeProcess},
};

/// Returns the store's head after the restart.
async fn acknowledged_commands_survive_sigkill(env: Vec<(&str, String)>) -> u64 {
    let http = reqwest::Client::new();
    let server = FlowforgeProcess::start(&env, Stdio::null());
    server.wait_ready(&http).await;
    let http = support::owner_client(&server.base).await;

    // Writers keep sending commands; the process dies under them.
    let mut acknowledged: Vec<(String, u64)> = Vec::new();
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let http = http.clone();
            let base = server.base.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0.. {
                    let body = json!({"name": format!("w{writer}-{n}"), "nodes": [{"name": "Start", "type": "manual_trigger"}]});
                    let Ok(response) = http.post(format!("{base}/api/v1/workflows")).json(&body).send().await else { break };
                    let Ok(created) = response.json::<Value>().await else { break };
                    let id = created["id"].as_str().expect("id").to_owned();
                    let Ok(activated) = http.post(format!("{base}/api/v1/workflows/{id}/activate")).send().await else {
                        acked.push((id, 1));
                        break;
                    };
                    let version = if activated.status().is_success() { 2 } else { 1 };
                    acked.push((id, version));
                }
                acked
            })
        })
        .collect();
    // Killed once the writers are well under way, not after a fixed time.
    eventually(
        Duration::from_secs(30),
        "the writers have recorded 100 events",
        || async { store_head(&http, &server.base).await >= 100 },
    )
    .await;
    server.kill();
    for writer in writers {
        acknowledged.extend(writer.await.expect("writer"));
    }
    assert!(
        acknowledged.len() > 10,
        "the writers got going before the kill"
    );

    let server = FlowforgeProcess::start(&env, Stdio::null());
    server.wait_ready(&http).await;
    let http = support::owner_client(&server.base).await;
    let (_, head) = {
        let log: Value = http
            .get(format!("{}/api/v1/events?limit=1", server.base))
            .send()
            .await
            .expect("log")
            .json()
            .await
            .expect("json");
        ((), log["head"].as_u64().expect("head"))
    };
    for (id, version) in &acknowledged {
        let stream: Value = http
            .get(format!("{}/api/v1/streams/workflow/{id}", server.base))
            .send()
            .await
            .expect("stream")
            .json()
            .await
            .expect("json");
        let stored = stream["version"].as_u64().unwrap_or(0);
        assert!(
            stored >= *version,
            "workflow {id}: acknowledged version {version}, stored {stored}"
        );
        // The read model catches up with the log after the restart.
        let view: Value = http
            .get(format!(
                "{}/api/v1/workflows/{id}?consistent_with={head}",
                server.base
            ))
            .send()
            .await
            .expect("view")
            .json()
            .await
            .expect("json");
        assert_eq!(
            view["version"].as_u64(),
            Some(stored),
            "read model of {id} matches its stream"
        );
    }
    // The log has no gaps: positions 1..=head are all there.
    let mut after = 0;
    loop {
        let page: Value = http
            .get(format!(
                "{}/api/v1/events?after={after}&limit=1000",
                server.base
            ))
            .send()
            .await
            .expect("log")
            .json()
            .await
            .expect("json");
        let events = page["events"].as_array().expect("events");
        if events.is_empty() {
            break;
        }
        for event in events {
            after += 1;
            assert_eq!(event["position"].as_u64(), Some(after), "gap-free log");
        }
    }
    assert_eq!(after, head);
    // The read side caught up (on NATS: through the publisher) with no event
    // applied twice: the audit log has each position exactly once.
    let mut audited: Vec<u64> = Vec::new();
    let mut after = 0;
    loop {
        let page: Value = http
            .get(format!(
                "{}/api/v1/audit?after={after}&limit=1000&consistent_with={head}",
                server.base
            ))
            .send()
            .await
            .expect("audit")
            .json()
            .await
            .expect("json");
        audited.extend(
            page["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .filter_map(|e| e["position"].as_u64()),
        );
        match page["next_after"].as_u64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(audited, (1..=head).collect::<Vec<_>>());
    wait_published(&http, &server.base, head).await;
    server.kill();
    head
}

/// Waits until the publisher (when there is one) has published up to `head`.
async fn wait_published(http: &reqwest::Client, base: &str, head: u64) {
    eventually(
        Duration::from_secs(60),
        "the publisher catches up",
        || async {
            let status: Value = http
                .get(format!("{base}/api/v1/projections"))
                .send()
                .await
                .expect("projections")
                .json()
                .await
                .expect("json");
            status["publisher"].is_null() || status["publisher"]["position"] == head
        },
    )
    .await;
}

/// The store's head as the server reports it (0 while it cannot answer).
async fn store_head(http: &reqwest::Client, base: &str) -> u64 {
    let Ok(response) = http
        .get(format!("{base}/api/v1/events?limit=1"))
        .send()
        .await
    else {
        return 0;
    };
    let body: Value = response.json().await.unwrap_or_default();
    body["head"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_commands_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    acknowledged_commands_survive_sigkill(vec![(
        "FLOWFORGE_DATA_DIR",
        dir.path().display().to_string(),
    )])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_commands_survive_sigkill() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    acknowledged_commands_survive_sigkill(vec![("DATABASE_URL", db.location.clone())]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_nats_sigkill_loses_no_event_and_publishes_none_twice() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    let head = acknowledged_commands_survive_sigkill(postgres_and_nats(&db, &jetstream)).await;
    support::assert_published_once_in_order(&jetstream.settings, head).await;
    // Nothing was projected twice: the read models equal a rebuild from scratch.
    for projection in ["workflows", "audit_log"] {
        let live = cli(&["projections", "checksum", projection], &db.location);
        cli(&["projections", "rebuild", projection], &db.location);
        let rebuilt = cli(&["projections", "checksum", projection], &db.location);
        assert_eq!(live, rebuilt, "{projection}");
    }
}

/// Runs a `flowforge` tool against `database_url`; returns its stdout.
fn cli(args: &[&str], database_url: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_flowforge"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("NATS_URL")
        .output()
        .expect("flowforge runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
