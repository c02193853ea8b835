//! Starts the real FlowForge server on a random loopback port against a database
//! of the test's own, and drives it over HTTP like a user would.

#![allow(dead_code)]

pub mod booking_server;
pub mod flaky_server;
pub mod inbox;
pub mod oauth2_provider;
pub mod otlp_receiver;
pub mod pki;
pub mod private_postgres;
pub mod process;

use std::{path::PathBuf, sync::Arc, time::Duration};

use flowforge_api::{
    config::{
        AuthArgs, BusArgs, LimitsArgs, LogFormat, OutboundArgs, RateLimitArgs, ServeArgs,
        StorageArgs, TelemetryArgs, TlsArgs,
    },
    server::{self, RunningServer},
};
use flowforge_infra::test_support::TestDatabase;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// Serves `app` on a free loopback port for as long as the test runs: a
/// local stand-in for a third-party API. Returns its base URL
/// (`http://127.0.0.1:<port>`).
pub async fn serve_on_loopback(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("its address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

/// Which store a test app runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// A fresh PostgreSQL database on the local server.
    Postgres,
    /// A fresh embedded SQLite file.
    Sqlite,
}

/// A running FlowForge and the database it owns.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client for requests to it.
    pub http: reqwest::Client,
    args: ServeArgs,
    shutdown: CancellationToken,
    server: Option<RunningServer>,
    database: Arc<TestDatabase>,
}

