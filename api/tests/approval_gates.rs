//! Approval gates (Wait nodes with `resume: webhook`): the resume token is a
//! secret — handed on by the workflow as `$execution.resumeUrl`, never shown
//! by the execution or its events — that resumes its node once, even when
//! several calls race, and the resumption is audited.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{eventually, inbox::Inbox, Backend, TestApp};

const WITHIN: Duration = Duration::from_secs(15);

/// Start → Ask first (posts its link) → First gate → Ask second → Second gate → Done.
fn two_gates(inbox: &str) -> Value {
    json!({"name": "approvals", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Ask first", "type": "http_request", "parameters": {"method": "POST", "url": inbox, "body": {"gate": 1, "link": "{{ $execution.resumeUrl }}"}}},
        {"name": "First gate", "type": "wait", "parameters": {"resume": "webhook"}},
        {"name": "Ask second", "type": "http_request", "parameters": {"method": "POST", "url": inbox, "body": {"gate": 2, "link": "{{ $execution.resumeUrl }}"}}},
        {"name": "Second gate", "type": "wait", "parameters": {"resume": "webhook"}},
        {"name": "Done", "type": "set", "parameters": {"fields": {"approved": "{{ $json.approved }}"}}}],
     "connections": {
        "Start": {"main": [[{"node": "Ask first"}]]},
        "Ask first": {"main": [[{"node": "First gate"}]]},
        "First gate": {"main": [[{"node": "Ask second"}]]},
        "Ask second": {"main": [[{"node": "Second gate"}]]},
        "Second gate": {"main": [[{"node": "Done"}]]}}})
}

async fn start(app: &TestApp, workflow: &str) -> String {
    let (status, body) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    body["execution_id"].as_str().expect("id").to_owned()
}

async fn waiting_at(app: &TestApp, execution: &str, node: &str) -> Value {
    eventually(WITHIN, "the approval gate waits", || async {
        let (_, detail) = app.get(&format!("/api/v1/executions/{execution}")).await;
        let waits = detail["nodes"]
            .as_array()?
            .iter()
            .any(|n| n["node"] == node && n["status"] == "waiting" && n["awaits_resume"] == true);
        waits.then_some(detail)
    })
    .await
}

async fn resume(app: &TestApp, link: &str, actor: &str) -> (u16, Value) {
    let request = app
        .http
        .post(app.url(link))
        .header("X-Actor", actor)
        .json(&json!({"approved": true}));
    let (status, body, _) = app.send(request).await;
    (status, body)
}

fn token_of(link: &str) -> &str {
    link.rsplit('/').next().expect("a token")
}

