//! The credentials vault through the HTTP API, on both stores: credentials
//! are created, listed, renamed and deleted without a secret ever coming
//! back; HTTP Request nodes send them to a real server on loopback; what the
//! server echoes (and errors that quote them) is recorded as `[redacted]`;
//! the event log holds none of the plaintext; a credential is used only in
//! its workspace; a wrong type, an unknown name and a deleted credential
//! fail the node with an error naming it.

mod support;

use std::sync::{Arc, Mutex};

use axum::{
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Json, Router,
};
use serde_json::{json, Value};
use support::{Backend, TestApp};

const HEADER_SECRET: &str = "hdr-5ecret-a1b2c3d4";
const QUERY_SECRET: &str = "qry-5ecret-e5f6a7b8";
const BEARER_SECRET: &str = "bearer-5ecret-9c8d7e6f";
const PASSWORD_SECRET: &str = "basic-5ecret-0f1e2d3c";

/// What the echo server was sent: each request's headers and query.
type Seen = Arc<Mutex<Vec<Value>>>;

/// A server that answers every request with its headers and query, and
/// `/fail` with a 500 that quotes them.
async fn echo_server() -> (String, Seen) {
    async fn echo(
        State(seen): State<Seen>,
        RawQuery(query): RawQuery,
        headers: HeaderMap,
    ) -> Json<Value> {
        let request = request_of(&headers, query);
        seen.lock().expect("seen").push(request.clone());
        Json(request)
    }
    async fn fail(headers: HeaderMap, RawQuery(query): RawQuery) -> (StatusCode, String) {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            request_of(&headers, query).to_string(),
        )
    }
    fn request_of(headers: &HeaderMap, query: Option<String>) -> Value {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .filter_map(|(n, v)| Some((n.to_string(), json!(v.to_str().ok()?))))
            .collect();
        json!({"headers": headers, "query": query.unwrap_or_default()})
    }
    let seen = Seen::default();
    let app = Router::new()
        .route("/echo", post(echo).get(echo))
        .route("/fail", post(fail).get(fail))
        .with_state(seen.clone());
    (support::serve_on_loopback(app).await, seen)
}

fn calling(url: &str, credentials: Value) -> Value {
    json!({"name": "calls", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Call", "type": "http_request",
         "parameters": {"url": url, "method": "GET", "credentials": credentials}}],
        "connections": {"Start": {"main": [[{"node": "Call"}]]}}})
}

async fn create(app: &TestApp, body: Value) -> (u16, Value) {
    app.post("/api/v1/credentials", &body).await
}

/// Runs `definition` once and answers the execution as the API shows it.
async fn run(app: &TestApp, definition: &Value) -> Value {
    let (workflow, _, _) = app.create_workflow(definition).await;
    let (status, started) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions?wait=true"),
            &json!({"input": [{}]}),
        )
        .await;
    assert!(status == 200 || status == 500, "{status} {started}");
    let id = started["execution_id"].as_str().expect("execution id");
    let (status, execution) = app
        .get(&format!(
            "/api/v1/executions/{id}?consistent_with={}",
            app.head().await
        ))
        .await;
    assert_eq!(status, 200, "{execution}");
    execution
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [HEADER_SECRET, QUERY_SECRET, BEARER_SECRET, PASSWORD_SECRET] {
        assert!(!text.contains(secret), "{what} holds {secret}: {text}");
    }
}