impl TestApp {
    /// Starts FlowForge on a fresh database; `None` if the backend is unavailable
    /// here (PostgreSQL down and not required).
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`spawn`](Self::spawn), with settings changed by `configure`.
    pub async fn spawn_with(
        backend: Backend,
        configure: impl FnOnce(&mut ServeArgs),
    ) -> Option<Self> {
        let database = match backend {
            Backend::Postgres => TestDatabase::postgres().await?,
            Backend::Sqlite => TestDatabase::sqlite().await,
        };
        let storage = match backend {
            Backend::Postgres => StorageArgs {
                database_url: Some(database.location.clone()),
                data_dir: PathBuf::from("unused"),
                db_max_connections: 10,
                encryption_key: Some(TEST_MASTER_KEY.to_owned()),
                encryption_key_file: None,
                encryption_key_previous: None,
            },
            Backend::Sqlite => StorageArgs {
                database_url: None,
                data_dir: database.data_dir(),
                db_max_connections: 10,
                encryption_key: Some(TEST_MASTER_KEY.to_owned()),
                encryption_key_file: None,
                encryption_key_previous: None,
            },
        };
        let mut args = ServeArgs {
            listen: "127.0.0.1:0".parse().expect("loopback address"),
            storage,
            bus: BusArgs {
                nats_url: None,
                nats_stream: "FLOWFORGE_EVENTS".to_owned(),
                nats_subject_prefix: "flowforge.events".to_owned(),
            },
            max_body_bytes: 1024 * 1024,
            consistency_timeout_ms: 5_000,
            publisher_stall_secs: 60,
            max_pending_executions: 5000,
            max_pending_per_workflow: 1000,
            async_backlog_percent: 50,
            max_concurrent_attempts: 256,
            max_attempts_per_execution: 4,
            shutdown_grace_secs: 30,
            limits: LimitsArgs::default(),
            tls: TlsArgs::default(),
            outbound: OutboundArgs {
                allow: Some(LOOPBACK_ALLOWED.to_owned()),
                // Off unless a test is about them: tests drive failing
                // servers through retries on purpose.
                circuit_failures: 0,
                ..OutboundArgs::default()
            },
            env_allow: None,
            auth: AuthArgs::default(),
            rate_limits: RateLimitArgs::default(),
            cors_origins: Vec::new(),
            public_url: None,
            telemetry: TelemetryArgs {
                log_format: LogFormat::Text,
                otlp_endpoint: None,
            },
        };
        // Cheap password hashing and a token that outlives any test: the
        // tests sign in as the installation's owner at every start.
        args.auth.argon2_memory_kib = 64;
        args.auth.argon2_iterations = 1;
        args.auth.access_token_secs = 86_400;
        // No rate limits unless a test is about them.
        args.rate_limits = RateLimitArgs::off();
        configure(&mut args);
        let mut app = Self {
            base: String::new(),
            http: reqwest::Client::new(),
            args,
            shutdown: CancellationToken::new(),
            server: None,
            database: Arc::new(database),
        };
        app.start().await;
        // A server speaking HTTPS is set up by the test, with its own client.
        if app.args.tls.tls_cert.is_none() {
            app.http = owner_client(&app.base).await;
        }
        Some(app)
    }

    /// A second instance on the same database (and bus settings), as another
    /// `serve` process would be, with settings changed by `configure`.
    pub async fn spawn_sharing(other: &TestApp, configure: impl FnOnce(&mut ServeArgs)) -> Self {
        let mut args = other.args.clone();
        args.listen = "127.0.0.1:0".parse().expect("loopback address");
        configure(&mut args);
        let mut app = Self {
            base: String::new(),
            http: other.http.clone(),
            args,
            shutdown: CancellationToken::new(),
            server: None,
            database: other.database.clone(),
        };
        app.start().await;
        app
    }

    /// The database this app runs on.
    pub fn database(&self) -> &flowforge_infra::database::Database {
        &self.database.database
    }

    /// The database's connection URL or data directory.
    pub fn database_location(&self) -> &str {
        &self.database.location
    }

    /// Waits until the publisher (if any) and every projection have reached the
    /// store's head, and returns the head; fails the test after `within`.
    pub async fn settled(&self, within: Duration) -> u64 {
        eventually(
            within,
            "the publisher and every projection reach the head",
            || async {
                let (status, body) = self.get("/api/v1/projections").await;
                assert_eq!(status, 200, "{body}");
                let head = body["head"].as_u64().expect("head");
                let publisher_done = body["publisher"].is_null() || body["publisher"]["lag"] == 0;
                let projections_done = body["projections"]
                    .as_array()
                    .expect("projections")
                    .iter()
                    .all(|p| p["lag"] == 0);
                (publisher_done && projections_done).then_some(head)
            },
        )
        .await
    }

    async fn start(&mut self) {
        self.shutdown = CancellationToken::new();
        let mut args = self.args.clone();
        if let Some(server) = &self.server {
            args.listen = server.local_addr;
        }
        let server = server::start(&args, self.shutdown.clone())
            .await
            .expect("FlowForge starts");
        self.base = format!("http://{}", server.local_addr);
        self.server = Some(server);
    }

    /// Stops the server gracefully and starts it again on the same database.
    pub async fn restart(&mut self) {
        self.restart_after(Duration::ZERO).await;
    }

    /// Like [`restart`](Self::restart), staying down for `pause` in between.
    pub async fn restart_after(&mut self, pause: Duration) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let addr = server.local_addr;
            tokio::time::timeout(Duration::from_secs(30), server.wait())
                .await
                .expect("server stops within 30 s");
            self.args.listen = addr;
        }
        tokio::time::sleep(pause).await;
        self.start().await;
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request; returns status, JSON body (null if empty) and headers.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let response = request.send().await.expect("request reaches the server");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("response is JSON: {text}"))
        };
        (status, body, headers)
    }

    /// GET `path`; returns status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (status, body, _) = self.send(self.http.get(self.url(path))).await;
        (status, body)
    }

    /// POST `body` as JSON to `path`; returns status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, body, _) = self.send(self.http.post(self.url(path)).json(body)).await;
        (status, body)
    }

    /// Creates a workflow and returns (id, version, position).
    pub async fn create_workflow(&self, definition: &Value) -> (String, u64, u64) {
        let (status, body) = self.post("/api/v1/workflows", definition).await;
        assert_eq!(status, 201, "create: {body}");
        (
            body["id"].as_str().expect("id").to_owned(),
            body["version"].as_u64().expect("version"),
            body["position"].as_u64().expect("position"),
        )
    }

    /// Creates a workflow in `workspace` (not the owner's first) and
    /// returns its id.
    pub async fn create_workflow_in(&self, workspace: &str, definition: &Value) -> String {
        let (status, body, _) = self
            .send(
                self.http
                    .post(self.url("/api/v1/workflows"))
                    .header("x-workspace-id", workspace)
                    .json(definition),
            )
            .await;
        assert_eq!(status, 201, "create in {workspace}: {body}");
        body["id"].as_str().expect("id").to_owned()
    }

    /// The id of the owner's first workspace.
    pub async fn first_workspace(&self) -> String {
        let (_, me) = self.get("/api/v1/me").await;
        me["workspaces"][0]
            .as_str()
            .unwrap_or_else(|| panic!("the owner has a workspace: {me}"))
            .to_owned()
    }

    /// Creates workspace `name` (the owner is its owner) and returns its id.
    pub async fn create_workspace(&self, name: &str) -> String {
        let (status, created) = self
            .post("/api/v1/workspaces", &json!({ "name": name }))
            .await;
        assert_eq!(status, 201, "create workspace {name}: {created}");
        created["id"].as_str().expect("id").to_owned()
    }

    /// How the signed-in owner is recorded as an actor (`user:<id>`).
    pub async fn owner_actor(&self) -> String {
        let (status, me) = self.get("/api/v1/me").await;
        assert_eq!(status, 200, "{me}");
        format!("user:{}", me["id"].as_str().expect("id"))
    }

    /// The store's head, to check that a refused request recorded nothing.
    pub async fn head(&self) -> u64 {
        let (status, body) = self.get("/api/v1/events?limit=1").await;
        assert_eq!(status, 200);
        body["head"].as_u64().expect("head")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// How many events signing the owner in on a fresh store records (the
/// e-mail claim, the account, the first-owner claim, the workspace, the
/// account joining it, the session), for tests that count events.
pub const SETUP_EVENTS: u64 = 6;

/// The e-mail address of the account every test server is set up with.
pub const OWNER_EMAIL: &str = "owner@flowforge.test";
/// Its password.
pub const OWNER_PASSWORD: &str = "a test owner's passphrase";

/// A client signed in as the installation's owner of the FlowForge at
/// `base` (registering the owner first on a fresh store), acting in the
/// owner's first workspace: every request carries its access token.
pub async fn owner_client(base: &str) -> reqwest::Client {
    let http = reqwest::Client::new();
    let registered = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&serde_json::json!({
            "email": OWNER_EMAIL, "password": OWNER_PASSWORD, "name": "Owner"
        }))
        .send()
        .await
        .expect("register reaches the server");
    let status = registered.status().as_u16();
    // 403 (registration closed) or 409: set up by an earlier start.
    assert!(
        matches!(status, 201 | 403 | 409),
        "the owner registers (or exists): {status} {}",
        registered.text().await.unwrap_or_default()
    );
    let tokens: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": OWNER_EMAIL, "password": OWNER_PASSWORD}))
        .send()
        .await
        .expect("login reaches the server")
        .json()
        .await
        .expect("login answers JSON");
    let token = tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("the owner signs in: {tokens}"));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("a client")
}

