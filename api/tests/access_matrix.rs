//! Who may call what, through the real server: every route of the API (read
//! from the OpenAPI document, so a new route without an entry here fails
//! the test) called anonymously, as each role of a workspace, and with API
//! keys, gets 401 without credentials, 403 where the role lacks the
//! permission, and gets past the guard (neither 401 nor 403, never 500)
//! where it has it. Then the workspace life: first owner, closed
//! registration, invitations, roles, API keys, and another workspace's ids
//! answering 404.

mod support;

use std::collections::BTreeSet;

use serde_json::{json, Value};
use support::{Backend, TestApp};

/// What a route needs, as this test expects it (written apart from the
/// server's own table, so the two check each other).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Needs {
    Public,
    /// A signed-in account (an API key is refused with 401).
    Account,
    Read,
    Run,
    Edit,
    Administer,
    /// Administer, by a signed-in account (keys do not make keys).
    AdministerAsAccount,
    Own,
}

const EXPECTED: &[(&str, &str, Needs)] = &[
    ("GET", "/health/live", Needs::Public),
    ("GET", "/health/ready", Needs::Public),
    ("GET", "/metrics", Needs::Public),
    ("GET", "/api/v1/openapi.json", Needs::Public),
    ("POST", "/api/v1/auth/register", Needs::Public),
    ("POST", "/api/v1/auth/login", Needs::Public),
    ("POST", "/api/v1/auth/refresh", Needs::Public),
    ("POST", "/webhook/{path}", Needs::Public),
    (
        "POST",
        "/workspaces/{workspace_id}/webhook/{path}",
        Needs::Public,
    ),
    ("POST", "/api/v1/auth/logout", Needs::Account),
    ("GET", "/api/v1/me", Needs::Account),
    ("POST", "/api/v1/me/password", Needs::Account),
    ("GET", "/api/v1/credentials", Needs::Read),
    ("POST", "/api/v1/credentials", Needs::Edit),
    ("GET", "/api/v1/credentials/{id}", Needs::Read),
    ("PUT", "/api/v1/credentials/{id}", Needs::Edit),
    ("DELETE", "/api/v1/credentials/{id}", Needs::Edit),
    ("POST", "/api/v1/credentials/{id}/test", Needs::Edit),
    ("POST", "/api/v1/credentials/{id}/shares", Needs::Administer),
    (
        "POST",
        "/api/v1/credentials/{id}/oauth2/authorize",
        Needs::Edit,
    ),
    ("GET", "/api/v1/oauth2/callback", Needs::Public),
    (
        "DELETE",
        "/api/v1/credentials/{id}/shares/{workspace_id}",
        Needs::Administer,
    ),
    ("GET", "/api/v1/variables", Needs::Read),
    ("PUT", "/api/v1/variables/{name}", Needs::Edit),
    ("DELETE", "/api/v1/variables/{name}", Needs::Edit),
    ("POST", "/api/v1/me/totp", Needs::Account),
    ("POST", "/api/v1/me/totp/confirm", Needs::Account),
    ("POST", "/api/v1/me/totp/disable", Needs::Account),
    ("DELETE", "/api/v1/me/sessions/{id}", Needs::Account),
    ("GET", "/api/v1/workspaces", Needs::Account),
    ("POST", "/api/v1/workspaces", Needs::Account),
    ("POST", "/api/v1/invitations/accept", Needs::Account),
    (
        "POST",
        "/api/v1/workspaces/{id}/invitations",
        Needs::Administer,
    ),
    ("GET", "/api/v1/workspaces/{id}/members", Needs::Read),
    ("GET", "/api/v1/workspaces/{id}/members/{user}", Needs::Read),
    (
        "PATCH",
        "/api/v1/workspaces/{id}/members/{user}",
        Needs::Administer,
    ),
    (
        "DELETE",
        "/api/v1/workspaces/{id}/members/{user}",
        Needs::Administer,
    ),
    ("GET", "/api/v1/api-keys", Needs::Administer),
    ("POST", "/api/v1/api-keys", Needs::AdministerAsAccount),
    ("DELETE", "/api/v1/api-keys/{id}", Needs::Administer),
    ("GET", "/api/v1/workflows", Needs::Read),
    ("POST", "/api/v1/workflows", Needs::Edit),
    ("GET", "/api/v1/workflows/{id}", Needs::Read),
    ("PUT", "/api/v1/workflows/{id}", Needs::Edit),
    ("DELETE", "/api/v1/workflows/{id}", Needs::Edit),
    ("POST", "/api/v1/workflows/{id}/activate", Needs::Edit),
    ("POST", "/api/v1/workflows/{id}/deactivate", Needs::Edit),
    ("POST", "/api/v1/workflows/{id}/executions", Needs::Run),
    ("GET", "/api/v1/executions", Needs::Read),
    ("GET", "/api/v1/executions/{id}", Needs::Read),
    ("GET", "/api/v1/executions/{id}/stream", Needs::Read),
    ("POST", "/api/v1/executions/{id}/cancel", Needs::Edit),
    ("POST", "/api/v1/executions/{id}/retry", Needs::Edit),
    ("POST", "/api/v1/executions/{id}/resume/{token}", Needs::Run),
    ("GET", "/api/v1/sagas", Needs::Read),
    ("GET", "/api/v1/sagas/{id}", Needs::Read),
    ("POST", "/api/v1/sagas/{id}/retry", Needs::Edit),
    ("POST", "/api/v1/sagas/{id}/skip-step", Needs::Edit),
    ("GET", "/api/v1/audit", Needs::Read),
    ("GET", "/api/v1/events", Needs::Own),
    ("GET", "/api/v1/streams/{aggregate_type}/{id}", Needs::Own),
    ("GET", "/api/v1/projections", Needs::Own),
];

