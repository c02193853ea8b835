//! Bad runs are refused and record nothing.

use super::*;

async fn bad_runs_are_refused_and_record_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _, _) = app
        .create_workflow(&support::simple_workflow("w", &[]))
        .await;
    let (archived, _, _) = app
        .create_workflow(&support::simple_workflow("gone", &[]))
        .await;
    let (status, _, _) = app
        .send(
            app.http
                .delete(app.url(&format!("/api/v1/workflows/{archived}"))),
        )
        .await;
    assert_eq!(status, 200);
    let head = app.head().await;
    let unknown = "0195f3a0-0000-7000-8000-00000000beef";
    let cases = [
        (
            format!("/api/v1/workflows/{id}/executions"),
            json!({"input": [1, 2]}),
            400,
            "invalid_body",
        ),
        (
            format!("/api/v1/workflows/{id}/executions"),
            json!({"items": []}),
            400,
            "invalid_body",
        ),
        (
            format!("/api/v1/workflows/{unknown}/executions"),
            json!({}),
            404,
            "not_found",
        ),
        (
            format!("/api/v1/workflows/{archived}/executions"),
            json!({}),
            409,
            "workflow_archived",
        ),
        (
            "/webhook/nobody-home".to_owned(),
            json!({}),
            404,
            "not_found",
        ),
        (
            format!("/api/v1/executions/{unknown}/cancel"),
            json!({}),
            404,
            "not_found",
        ),
    ];
    for (path, body, status, code) in cases {
        let (got, answer) = app.post(&path, &body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {answer}"
        );
    }
    let (status, _) = app.get(&format!("/api/v1/executions/{unknown}")).await;
    assert_eq!(status, 404);
    assert_eq!(app.head().await, head, "nothing recorded");
}

for_each_backend!(bad_runs_are_refused_and_record_nothing,);
