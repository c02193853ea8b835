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

for_each_backend!(sum_webhook_answers_with_the_true_branch,);
