//! Health, readiness and the OpenAPI document.

use super::*;

async fn health_and_openapi(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(
        app.get("/health/live").await,
        (200, json!({"status": "ok"}))
    );
    // Ready once the executions earlier processes left open are resumed,
    // which on a busy machine can take a moment after the listener is up.
    let ready = eventually(Duration::from_secs(30), "the instance is ready", || async {
        let (status, ready) = app.get("/health/ready").await;
        (status == 200).then_some(ready)
    })
    .await;
    assert_eq!(ready["checks"]["store"], "ok", "{ready}");

    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let expected = [
        ("/api/v1/workflows", vec!["get", "post"]),
        ("/api/v1/workflows/{id}", vec!["delete", "get", "put"]),
        ("/api/v1/workflows/{id}/activate", vec!["post"]),
        ("/api/v1/workflows/{id}/deactivate", vec!["post"]),
        ("/api/v1/streams/{aggregate_type}/{id}", vec!["get"]),
        ("/api/v1/events", vec!["get"]),
        ("/api/v1/audit", vec!["get"]),
        ("/api/v1/workflows/{id}/executions", vec!["post"]),
        ("/api/v1/executions", vec!["get"]),
        ("/api/v1/executions/{id}", vec!["get"]),
        ("/api/v1/executions/{id}/cancel", vec!["post"]),
        ("/api/v1/executions/{id}/resume/{token}", vec!["post"]),
        ("/api/v1/executions/{id}/retry", vec!["post"]),
        ("/api/v1/executions/{id}/stream", vec!["get"]),
        ("/api/v1/sagas", vec!["get"]),
        ("/api/v1/sagas/{id}", vec!["get"]),
        ("/api/v1/sagas/{id}/retry", vec!["post"]),
        ("/api/v1/sagas/{id}/skip-step", vec!["post"]),
        ("/webhook/{path}", vec!["post"]),
        ("/workspaces/{workspace_id}/webhook/{path}", vec!["post"]),
        ("/api/v1/projections", vec!["get"]),
        ("/api/v1/openapi.json", vec!["get"]),
        ("/metrics", vec!["get"]),
        ("/health/live", vec!["get"]),
        ("/health/ready", vec!["get"]),
        ("/api/v1/auth/register", vec!["post"]),
        ("/api/v1/auth/login", vec!["post"]),
        ("/api/v1/auth/refresh", vec!["post"]),
        ("/api/v1/auth/logout", vec!["post"]),
        ("/api/v1/me", vec!["get"]),
        ("/api/v1/me/password", vec!["post"]),
        ("/api/v1/me/totp", vec!["post"]),
        ("/api/v1/me/totp/confirm", vec!["post"]),
        ("/api/v1/me/totp/disable", vec!["post"]),
        ("/api/v1/credentials", vec!["get", "post"]),
        ("/api/v1/credentials/{id}", vec!["delete", "get", "put"]),
        ("/api/v1/credentials/{id}/test", vec!["post"]),
        ("/api/v1/credentials/{id}/shares", vec!["post"]),
        ("/api/v1/credentials/{id}/oauth2/authorize", vec!["post"]),
        ("/api/v1/oauth2/callback", vec!["get"]),
        (
            "/api/v1/credentials/{id}/shares/{workspace_id}",
            vec!["delete"],
        ),
        ("/api/v1/variables", vec!["get"]),
        ("/api/v1/variables/{name}", vec!["delete", "put"]),
        ("/api/v1/me/sessions/{id}", vec!["delete"]),
        ("/api/v1/workspaces", vec!["get", "post"]),
        ("/api/v1/workspaces/{id}/invitations", vec!["post"]),
        ("/api/v1/workspaces/{id}/members", vec!["get"]),
        (
            "/api/v1/workspaces/{id}/members/{user}",
            vec!["delete", "get", "patch"],
        ),
        ("/api/v1/invitations/accept", vec!["post"]),
        ("/api/v1/api-keys", vec!["get", "post"]),
        ("/api/v1/api-keys/{id}", vec!["delete"]),
    ];
    let paths = doc["paths"].as_object().expect("paths");
    assert_eq!(
        paths.len(),
        expected.len(),
        "documented paths: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (path, methods) in expected {
        let mut documented: Vec<&str> = paths[path]
            .as_object()
            .expect(path)
            .keys()
            .map(String::as_str)
            .collect();
        documented.sort_unstable();
        assert_eq!(documented, methods, "{path}");
        // Every documented route answers (anything but the router's own 404/405).
        for method in methods {
            let url = app.url(
                &path
                    .replace("{id}", "0195f3a0-0000-7000-8000-000000000000")
                    .replace("{aggregate_type}", "workflow")
                    .replace("{user}", "0195f3a0-0000-7000-8000-000000000001")
                    .replace("{path}", "nothing-here")
                    .replace("{token}", "no-such-token"),
            );
            let request = app
                .http
                .request(method.to_uppercase().parse().expect("method"), url)
                .json(&json!({}));
            let response = request.send().await.expect("request reaches the server");
            let status = response.status().as_u16();
            // `/metrics` answers text, every other route JSON.
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            assert!(
                status != 405 && !(status == 404 && body["error"]["message"] == "route not found"),
                "{method} {path}: {status}"
            );
        }
    }
}

for_each_backend!(health_and_openapi,);