/// A caller of the matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    Member(&'static str),
    Key(&'static str),
}

/// Whether `who` has what `needs` asks for.
fn allowed(who: Who, needs: Needs) -> bool {
    let rank = |role: &str| match role {
        "owner" => 4,
        "admin" => 3,
        "editor" => 2,
        "viewer" => 1,
        _ => 0,
    };
    let permits = |role: &str, needs: Needs| match needs {
        Needs::Public | Needs::Account => true,
        Needs::Run => role != "viewer",
        Needs::Read => rank(role) >= 1,
        Needs::Edit => rank(role) >= 2,
        Needs::Administer | Needs::AdministerAsAccount => rank(role) >= 3,
        Needs::Own => rank(role) >= 4,
    };
    match who {
        Who::Anonymous => needs == Needs::Public,
        Who::Member(role) => permits(role, needs),
        Who::Key(role) => {
            !matches!(needs, Needs::Account | Needs::AdministerAsAccount) && permits(role, needs)
        }
    }
}

fn client(header: Option<(&str, String)>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some((name, value)) = header {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

fn bearer(token: &str) -> reqwest::Client {
    client(Some(("authorization", format!("Bearer {token}"))))
}

async fn call(
    http: &reqwest::Client,
    method: &str,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http.request(method.parse().expect("method"), url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Invites `email` as `role` into the owner's workspace, registers it with
/// the invitation and signs it in; returns its access token.
async fn member(app: &TestApp, workspace: &str, email: &str, role: &str) -> String {
    let (status, invited) = app
        .post(
            &format!("/api/v1/workspaces/{workspace}/invitations"),
            &json!({"email": email, "role": role}),
        )
        .await;
    assert_eq!(status, 201, "{invited}");
    let anonymous = reqwest::Client::new();
    let (status, body) = call(
        &anonymous,
        "POST",
        app.url("/api/v1/auth/register"),
        Some(json!({"email": email, "password": support::OWNER_PASSWORD, "name": role, "invitation": invited["token"]})),
    )
    .await;
    assert_eq!(
        (status, body["workspace_id"].as_str()),
        (201, Some(workspace)),
        "{body}"
    );
    sign_in(app, email).await
}

async fn sign_in(app: &TestApp, email: &str) -> String {
    let (status, tokens) = call(
        &reqwest::Client::new(),
        "POST",
        app.url("/api/v1/auth/login"),
        Some(json!({"email": email, "password": support::OWNER_PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens["access_token"].as_str().expect("token").to_owned()
}

async fn api_key(app: &TestApp, role: &str) -> String {
    let (status, created) = app
        .post("/api/v1/api-keys", &json!({"name": role, "role": role}))
        .await;
    assert_eq!(status, 201, "{created}");
    created["key"].as_str().expect("key").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_role_as_the_access_table_says() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("the embedded store needs no service");
    let workspace = app.first_workspace().await;

    // Every documented operation has an entry, and every entry a route.
    let documented: BTreeSet<(String, String)> = flowforge_api::routes::openapi()
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ]
            .into_iter()
            .filter(|(_, present)| *present)
            .map(|(method, _)| (method.to_owned(), path.clone()))
            .collect::<Vec<_>>()
        })
        .collect();
    let listed: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(method, path, _)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(documented, listed, "every route needs an entry in EXPECTED");

    let mut callers: Vec<(Who, reqwest::Client)> = vec![
        (Who::Anonymous, reqwest::Client::new()),
        (Who::Member("owner"), app.http.clone()),
    ];
    for role in ["admin", "editor", "viewer", "runner"] {
        let token = member(&app, &workspace, &format!("{role}@example.com"), role).await;
        callers.push((Who::Member(role), bearer(&token)));
    }
    for role in ["admin", "editor", "viewer", "runner"] {
        let key = api_key(&app, role).await;
        // Both ways of sending a key, alternately.
        let http = if role == "editor" || role == "runner" {
            client(Some(("x-api-key", key)))
        } else {
            bearer(&key)
        };
        callers.push((Who::Key(role), http));
    }

    let mut checked = 0;
    // Logging out ends the caller's session, so it goes last.
    let mut order: Vec<&(&str, &str, Needs)> = EXPECTED.iter().collect();
    order.sort_by_key(|(_, path, _)| *path == "/api/v1/auth/logout");
    for (method, path, needs) in order {
        let url = app.url(
            &path
                .replace("/workspaces/{id}", &format!("/workspaces/{workspace}"))
                .replace("{workspace_id}", &workspace)
                .replace("{id}", "0195f3a0-0000-7000-8000-00000000dead")
                .replace("{user}", "0195f3a0-0000-7000-8000-00000000beef")
                .replace("{aggregate_type}", "workflow")
                .replace("{path}", "nothing-here")
                .replace("{token}", "no-such-token")
                .replace("{name}", "region"),
        );
        let body = (*method != "GET" && *method != "DELETE").then(|| json!({}));
        for (who, http) in &callers {
            let (status, answer) = call(http, method, url.clone(), body.clone()).await;
            let verdict = if allowed(*who, *needs) {
                // A 403 that is not `forbidden` is the route's own refusal
                // (an OAuth 2.0 callback without a grant), not access control.
                let denied = status == 403 && answer["error"]["code"] == "forbidden";
                !(matches!(status, 401 | 500) || denied)
            } else if *who == Who::Anonymous
                || matches!(needs, Needs::Account | Needs::AdministerAsAccount)
                    && matches!(who, Who::Key(_))
            {
                status == 401
            } else {
                status == 403 && answer["error"]["code"] == "forbidden"
            };
            assert!(
                verdict,
                "{method} {path} as {who:?} ({needs:?}): {status} {answer}"
            );
            checked += 1;
        }
    }
    println!(
        "access matrix: {} routes x {} callers = {checked} requests, all as expected",
        EXPECTED.len(),
        callers.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_by_invitation_after_the_first_owner() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("the embedded store needs no service");
    let anonymous = reqwest::Client::new();
    let head = app.head().await;
    let (status, body) = call(
        &anonymous,
        "POST",
        app.url("/api/v1/auth/register"),
        Some(
            json!({"email": "eve@example.com", "password": support::OWNER_PASSWORD, "name": "Eve"}),
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("registration_closed")),
        "{body}"
    );
    let (status, body) = call(
        &anonymous,
        "POST",
        app.url("/api/v1/auth/register"),
        Some(json!({"email": "eve@example.com", "password": support::OWNER_PASSWORD, "name": "Eve", "invitation": "not.an.invitation"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_invitation")),
        "{body}"
    );
    assert_eq!(
        app.head().await,
        head,
        "a refused registration records nothing"
    );

    // An invitation for another address is refused, and records nothing.
    let workspace = app.first_workspace().await;
    let (_, invited) = app
        .post(
            &format!("/api/v1/workspaces/{workspace}/invitations"),
            &json!({"email": "bo@example.com", "role": "viewer"}),
        )
        .await;
    let head = app.head().await;
    let (status, body) = call(
        &anonymous,
        "POST",
        app.url("/api/v1/auth/register"),
        Some(json!({"email": "eve@example.com", "password": support::OWNER_PASSWORD, "name": "Eve", "invitation": invited["token"]})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_invitation")),
        "{body}"
    );
    assert_eq!(app.head().await, head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_workspaces_ids_answer_404_and_roles_change_at_once() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("the embedded store needs no service");
    let first = app.first_workspace().await;
    let second = app.create_workspace("Second").await;

    // An editor of the first workspace cannot see into the second.
    let editor = bearer(&member(&app, &first, "ed@example.com", "editor").await);
    let (status, body) = call(
        &editor,
        "GET",
        app.url(&format!("/api/v1/workspaces/{second}/members")),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let head = app.head().await;
    let (status, _) = call(&editor.clone(), "POST", app.url("/api/v1/workflows"), None).await;
    assert_eq!(status, 415, "a JSON body is needed");
    let mut named = reqwest::header::HeaderMap::new();
    named.insert("x-workspace-id", second.parse().expect("header"));
    let (status, _) = call(
        &reqwest::Client::builder()
            .default_headers(named)
            .build()
            .expect("client"),
        "GET",
        app.url("/api/v1/workflows"),
        None,
    )
    .await;
    assert_eq!(status, 401, "a workspace header is no credential");
    let response = editor
        .get(app.url("/api/v1/workflows"))
        .header("x-workspace-id", &second)
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status().as_u16(),
        404,
        "not a member of the second"
    );
    assert_eq!(app.head().await, head, "nothing was recorded");

    // The owner's key of the first workspace cannot act in the second.
    let key = api_key(&app, "viewer").await;
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/workflows"))
        .header("x-api-key", &key)
        .header("x-workspace-id", &second)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 404);

    // A role change takes effect on the next request, with the same token.
    let (_, members) = app
        .get(&format!("/api/v1/workspaces/{first}/members"))
        .await;
    let editor_id = members
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["email"] == "ed@example.com")
        .expect("the editor")["user_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, body, _) = app
        .send(
            app.http
                .patch(app.url(&format!("/api/v1/workspaces/{first}/members/{editor_id}")))
                .json(&json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(
        (status, body["role"].as_str()),
        (200, Some("viewer")),
        "{body}"
    );
    let (status, body) = call(
        &editor,
        "POST",
        app.url("/api/v1/workflows"),
        Some(support::simple_workflow("not any more", &[])),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );

    // The last owner stays; a revoked key stops working.
    let (_, owner) = app.get("/api/v1/me").await;
    let (status, body, _) = app
        .send(app.http.delete(app.url(&format!(
            "/api/v1/workspaces/{first}/members/{}",
            owner["id"].as_str().expect("id")
        ))))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("last_owner")),
        "{body}"
    );
    let (_, keys) = app.get("/api/v1/api-keys").await;
    let key_id = keys[0]["id"].as_str().expect("key id").to_owned();
    assert!(
        keys[0].get("key").is_none(),
        "the secret is never listed: {keys}"
    );
    let (status, _, _) = app
        .send(
            app.http
                .delete(app.url(&format!("/api/v1/api-keys/{key_id}"))),
        )
        .await;
    assert_eq!(status, 204);
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/workflows"))
        .header("x-api-key", &key)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);
}

/// A client acting as `http` does, in workspace `workspace`.
async fn in_workspace(
    http: &reqwest::Client,
    method: &str,
    url: String,
    workspace: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http
        .request(method.parse().expect("method"), url)
        .header("x-workspace-id", workspace);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspaces_workflows_executions_and_events_stay_in_it() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("the embedded store needs no service");
    let first = app.first_workspace().await;
    let second = app.create_workspace("Second").await;

    // The same workflow in both; the second one runs once.
    let (mine, _, _) = app
        .create_workflow(&support::simple_workflow("same", &["t"]))
        .await;
    let (status, theirs) = in_workspace(
        &app.http,
        "POST",
        app.url("/api/v1/workflows"),
        &second,
        Some(support::simple_workflow("same", &["t"])),
    )
    .await;
    assert_eq!(status, 201, "{theirs}");
    let theirs = theirs["id"].as_str().expect("id").to_owned();
    let (status, run) = in_workspace(
        &app.http,
        "POST",
        app.url(&format!("/api/v1/workflows/{theirs}/executions?wait=true")),
        &second,
        Some(json!({"input": [{}]})),
    )
    .await;
    assert_eq!(status, 200, "{run}");
    let execution = run["execution_id"].as_str().expect("execution").to_owned();
    app.settled(std::time::Duration::from_secs(20)).await;

    // Callers of the first workspace: an editor, an admin key, and the
    // owner acting there.
    let editor = bearer(&member(&app, &first, "ed2@example.com", "editor").await);
    let key = client(Some(("x-api-key", api_key(&app, "admin").await)));
    // The key's first use is recorded (once per ten minutes); from here on
    // nothing may be.
    call(&key, "GET", app.url("/api/v1/workflows"), None).await;
    let head = app.head().await;
    for (who, http) in [
        ("editor", &editor),
        ("admin key", &key),
        ("owner", &app.http),
    ] {
        let (status, page) = call(http, "GET", app.url("/api/v1/workflows"), None).await;
        assert_eq!(status, 200, "{who}: {page}");
        let ids: Vec<&str> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|w| w["id"].as_str())
            .collect();
        assert_eq!(
            ids,
            [mine.as_str()],
            "{who} lists only its workspace's workflow"
        );
        for (method, path, body) in [
            ("GET", format!("/api/v1/workflows/{theirs}"), None),
            (
                "PUT",
                format!("/api/v1/workflows/{theirs}"),
                Some(support::simple_workflow("x", &[])),
            ),
            ("POST", format!("/api/v1/workflows/{theirs}/activate"), None),
            ("DELETE", format!("/api/v1/workflows/{theirs}"), None),
            (
                "POST",
                format!("/api/v1/workflows/{theirs}/executions"),
                Some(json!({})),
            ),
            ("GET", format!("/api/v1/executions/{execution}"), None),
            (
                "GET",
                format!("/api/v1/executions/{execution}/stream"),
                None,
            ),
            (
                "POST",
                format!("/api/v1/executions/{execution}/cancel"),
                Some(json!({})),
            ),
            (
                "POST",
                format!("/api/v1/executions/{execution}/retry"),
                None,
            ),
            ("GET", format!("/api/v1/sagas/{execution}"), None),
        ] {
            let (status, answer) = call(http, method, app.url(&path), body).await;
            assert_eq!(status, 404, "{who}: {method} {path}: {answer}");
        }
        let (_, executions) = call(http, "GET", app.url("/api/v1/executions"), None).await;
        assert_eq!(executions["items"], json!([]), "{who}: {executions}");
        let (_, audit) = call(http, "GET", app.url("/api/v1/audit?limit=1000"), None).await;
        assert!(
            !audit.to_string().contains(&theirs) && !audit.to_string().contains(&execution),
            "{who}: the audit log shows nothing of the other workspace"
        );
    }
    let (_, log) = app.get("/api/v1/events?limit=1000").await;
    assert!(
        !log.to_string().contains(&theirs),
        "the log of the first workspace"
    );
    let (status, _) = app.get(&format!("/api/v1/streams/workflow/{theirs}")).await;
    assert_eq!(status, 404);
    assert_eq!(app.head().await, head, "nothing was recorded");

    // In its own workspace it is all there.
    let (status, page) = in_workspace(
        &app.http,
        "GET",
        app.url("/api/v1/executions"),
        &second,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["id"], execution.as_str(), "{page}");
    let (status, _) = in_workspace(
        &app.http,
        "GET",
        app.url(&format!("/api/v1/streams/execution/{execution}")),
        &second,
        None,
    )
    .await;
    assert_eq!(status, 200);
}
