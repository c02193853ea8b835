//! The plaintext scan the credentials vault promises: a real `flowforge
//! serve` on PostgreSQL and NATS JetStream, logging at debug level and
//! exporting traces to a collector of the test's own, gets a credential of
//! every kind, each with secret values of its own. HTTP Request nodes use
//! every kind a node can use today (the four `http_*` kinds and both OAuth
//! 2.0 kinds, connected and refreshed), in runs that succeed and in runs that
//! fail with the secret quoted in the error; every kind is opened by its
//! connection test (the database, cache and broker kinds against the real
//! servers on this machine). Then none of the plaintext values is found in
//! the event log (through the API and in every table of the database), the
//! NATS stream, the debug logs, the traces or `/metrics`.

mod support;

use std::{process::Stdio, time::Duration};

use axum::{
    http::{HeaderMap, StatusCode},
    routing::get,
    Json, Router,
};
use flowforge_infra::test_support::{TestDatabase, TestJetStream};
use serde_json::{json, Value};
use sqlx::{Connection, Row};
use support::{
    oauth2_provider::{browser, grant, provider, CLIENT_SECRET, PROVIDER_SECRETS},
    otlp_receiver::OtlpReceiver,
    process::FlowforgeProcess,
};
use uuid::Uuid;

/// An echo server: `/echo` answers the request's headers and query, `/fail`
/// a 500 quoting them.
async fn echo_server() -> String {
    fn seen(headers: &HeaderMap, query: Option<String>) -> Value {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .filter_map(|(n, v)| Some((n.to_string(), json!(v.to_str().ok()?))))
            .collect();
        json!({"headers": headers, "query": query.unwrap_or_default()})
    }
    let app =
        Router::new()
            .route(
                "/echo",
                get(
                    |headers: HeaderMap,
                     axum::extract::RawQuery(query): axum::extract::RawQuery| async move {
                        Json(seen(&headers, query))
                    },
                ),
            )
            .route(
                "/fail",
                get(
                    |headers: HeaderMap,
                     axum::extract::RawQuery(query): axum::extract::RawQuery| async move {
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            seen(&headers, query).to_string(),
                        )
                    },
                ),
            );
    support::serve_on_loopback(app).await
}

/// A secret value of the test's own, findable anywhere it leaks.
fn secret(kind: &str) -> String {
    format!("scan-{kind}-{}", Uuid::new_v4().simple())
}

fn calling(url: &str, kind: &str, name: &str) -> Value {
    json!({"name": format!("uses {name}"), "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Call", "type": "http_request",
         "parameters": {"url": url, "credentials": {kind: name}}}],
        "connections": {"Start": {"main": [[{"node": "Call"}]]}}})
}

struct Scan {
    base: String,
    http: reqwest::Client,
}

impl Scan {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let answer = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("the server answers");
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    async fn get_text(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the server answers")
            .text()
            .await
            .expect("a body")
    }

    async fn credential(&self, name: &str, kind: &str, data: Value) -> String {
        let (status, created) = self
            .post(
                "/api/v1/credentials",
                &json!({"name": name, "type": kind, "data": data}),
            )
            .await;
        assert_eq!(status, 201, "{kind}: {created}");
        created["id"].as_str().expect("id").to_owned()
    }