async fn a_resume_token_is_a_secret_that_works_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (inbox, inbox_url) = Inbox::start().await;
    let (workflow, _, _) = app.create_workflow(&two_gates(&inbox_url)).await;
    let execution = start(&app, &workflow).await;

    let first = inbox.wait_for(1, WITHIN).await[0]["link"]
        .as_str()
        .expect("the first link")
        .to_owned();
    assert!(
        first.starts_with(&format!("/api/v1/executions/{execution}/resume/")),
        "{first}"
    );
    let detail = waiting_at(&app, &execution, "First gate").await;
    let token = token_of(&first);
    assert!(
        !detail.to_string().contains(token),
        "GET execution shows no token: {detail}"
    );
    let (_, events) = app
        .get(&format!("/api/v1/streams/execution/{execution}"))
        .await;
    assert!(
        !events.to_string().contains(token),
        "the events hold no token: {events}"
    );

    let head = app.head().await;
    let forged = format!(
        "{}{}",
        &first[..first.len() - 1],
        if first.ends_with('0') { '1' } else { '0' }
    );
    let (status, body) = resume(&app, &forged, "mallory").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = resume(
        &app,
        &format!("/api/v1/executions/{execution}/resume/"),
        "mallory",
    )
    .await;
    assert!(status == 404 || status == 405, "{status} {body}");
    assert_eq!(app.head().await, head, "a wrong token changes nothing");

    let (status, body) = resume(&app, &first, "alice").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["node"], "First gate");

    let second = inbox.wait_for(2, WITHIN).await[1]["link"]
        .as_str()
        .expect("the second link")
        .to_owned();
    assert_ne!(second, first, "each gate has its own link");
    waiting_at(&app, &execution, "Second gate").await;
    let head = app.head().await;
    let (status, body) = resume(&app, &first, "alice").await;
    assert_eq!(
        status, 404,
        "a used token resumes nothing, not even the next gate: {body}"
    );
    assert_eq!(app.head().await, head);

    let (status, body) = resume(&app, &second, "bob").await;
    assert_eq!(status, 200, "{body}");
    let detail = eventually(WITHIN, "the approved execution succeeds", || async {
        let (_, detail) = app.get(&format!("/api/v1/executions/{execution}")).await;
        (detail["status"] == "succeeded").then_some(detail)
    })
    .await;
    assert_eq!(detail["output"], json!([[{"approved": true}]]));

    let head = app.head().await;
    let (status, entries) = app
        .get(&format!(
            "/api/v1/audit?aggregate_type=execution&aggregate_id={execution}&consistent_with={head}"
        ))
        .await;
    assert_eq!(status, 200, "{entries}");
    let resumed: Vec<&str> = entries["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["event_type"] == "NodeResumed")
        .map(|e| e["actor"].as_str().expect("actor"))
        .collect();
    // Who resumed is the signed-in caller; the X-Actor header is ignored.
    let owner = app.owner_actor().await;
    assert_eq!(resumed, [owner.as_str(), owner.as_str()], "{entries}");
    let (_, events) = app
        .get(&format!("/api/v1/streams/execution/{execution}"))
        .await;
    let resumed_by: Vec<&Value> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event_type"] == "NodeResumed")
        .map(|e| &e["payload"]["resumed_by"])
        .collect();
    assert_eq!(resumed_by, [&json!(owner), &json!(owner)], "{events}");
}

for_each_backend!(a_resume_token_is_a_secret_that_works_once);

/// Calls with one token race on two instances: exactly one resumes the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_resumes_on_two_instances_resume_once() {
    let Some(one) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let two = TestApp::spawn_sharing(&one, |_| {}).await;
    let (inbox, inbox_url) = Inbox::start().await;
    let (workflow, _, _) = one.create_workflow(&json!({"name": "gate", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Ask", "type": "http_request", "parameters": {"method": "POST", "url": inbox_url, "body": {"link": "{{ $execution.resumeUrl }}"}}},
        {"name": "Gate", "type": "wait", "parameters": {"resume": "webhook"}}],
        "connections": {"Start": {"main": [[{"node": "Ask"}]]}, "Ask": {"main": [[{"node": "Gate"}]]}}}))
        .await;
    for round in 0..3 {
        let execution = start(&one, &workflow).await;
        let link = inbox.wait_for(round + 1, WITHIN).await[round]["link"]
            .as_str()
            .expect("link")
            .to_owned();
        waiting_at(&one, &execution, "Gate").await;
        let calls = (0..8).map(|n| {
            let app = if n % 2 == 0 { &one } else { &two };
            resume(app, &link, "racer")
        });
        let answers = futures::future::join_all(calls).await;
        let won = answers.iter().filter(|(status, _)| *status == 200).count();
        assert_eq!(won, 1, "round {round}: {answers:?}");
        assert!(
            answers
                .iter()
                .all(|(status, _)| [200, 404, 409].contains(status)),
            "{answers:?}"
        );
        let (_, events) = one
            .get(&format!("/api/v1/streams/execution/{execution}"))
            .await;
        let resumptions = events["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["event_type"] == "NodeResumed")
            .count();
        assert_eq!(resumptions, 1, "round {round}");
    }
}
