//! FlowForge with PostgreSQL and NATS JetStream: what reaches NATS, and how the
//! read side built from it behaves when NATS goes away or instances multiply.

mod support;

use std::time::Duration;

use flowforge_infra::test_support::{TestJetStream, TestNats};
use serde_json::Value;
use support::{
    assert_published_once_in_order, assert_read_models_match_log, nats_bus, simple_workflow,
    Backend, TestApp,
};

const SETTLE: Duration = Duration::from_secs(60);

/// Creates and activates `count` workflows, returning their ids.
async fn write_workflows(app: &TestApp, prefix: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let (id, _, _) = app
            .create_workflow(&simple_workflow(&format!("{prefix}-{n}"), &[prefix]))
            .await;
        let (status, body) = app
            .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
            .await;
        assert_eq!(status, 200, "{body}");
        ids.push(id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nats_outage_delays_events_but_loses_or_reorders_none() {
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
    write_workflows(&app, "before", 10).await;
    app.settled(SETTLE).await;

    nats.stop();
    // Commands keep landing in the store while NATS is down.
    write_workflows(&app, "during", 10).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.restart();
    write_workflows(&app, "after", 10).await;

    let head = app.settled(SETTLE).await;
    assert_eq!(head, 60 + support::SETUP_EVENTS);
    assert_published_once_in_order(&jetstream.settings, head).await;
    assert_read_models_match_log(&app, head).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_publish_and_project_each_event_once() {
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    let Some(first) = TestApp::spawn_with(Backend::Postgres, |args| {
        args.bus = nats_bus(&jetstream.settings)
    })
    .await
    else {
        return;
    };
    let second = TestApp::spawn_sharing(&first, |_| {}).await;

    let (a, b) = tokio::join!(
        write_workflows(&first, "first", 15),
        write_workflows(&second, "second", 15)
    );
    let head = first.settled(SETTLE).await;
    assert_eq!(head, 60 + support::SETUP_EVENTS);
    assert_published_once_in_order(&jetstream.settings, head).await;

    // Both answer queries, reading their own and the other instance's writes.
    for app in [&first, &second] {
        assert_read_models_match_log(app, head).await;
        for id in a.iter().chain(&b) {
            let (status, view) = app
                .get(&format!("/api/v1/workflows/{id}?consistent_with={head}"))
                .await;
            assert_eq!(
                (status, view["status"].as_str()),
                (200, Some("active")),
                "{view}"
            );
        }
    }
}

/// Regression: a fresh (or imported) database pointed at a stream that holds
/// another log must not publish after that log's last position, skipping its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_holding_another_log_is_refused() {
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    let Some(first) = TestApp::spawn_with(Backend::Postgres, |args| {
        args.bus = nats_bus(&jetstream.settings)
    })
    .await
    else {
        return;
    };
    write_workflows(&first, "first", 3).await;
    let head = first.settled(SETTLE).await;
    let (status, ready) = first.get("/health/ready").await;
    assert_eq!(
        (status, ready["checks"]["publisher"]["lag"].as_u64()),
        (200, Some(0)),
        "a caught-up publisher: {ready}"
    );
    drop(first);

    let Some(other) = TestApp::spawn_with(Backend::Postgres, |args| {
        args.bus = nats_bus(&jetstream.settings);
        args.publisher_stall_secs = 1;
    })
    .await
    else {
        return;
    };
    write_workflows(&other, "other", 1).await;
    let (status, ready) = other.get("/health/ready").await;
    assert_eq!(
        (status, ready["checks"]["publisher"]["status"].as_str()),
        (503, Some("ok")),
        "the stream is refused; a publisher just behind is not stalled yet: {ready}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, status) = other.get("/api/v1/projections").await;
    assert_eq!(
        status["publisher"]["position"], 0,
        "nothing published onto the foreign log: {status}"
    );
    // Events wait and the publisher does not move: readiness says so.
    let (status, ready) = other.get("/health/ready").await;
    assert_eq!(
        (status, ready["checks"]["publisher"]["status"].as_str()),
        (503, Some("stalled")),
        "{ready}"
    );
    assert!(
        ready["checks"]["publisher"]["lag"].as_u64() >= Some(1),
        "{ready}"
    );
    assert_published_once_in_order(&jetstream.settings, head).await;
}

/// A message on a `nats_trigger` subject starts one execution — one, not one per
/// instance — and a NATS Publish node answers on another subject.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_messages_start_one_execution_each_and_nats_publish_answers() {
    use futures::StreamExt;

    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    let Some(first) = TestApp::spawn_with(Backend::Postgres, |args| {
        args.bus = nats_bus(&jetstream.settings)
    })
    .await
    else {
        return;
    };
    let second = TestApp::spawn_sharing(&first, |_| {}).await;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let (inbox, outbox) = (
        format!("fftest.{unique}.in"),
        format!("fftest.{unique}.out"),
    );
    let (id, _, _) = first
        .create_workflow(&serde_json::json!({"name": "double", "nodes": [
            {"name": "Inbox", "type": "nats_trigger", "parameters": {"subject": inbox}},
            {"name": "Double", "type": "set", "parameters": {"fields": {"doubled": "{{ $json.payload.n * 2 }}"}}},
            {"name": "Reply", "type": "nats_publish", "parameters": {"subject": outbox}}],
            "connections": {"Inbox": {"main": [[{"node": "Double"}]]}, "Double": {"main": [[{"node": "Reply"}]]}}}))
        .await;
    let (status, _) = first
        .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
        .await;
    assert_eq!(status, 200);

    let client = async_nats::connect(jetstream.settings.url.as_str())
        .await
        .expect("connect");
    let mut replies = client.subscribe(outbox.clone()).await.expect("subscribe");
    // Both instances subscribe within their refresh period (1 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for n in 1..=3 {
        client
            .publish(
                inbox.clone(),
                serde_json::to_vec(&serde_json::json!({"n": n}))
                    .expect("json")
                    .into(),
            )
            .await
            .expect("publish");
    }
    client.flush().await.expect("flush");
    let mut doubled = Vec::new();
    while doubled.len() < 3 {
        let message = tokio::time::timeout(Duration::from_secs(20), replies.next())
            .await
            .expect("a reply within 20 s")
            .expect("subscription open");
        let reply: Value = serde_json::from_slice(&message.payload).expect("JSON reply");
        doubled.push(reply["doubled"].as_i64().expect("doubled"));
    }
    doubled.sort_unstable();
    assert_eq!(doubled, [2, 4, 6]);
    // And no more: each message ran once across the two instances.
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), replies.next())
            .await
            .is_err(),
        "a message ran twice"
    );
    drop(second);
}