    /// Runs a workflow calling `url` with credential `name` of `kind`; its
    /// status.
    async fn run(&self, url: &str, kind: &str, name: &str) -> String {
        let (status, workflow) = self
            .post("/api/v1/workflows", &calling(url, kind, name))
            .await;
        assert_eq!(status, 201, "{workflow}");
        let id = workflow["id"].as_str().expect("id");
        let (status, answer) = self
            .post(
                &format!("/api/v1/workflows/{id}/executions?wait=true"),
                &json!({"input": [{}]}),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        answer["status"].as_str().unwrap_or_default().to_owned()
    }
}

/// Every payload in the test's JetStream stream, as text.
async fn nats_payloads(jetstream: &TestJetStream) -> (usize, String) {
    let client = async_nats::connect(jetstream.settings.url.as_str())
        .await
        .expect("connect to NATS");
    let context = async_nats::jetstream::new(client);
    let mut stream = context
        .get_stream(&jetstream.settings.stream)
        .await
        .expect("the stream exists");
    let info = stream.info().await.expect("stream info").clone();
    let mut text = String::new();
    for sequence in info.state.first_sequence..=info.state.last_sequence {
        let message = stream
            .get_raw_message(sequence)
            .await
            .expect("message by sequence");
        text.push_str(&String::from_utf8_lossy(&message.payload));
        text.push('\n');
    }
    (
        usize::try_from(info.state.messages).unwrap_or(usize::MAX),
        text,
    )
}

/// Every row of every table of the database, as text.
async fn database_rows(url: &str) -> String {
    let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut connection)
    .await
    .expect("tables")
    .iter()
    .map(|row| row.get::<String, _>(0))
    .collect();
    let mut text = String::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT t::text FROM \"{table}\" t"))
            .fetch_all(&mut connection)
            .await
            .expect("rows");
        for row in rows {
            text.push_str(&row.get::<String, _>(0));
            text.push('\n');
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_secret_reaches_the_log_the_bus_the_logs_the_traces_or_metrics() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    let collector = OtlpReceiver::start().await;
    let logs = tempfile::NamedTempFile::new().expect("log file");
    let env = vec![
        ("DATABASE_URL", database.location.clone()),
        ("NATS_URL", jetstream.settings.url.clone()),
        ("FLOWFORGE_NATS_STREAM", jetstream.settings.stream.clone()),
        (
            "FLOWFORGE_NATS_SUBJECT_PREFIX",
            jetstream.settings.subject_prefix.clone(),
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ("RUST_LOG", "debug".to_owned()),
    ];
    let server = FlowforgeProcess::start(&env, Stdio::from(logs.reopen().expect("log file")));
    server.wait_ready(&reqwest::Client::new()).await;
    let scan = Scan {
        base: server.base.clone(),
        http: support::owner_client(&server.base).await,
    };
    let echo = echo_server().await;
    let (oauth, oauth_state) = provider().await;
    let mut secrets: Vec<String> = PROVIDER_SECRETS.iter().map(|s| (*s).to_owned()).collect();

    // The kinds HTTP Request nodes use, in runs that succeed and runs that
    // fail with the secret quoted back.
    let header = secret("header");
    let query = secret("query");
    let bearer = secret("bearer");
    let password = secret("basic");
    secrets.extend([
        header.clone(),
        query.clone(),
        bearer.clone(),
        password.clone(),
    ]);
    scan.credential(
        "Header",
        "http_header_auth",
        json!({"name": "X-Key", "value": header}),
    )
    .await;
    scan.credential(
        "Query",
        "http_query_auth",
        json!({"name": "key", "value": query}),
    )
    .await;
    scan.credential("Bearer", "http_bearer_auth", json!({"token": bearer}))
        .await;
    scan.credential(
        "Basic",
        "http_basic_auth",
        json!({"user": "ada", "password": password}),
    )
    .await;
    for (kind, name) in [
        ("http_header_auth", "Header"),
        ("http_query_auth", "Query"),
        ("http_bearer_auth", "Bearer"),
        ("http_basic_auth", "Basic"),
    ] {
        assert_eq!(
            scan.run(&format!("{echo}/echo"), kind, name).await,
            "succeeded"
        );
        assert_eq!(
            scan.run(&format!("{echo}/fail"), kind, name).await,
            "failed"
        );
    }

    // Both OAuth 2.0 kinds: a client-credentials token, and an
    // authorization code connected through the callback and refreshed.
    let token_url = format!("{oauth}/token");
    scan.credential(
        "Service",
        "oauth2_client_credentials",
        json!({"token_url": token_url, "client_id": "app", "client_secret": CLIENT_SECRET}),
    )
    .await;
    let mailbox = scan
        .credential(
            "Mailbox",
            "oauth2_authorization_code",
            json!({"authorize_url": format!("{oauth}/authorize"), "token_url": token_url,
                   "client_id": "app", "client_secret": CLIENT_SECRET}),
        )
        .await;
    let (_, link) = scan
        .post(
            &format!("/api/v1/credentials/{mailbox}/oauth2/authorize"),
            &json!({}),
        )
        .await;
    let back = grant(link["url"].as_str().expect("a grant link")).await;
    let connected = browser().get(&back).send().await.expect("callback");
    assert_eq!(connected.status().as_u16(), 200);
    let resource = format!("{oauth}/resource");
    assert_eq!(
        scan.run(&resource, "oauth2_client_credentials", "Service")
            .await,
        "succeeded"
    );
    assert_eq!(
        scan.run(&resource, "oauth2_authorization_code", "Mailbox")
            .await,
        "succeeded"
    );
    assert_eq!(oauth_state.lock().expect("provider").refreshes, 1);

    // Every other kind, opened by its connection test (against the real
    // servers here where there is one).
    let servers = [
        (
            "postgres",
            json!({"host": "127.0.0.1", "port": 5432, "database": "postgres", "user": "postgres"}),
            "password",
        ),
        (
            "mysql",
            json!({"host": "127.0.0.1", "port": 3306, "database": "mysql", "user": "root"}),
            "password",
        ),
        (
            "redis",
            json!({"host": "127.0.0.1", "port": 6379}),
            "password",
        ),
        (
            "amqp",
            json!({"host": "127.0.0.1", "port": 5672, "user": "guest"}),
            "password",
        ),
        (
            "mqtt",
            json!({"host": "127.0.0.1", "port": 1883}),
            "password",
        ),
        ("smtp", json!({"host": "127.0.0.1", "port": 1}), "password"),
        ("imap", json!({"host": "127.0.0.1", "port": 1}), "password"),
        (
            "s3",
            json!({"access_key_id": "AKIATEST"}),
            "secret_access_key",
        ),
    ];
    for (kind, mut data, secret_field) in servers {
        let value = secret(kind);
        secrets.push(value.clone());
        data[secret_field] = json!(value);
        let id = scan.credential(&format!("The {kind}"), kind, data).await;
        let (status, tested) = scan
            .post(&format!("/api/v1/credentials/{id}/test"), &json!({}))
            .await;
        assert_eq!(status, 200, "{kind}: {tested}");
        if !matches!(kind, "smtp" | "imap") {
            assert_eq!(tested["ok"], true, "{kind}: {tested}");
        }
    }

    // The places a secret could leak to.
    let metrics = scan.get_text("/metrics").await;
    let mut log = String::new();
    let mut after = 0;
    loop {
        let page: Value = serde_json::from_str(
            &scan
                .get_text(&format!("/api/v1/events?limit=1000&after={after}"))
                .await,
        )
        .expect("a page of the log");
        log.push_str(&page.to_string());
        let events = page["events"].as_array().map_or(0, Vec::len);
        match page["next_after"].as_u64() {
            Some(next) if events > 0 && next > after => after = next,
            _ => break,
        }
    }
    support::eventually(
        Duration::from_secs(10),
        "spans reach the collector",
        || async { collector.spans().iter().any(|s| s.name.starts_with("node")) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spans = format!("{:?}", collector.spans());
    let head = serde_json::from_str::<Value>(&scan.get_text("/api/v1/events?limit=1").await)
        .ok()
        .and_then(|p| p["head"].as_u64());
    support::eventually(
        Duration::from_secs(10),
        "the stream has every event",
        || async {
            let (messages, _) = nats_payloads(&jetstream).await;
            head.is_none_or(|head| messages as u64 >= head)
        },
    )
    .await;
    let (messages, bus) = nats_payloads(&jetstream).await;
    let rows = database_rows(&database.location).await;
    assert_eq!(server.terminate().code(), Some(0));
    let logs = std::fs::read_to_string(logs.path()).expect("the logs");

    // The scan would see a leak: each place holds what it should.
    assert!(messages > 50, "the stream holds the run's events");
    assert!(
        log.contains("CredentialCreated"),
        "the log holds the credentials"
    );
    assert!(bus.contains("CredentialCreated"), "so does the stream");
    assert!(logs.contains("DEBUG"), "the logs are at debug level");
    assert!(spans.contains("node Call"), "the traces hold the node runs");
    assert!(metrics.contains("flowforge_"), "metrics were read");
    for (place, text) in [
        ("the event log", &log),
        ("the database", &rows),
        ("the NATS stream", &bus),
        ("the debug logs", &logs),
        ("the traces", &spans),
        ("/metrics", &metrics),
    ] {
        for value in &secrets {
            assert!(!text.contains(value.as_str()), "{place} holds {value}");
        }
    }
    println!(
        "plaintext scan: {} secret values of 14 credential kinds; none in the event log ({} bytes), the database ({} bytes), the NATS stream ({messages} messages), the debug logs ({} bytes), the traces ({} spans) or /metrics",
        secrets.len(),
        log.len(),
        rows.len(),
        logs.len(),
        collector.spans().len(),
    );
}
