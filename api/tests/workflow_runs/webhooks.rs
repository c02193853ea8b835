//! A webhook workflow answers with its last node's output, once active.

use super::*;

async fn sum_webhook_answers_with_the_true_branch(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&json!({"name": "sum", "nodes": [
            {"name": "Start", "type": "webhook", "parameters": {"path": "sum", "method": "POST", "response_mode": "last_node"}},
            {"name": "Total", "type": "set", "parameters": {"fields": {"total": "{{ $json.body.a + $json.body.b }}"}}},
            {"name": "Big", "type": "if", "parameters": {"condition": "{{ $json.total > 10 }}"}}],
            "connections": {"Start": {"main": [[{"node": "Total"}]]}, "Total": {"main": [[{"node": "Big"}]]}}}))
        .await;
    let (status, body) = app.post("/webhook/sum", &json!({"a": 4, "b": 9})).await;
    assert_eq!(
        status, 404,
        "inactive workflows do not answer webhooks: {body}"
    );
    activate(&app, &id).await;
    let (status, body) = app.post("/webhook/sum", &json!({"a": 4, "b": 9})).await;
    assert_eq!((status, body), (200, json!({"total": 13})));
}

/// HMAC-SHA256 of `<timestamp>.<body>` under `secret`, in hex.
fn signature(secret: &str, timestamp: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn a_signed_webhook_refuses_unsigned_forged_and_stale_calls_and_starts_nothing(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let workflow = |auth: Value| {
        json!({"name": "signed", "nodes": [
            {"name": "Start", "type": "webhook", "parameters": {
                "path": "signed", "response_mode": "last_node", "authentication": auth}},
            {"name": "Echo", "type": "set", "parameters": {"fields": {"order": "{{ $json.body.order }}"}}}],
            "connections": {"Start": {"main": [[{"node": "Echo"}]]}}})
    };
    // A check that does not read is refused when the workflow is saved.
    let (status, body) = app
        .post(
            "/api/v1/workflows",
            &workflow(json!({"type": "hmac_sha256", "secret": ""})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["details"]["node"].as_str()),
        (422, Some("Start")),
        "{body}"
    );
    let (id, _, _) = app
        .create_workflow(&workflow(
            json!({"type": "hmac_sha256", "secret": "shared secret"}),
        ))
        .await;
    activate(&app, &id).await;
    app.settled(std::time::Duration::from_secs(20)).await;

    let body = r#"{"order": 42}"#;
    let now = chrono::Utc::now().timestamp().to_string();
    let stale = (chrono::Utc::now().timestamp() - 3600).to_string();
    let call = |signature: Option<String>, timestamp: &str| {
        let mut request = reqwest::Client::new()
            .post(app.url("/webhook/signed"))
            .header("content-type", "application/json")
            .header("x-timestamp", timestamp)
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-signature", signature);
        }
        request
    };
    let head = app.head().await;
    for (what, request) in [
        ("unsigned", call(None, &now)),
        (
            "signed with another secret",
            call(Some(signature("guess", &now, body)), &now),
        ),
        (
            "signed over another body",
            call(Some(signature("shared secret", &now, "{}")), &now),
        ),
        (
            "an old signature replayed",
            call(Some(signature("shared secret", &stale, body)), &stale),
        ),
    ] {
        let (status, answer, _) = app.send(request).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (401, Some("webhook_unauthorized")),
            "{what}: {answer}"
        );
    }
    assert_eq!(app.head().await, head, "a refused call starts nothing");

    let signed = format!("sha256={}", signature("shared secret", &now, body));
    let (status, answer, _) = app.send(call(Some(signed), &now)).await;
    assert_eq!((status, answer), (200, json!({"order": 42})));
}

async fn a_webhook_with_a_header_token_answers_only_with_it(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&json!({"name": "token", "nodes": [
            {"name": "Start", "type": "webhook", "parameters": {
                "path": "token", "response_mode": "last_node",
                "authentication": {"type": "header", "name": "X-Hook-Token", "value": "t0ken"}}}]}))
        .await;
    activate(&app, &id).await;
    let anonymous = reqwest::Client::new();
    let (status, _, _) = app
        .send(anonymous.post(app.url("/webhook/token")).json(&json!({})))
        .await;
    assert_eq!(status, 401);
    let (status, _, _) = app
        .send(
            anonymous
                .post(app.url("/webhook/token"))
                .header("x-hook-token", "t0ken")
                .json(&json!({})),
        )
        .await;
    assert_eq!(status, 200);
}

for_each_backend!(
    sum_webhook_answers_with_the_true_branch,
    a_signed_webhook_refuses_unsigned_forged_and_stale_calls_and_starts_nothing,
    a_webhook_with_a_header_token_answers_only_with_it,
);