/// A subscriber to one workspace's subjects receives that workspace's
/// events and nothing of another's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_workspaces_subjects_carry_its_events_only() {
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |args| {
        args.bus = nats_bus(&jetstream.settings)
    })
    .await
    else {
        return;
    };
    let first = app.first_workspace().await;
    let (_, created) = app
        .post("/api/v1/workspaces", &serde_json::json!({"name": "Second"}))
        .await;
    let second = created["id"].as_str().expect("id").to_owned();
    let (mine, _, _) = app.create_workflow(&simple_workflow("mine", &[])).await;
    let (status, theirs, _) = app
        .send(
            app.http
                .post(app.url("/api/v1/workflows"))
                .header("x-workspace-id", &second)
                .json(&simple_workflow("theirs", &[])),
        )
        .await;
    assert_eq!(status, 201, "{theirs}");
    let theirs = theirs["id"].as_str().expect("id").to_owned();
    let head = app.settled(SETTLE).await;

    let client = async_nats::connect(&jetstream.settings.url)
        .await
        .expect("nats");
    let stream = async_nats::jetstream::new(client)
        .get_stream(&jetstream.settings.stream)
        .await
        .expect("stream");
    let mut of_first = Vec::new();
    for sequence in 1..=head {
        let message = stream.get_raw_message(sequence).await.expect("message");
        if message
            .subject
            .starts_with(&format!("{}.{first}.", jetstream.settings.subject_prefix))
        {
            of_first.push(message.subject.to_string());
        }
    }
    assert!(
        of_first
            .iter()
            .any(|s| s.ends_with(&format!("workflow.{mine}"))),
        "{of_first:?}"
    );
    assert!(
        !of_first.iter().any(|s| s.contains(&theirs)),
        "nothing of the other workspace: {of_first:?}"
    );
}