async fn credentials_are_sent_redacted_and_never_shown(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (server, seen) = echo_server().await;

    let (status, header) = create(
        &app,
        json!({"name": "Echo key", "type": "http_header_auth",
               "data": {"name": "X-Api-Key", "value": HEADER_SECRET}}),
    )
    .await;
    assert_eq!(status, 201, "{header}");
    assert_eq!(header["data"], json!({"name": "X-Api-Key"}));
    assert_eq!(header["secrets_set"], json!(["value"]));
    for body in [
        json!({"name": "Query", "type": "http_query_auth", "data": {"name": "api_key", "value": QUERY_SECRET}}),
        json!({"name": "Bearer", "type": "http_bearer_auth", "data": {"token": BEARER_SECRET}}),
        json!({"name": "Basic", "type": "http_basic_auth", "data": {"user": "ada", "password": PASSWORD_SECRET}}),
        json!({"name": "Database", "type": "postgres", "data": {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres", "password": "pg-5ecret"}}),
    ] {
        let (status, created) = create(&app, body).await;
        assert_eq!(status, 201, "{created}");
    }

    // Bad input changes nothing.
    let head = app.head().await;
    for (body, status, code) in [
        (
            json!({"name": "X", "type": "oauth9", "data": {}}),
            422,
            "invalid_credential",
        ),
        (
            json!({"name": "X", "type": "http_header_auth", "data": {"name": "A"}}),
            422,
            "invalid_credential",
        ),
        (
            json!({"name": "X", "type": "http_header_auth", "data": {"name": "A", "value": "v", "extra": 1}}),
            422,
            "invalid_credential",
        ),
        (
            json!({"name": "Echo key", "type": "http_bearer_auth", "data": {"token": "t0ken-x"}}),
            409,
            "credential_name_taken",
        ),
        (
            json!({"name": "X", "type": "http_bearer_auth", "data": {"token": "t0ken-x"}, "secret": 1}),
            400,
            "invalid_body",
        ),
    ] {
        let (got, answer) = create(&app, body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    assert_eq!(app.head().await, head, "refusals record nothing");

    let (status, list) = app.get("/api/v1/credentials").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["Basic", "Bearer", "Database", "Echo key", "Query"]);
    assert_no_secret("the list", &list.to_string());

    // A rename keeps the secret it was not sent again.
    let id = header["id"].as_str().expect("id");
    let (status, renamed, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/credentials/{id}")))
                .json(&json!({"name": "Echo header"})),
        )
        .await;
    assert_eq!(
        (status, &renamed["name"]),
        (200, &json!("Echo header")),
        "{renamed}"
    );
    let (status, other_type, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/credentials/{id}")))
                .json(&json!({"type": "http_bearer_auth"})),
        )
        .await;
    assert_eq!(
        (status, &other_type["error"]["code"]),
        (422, &json!("invalid_credential"))
    );

    // Sent to the server, redacted from what is recorded.
    let echo = format!("{server}/echo");
    let execution = run(
        &app,
        &calling(&echo, json!({"http_header_auth": "Echo header", "http_query_auth": "Query", "http_bearer_auth": "Bearer"})),
    )
    .await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    let sent = seen
        .lock()
        .expect("seen")
        .last()
        .cloned()
        .expect("a request");
    assert_eq!(sent["headers"]["x-api-key"], HEADER_SECRET);
    assert_eq!(
        sent["headers"]["authorization"],
        format!("Bearer {BEARER_SECRET}")
    );
    assert_eq!(sent["query"], format!("api_key={QUERY_SECRET}"));
    let recorded = execution.to_string();
    assert!(recorded.contains("[redacted]"), "{recorded}");
    assert_no_secret("the execution", &recorded);

    let execution = run(&app, &calling(&echo, json!({"http_basic_auth": "Basic"}))).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    assert!(
        execution.to_string().contains("Basic [redacted]"),
        "{execution}"
    );

    // An error that quotes the secret is redacted too.
    let execution = run(
        &app,
        &calling(
            &format!("{server}/fail"),
            json!({"http_header_auth": "Echo header"}),
        ),
    )
    .await;
    assert_eq!(execution["status"], "failed", "{execution}");
    assert!(execution.to_string().contains("[redacted]"), "{execution}");
    assert_no_secret("the failed execution", &execution.to_string());

    // Refusals name the credential.
    for (credentials, code) in [
        (json!({"postgres": "Database"}), "credential_type"),
        (json!({"http_header_auth": "Nope"}), "credential_not_found"),
        (
            json!({"http_bearer_auth": "Echo header"}),
            "credential_type",
        ),
    ] {
        let execution = run(&app, &calling(&echo, credentials.clone())).await;
        assert_eq!(execution["status"], "failed", "{execution}");
        assert!(
            execution.to_string().contains(code),
            "{credentials}: {execution}"
        );
    }

    // An unknown type is refused when the workflow is saved.
    let (status, refused) = app
        .post(
            "/api/v1/workflows",
            &calling(&echo, json!({"oauth9": "Echo header"})),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.to_string().contains("credentials"), "{refused}");

    // A tested credential: the data opens; a server is reachable or not.
    let (_, list) = app.get("/api/v1/credentials").await;
    let id_of = |name: &str| {
        list.as_array()
            .expect("list")
            .iter()
            .find(|c| c["name"] == name)
            .expect("listed")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let (status, tested) = app
        .post(
            &format!("/api/v1/credentials/{}/test", id_of("Database")),
            &Value::Null,
        )
        .await;
    assert_eq!((status, &tested["ok"]), (200, &json!(true)), "{tested}");
    let (status, tested) = app
        .post(&format!("/api/v1/credentials/{id}/test"), &Value::Null)
        .await;
    assert_eq!((status, &tested["ok"]), (200, &json!(true)), "{tested}");

    // Deleted: the next run fails naming it.
    let (status, _, _) = app
        .send(
            app.http
                .delete(app.url(&format!("/api/v1/credentials/{id}"))),
        )
        .await;
    assert_eq!(status, 204);
    let execution = run(
        &app,
        &calling(&echo, json!({"http_header_auth": "Echo header"})),
    )
    .await;
    assert!(
        execution.to_string().contains("credential_not_found")
            && execution.to_string().contains("Echo header"),
        "{execution}"
    );

    // Nothing in the log is plaintext.
    let (status, events) = app.get("/api/v1/events?limit=1000").await;
    assert_eq!(status, 200);
    let log = events.to_string();
    assert!(
        log.contains("CredentialCreated"),
        "the log holds the vault's events"
    );
    assert_no_secret("the event log", &log);
    assert!(
        !log.contains("pg-5ecret"),
        "the event log holds the database password"
    );
}

async fn a_credential_is_used_only_in_its_workspace(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (server, seen) = echo_server().await;
    let (status, created) = create(
        &app,
        json!({"name": "Mine", "type": "http_bearer_auth", "data": {"token": BEARER_SECRET}}),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().expect("id").to_owned();
    let second = app.create_workspace("Second").await;
    let in_second = |request: reqwest::RequestBuilder| request.header("x-workspace-id", &second);

    let (status, _, _) = app
        .send(in_second(
            app.http.get(app.url(&format!("/api/v1/credentials/{id}"))),
        ))
        .await;
    assert_eq!(status, 404);
    let (_, list, _) = app
        .send(in_second(app.http.get(app.url("/api/v1/credentials"))))
        .await;
    assert_eq!(list, json!([]));
    let workflow = app
        .create_workflow_in(
            &second,
            &calling(
                &format!("{server}/echo"),
                json!({"http_bearer_auth": "Mine"}),
            ),
        )
        .await;
    let (_, started, _) = app
        .send(
            in_second(app.http.post(app.url(&format!(
                "/api/v1/workflows/{workflow}/executions?wait=true"
            ))))
            .json(&json!({"input": [{}]})),
        )
        .await;
    assert!(
        started
            .to_string()
            .contains("no http_bearer_auth credential \\\"Mine\\\""),
        "{started}"
    );
    assert!(seen.lock().expect("seen").is_empty(), "nothing was sent");
}

/// Runs `workflow` of `workspace` once, waiting; the start's answer.
async fn run_in(app: &TestApp, workspace: &str, workflow: &str) -> Value {
    let (_, answer, _) = app
        .send(
            app.http
                .post(app.url(&format!(
                    "/api/v1/workflows/{workflow}/executions?wait=true"
                )))
                .header("x-workspace-id", workspace)
                .json(&json!({"input": [{}]})),
        )
        .await;
    answer
}

async fn a_shared_credential_is_used_where_shared_and_each_use_is_audited(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (server, seen) = echo_server().await;
    let (_, created) = create(
        &app,
        json!({"name": "Team token", "type": "http_bearer_auth", "data": {"token": BEARER_SECRET}}),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let first = app.first_workspace().await;
    let second = app.create_workspace("Second").await;
    let in_second = |request: reqwest::RequestBuilder| request.header("x-workspace-id", &second);
    let by_name = app
        .create_workflow_in(
            &second,
            &calling(
                &format!("{server}/echo"),
                json!({"http_bearer_auth": "Team token"}),
            ),
        )
        .await;
    let workflow = app
        .create_workflow_in(
            &second,
            &calling(&format!("{server}/echo"), json!({"http_bearer_auth": id})),
        )
        .await;

    // Bad shares change nothing.
    let head = app.head().await;
    for (body, status, code) in [
        (json!({"workspace_id": first}), 422, "invalid_credential"),
        (
            json!({"workspace_id": "0195f3a0-0000-7000-8000-00000000dead"}),
            404,
            "not_found",
        ),
        (json!({"workspace": second}), 400, "invalid_body"),
    ] {
        let (got, answer) = app
            .post(&format!("/api/v1/credentials/{id}/shares"), &body)
            .await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    assert_eq!(app.head().await, head, "refused shares record nothing");

    // Shared explicitly, the other workspace's nodes may use it.
    let (status, shared) = app
        .post(
            &format!("/api/v1/credentials/{id}/shares"),
            &json!({"workspace_id": second}),
        )
        .await;
    assert_eq!(status, 200, "{shared}");
    assert_eq!(shared["shared_with"], json!([second]));
    let (_, listed, _) = app
        .send(in_second(app.http.get(app.url("/api/v1/credentials"))))
        .await;
    assert_eq!(listed[0]["id"], json!(id), "{listed}");
    assert_eq!(listed[0]["shared_from"], json!(first), "{listed}");
    assert_no_secret("the other workspace's list", &listed.to_string());
    let (status, _, _) = app
        .send(in_second(
            app.http
                .delete(app.url(&format!("/api/v1/credentials/{id}"))),
        ))
        .await;
    assert_eq!(status, 404, "only the owner changes or deletes it");

    let answer = run_in(&app, &second, &by_name).await;
    assert_eq!(
        answer["failure"]["error"]["code"], "credential_not_found",
        "a shared credential is named by id, never by name: {answer}"
    );
    let answer = run_in(&app, &second, &workflow).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_no_secret("the other workspace's execution", &answer.to_string());
    let sent = seen
        .lock()
        .expect("seen")
        .last()
        .cloned()
        .expect("a request");
    assert_eq!(
        sent["headers"]["authorization"],
        format!("Bearer {BEARER_SECRET}")
    );
    let execution = answer["execution_id"].as_str().expect("id").to_owned();

    // The use is in the owner's audit log, once per execution.
    let (status, audit) = app
        .get(&format!(
            "/api/v1/audit?aggregate_type=credential_use&consistent_with={}",
            app.head().await
        ))
        .await;
    assert_eq!(status, 200, "{audit}");
    let uses = audit["entries"].as_array().expect("entries");
    assert_eq!(uses.len(), 1, "{audit}");
    assert_eq!(uses[0]["event_type"], "CredentialUsed");
    assert_eq!(uses[0]["aggregate_id"], format!("{id}_{execution}"));
    assert_eq!(uses[0]["actor"], format!("execution:{execution}"));

    // Unshared, the other workspace's next run fails naming it.
    let (status, _, _) = app
        .send(
            app.http
                .delete(app.url(&format!("/api/v1/credentials/{id}/shares/{second}"))),
        )
        .await;
    assert_eq!(status, 204);
    let answer = run_in(&app, &second, &workflow).await;
    assert_eq!(answer["status"], "failed", "{answer}");
    assert_eq!(
        answer["failure"]["error"]["code"], "credential_not_found",
        "{answer}"
    );
    let (_, listed, _) = app
        .send(in_second(app.http.get(app.url("/api/v1/credentials"))))
        .await;
    assert_eq!(listed, json!([]));
}

for_each_backend!(
    credentials_are_sent_redacted_and_never_shown,
    a_credential_is_used_only_in_its_workspace,
    a_shared_credential_is_used_where_shared_and_each_use_is_audited,
);
