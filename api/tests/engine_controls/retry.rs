//! Retry from the failed node: what succeeded is reused.

use super::*;

async fn a_retry_reuses_what_succeeded_and_runs_from_the_failed_node(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (before, before_url) = FlakyServer::start(0).await;
    let (flaky, flaky_url) = FlakyServer::start(1).await;
    let (id, _, _) = app
        .create_workflow(&json!({"name": "book", "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Reserve", "type": "http_request", "parameters": {"method": "POST", "url": before_url}},
            {"name": "Pay", "type": "http_request", "parameters": {"method": "POST", "url": flaky_url}},
            {"name": "Done", "type": "set", "parameters": {"fields": {"paid": "{{ $json.ok }}"}}}],
            "connections": {"Start": {"main": [[{"node": "Reserve"}]]},
                            "Reserve": {"main": [[{"node": "Pay"}]]},
                            "Pay": {"main": [[{"node": "Done"}]]}}}))
        .await;
    let run = run_to_end(&app, &id, json!([{"order": 7}])).await;
    assert_eq!(
        (run["status"].as_str(), run["failure"]["node"].as_str()),
        (Some("failed"), Some("Pay")),
        "{run}"
    );
    let failed = run["execution_id"].as_str().expect("id");

    let (status, retry) = app
        .post(&format!("/api/v1/executions/{failed}/retry"), &json!({}))
        .await;
    assert_eq!(status, 202, "{retry}");
    assert_eq!(retry["retry_of"], failed);
    let retried = retry["execution_id"].as_str().expect("id");
    let detail = wait_until_finished(&app, retried, Duration::from_secs(20)).await;
    assert_eq!(detail["status"], "succeeded", "{detail}");
    assert_eq!(detail["output"][0][0]["paid"], true, "{detail}");
    assert_eq!(before.calls().len(), 1, "Reserve's output was reused");
    assert_eq!(flaky.calls().len(), 2, "Pay ran again");
    assert_eq!(detail["trigger"]["kind"], "retry");
    assert_eq!(detail["trigger"]["details"]["retry_of"], failed);
    assert!(node(&detail, "Reserve").is_none(), "{detail}");
    assert!(node(&detail, "Pay").is_some(), "{detail}");

    // Only a failed or cancelled execution can be retried, and nothing is recorded otherwise.
    let head = app.head().await;
    let (status, body) = app
        .post(&format!("/api/v1/executions/{retried}/retry"), &json!({}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_retryable")),
        "{body}"
    );
    let (status, _) = app
        .post(
            "/api/v1/executions/0190f1c2-0000-7000-8000-00000000beef/retry",
            &json!({}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.head().await, head);
}

for_each_backend!(a_retry_reuses_what_succeeded_and_runs_from_the_failed_node,);
