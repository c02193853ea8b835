//! Waiting executions: resumed when called, or cancelled.

use super::*;

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

for_each_backend!(a_wait_resumes_when_called, cancel_stops_a_waiting_execution,);