/// The one way tests wait for something asynchronous (see
/// [`flowforge_infra::test_support::eventually`]).
#[allow(unused_imports)]
pub use flowforge_infra::test_support::eventually;

/// Bus settings that send this app's events to `settings`' stream.
pub fn nats_bus(settings: &flowforge_infra::bus::jetstream::JetStreamSettings) -> BusArgs {
    BusArgs {
        nats_url: Some(settings.url.clone()),
        nats_stream: settings.stream.clone(),
        nats_subject_prefix: settings.subject_prefix.clone(),
    }
}

/// What test servers let nodes reach besides public addresses: the test's
/// own servers on loopback.
pub const LOOPBACK_ALLOWED: &str = "127.0.0.0/8,::1,localhost";

/// The master key test servers seal their secrets with (each test has its
/// own database, so one key serves them all).
pub const TEST_MASTER_KEY: &str =
    "7f1e0c2b9a8d4f6e5c3b1a0918273645f0e1d2c3b4a5968778695a4b3c2d1e0f";

/// A valid workflow: manual trigger → set.
pub fn simple_workflow(name: &str, tags: &[&str]) -> Value {
    json!({
        "name": name,
        "tags": tags,
        "nodes": [
            {"name": "Start", "type": "manual_trigger"},
            {"name": "Greet", "type": "set", "parameters": {"fields": {"greeting": "hello"}}}
        ],
        "connections": {"Start": {"main": [[{"node": "Greet"}]]}}
    })
}

/// Generates one test per backend from a test body `async fn(Backend)`.
#[macro_export]
macro_rules! for_each_backend {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }
            )*
        }
    };
}

/// Every message in the test's JetStream stream as (sequence, position,
/// aggregate id), in stream order.
pub async fn jetstream_messages(
    settings: &flowforge_infra::bus::jetstream::JetStreamSettings,
) -> Vec<(u64, u64, String)> {
    let client = async_nats::connect(settings.url.as_str())
        .await
        .expect("connect to NATS");
    let context = async_nats::jetstream::new(client);
    let mut stream = context
        .get_stream(&settings.stream)
        .await
        .expect("the stream exists");
    let info = stream.info().await.expect("stream info").clone();
    let mut messages = Vec::new();
    if info.state.messages == 0 {
        return messages;
    }
    for sequence in info.state.first_sequence..=info.state.last_sequence {
        let message = stream
            .get_raw_message(sequence)
            .await
            .expect("message by sequence");
        let event = flowforge_infra::bus::jetstream::wire::decode(&message.payload)
            .expect("a FlowForge CloudEvent");
        let header_position: u64 = message
            .headers
            .get("FlowForge-Position")
            .and_then(|v| v.as_str().parse().ok())
            .expect("position header");
        assert_eq!(header_position, event.position, "header and envelope agree");
        assert_eq!(
            message.subject.as_str(),
            settings.subject_for(&event.metadata.tenant_id, &event.stream),
        );
        messages.push((
            sequence,
            event.position,
            event.stream.aggregate_id().to_owned(),
        ));
    }
    messages
}

/// Asserts the stream holds each position 1..=head exactly once, in order.
pub async fn assert_published_once_in_order(
    settings: &flowforge_infra::bus::jetstream::JetStreamSettings,
    head: u64,
) {
    let positions: Vec<u64> = jetstream_messages(settings)
        .await
        .into_iter()
        .map(|(_, position, _)| position)
        .collect();
    assert_eq!(positions.len() as u64, head, "one message per event");
    assert_eq!(
        positions,
        (1..=head).collect::<Vec<_>>(),
        "every position once, in order"
    );
}

/// Asserts every workflow's read-model row matches its stream, and the audit log
/// holds each position once.
pub async fn assert_read_models_match_log(app: &TestApp, head: u64) {
    let mut after = 0;
    let mut audited = Vec::new();
    loop {
        let (status, page) = app
            .get(&format!(
                "/api/v1/audit?after={after}&limit=1000&consistent_with={head}"
            ))
            .await;
        assert_eq!(status, 200, "{page}");
        audited.extend(
            page["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .filter_map(|e| e["position"].as_u64()),
        );
        match page["next_after"].as_u64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(
        audited,
        (1..=head).collect::<Vec<_>>(),
        "audit log: each event once"
    );

    let (_, page) = app
        .get(&format!(
            "/api/v1/workflows?include_archived=true&limit=500&consistent_with={head}"
        ))
        .await;
    for view in page["items"].as_array().expect("items") {
        let id = view["id"].as_str().expect("id");
        let (_, stream) = app.get(&format!("/api/v1/streams/workflow/{id}")).await;
        assert_eq!(
            view["version"], stream["version"],
            "workflow {id}: read model matches its stream"
        );
        let last = stream["events"]
            .as_array()
            .and_then(|e| e.last())
            .expect("events");
        assert_eq!(view["position"], last["position"], "workflow {id}");
    }
}

/// Runs the `flowforge` binary with `args` against `database_url` (or, for a
/// path, the embedded store there).
pub async fn flowforge(args: &[&str], location: &str) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flowforge"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("NATS_URL");
    if location.starts_with("postgres") {
        command.env("DATABASE_URL", location);
    } else {
        command.env("FLOWFORGE_DATA_DIR", location);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("flowforge runs");
    assert!(
        output.status.success(),
        "flowforge {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
