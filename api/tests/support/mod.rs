//! Starts the real FlowForge server on a random loopback port against a database
//! of the test's own, and drives it over HTTP like a user would.

#![allow(dead_code)]

use std::{path::PathBuf, time::Duration};

use flowforge_api::{
    config::{BusArgs, LogFormat, ServeArgs, StorageArgs},
    server::{self, RunningServer},
};
use flowforge_infra::test_support::TestDatabase;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

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
    _database: TestDatabase,
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
            },
            Backend::Sqlite => StorageArgs {
                database_url: None,
                data_dir: database.data_dir(),
                db_max_connections: 10,
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
            log_format: LogFormat::Text,
        };
        configure(&mut args);
        let mut app = Self {
            base: String::new(),
            http: reqwest::Client::new(),
            args,
            shutdown: CancellationToken::new(),
            server: None,
            _database: database,
        };
        app.start().await;
        Some(app)
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
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let addr = server.local_addr;
            tokio::time::timeout(Duration::from_secs(30), server.wait())
                .await
                .expect("server stops within 30 s");
            self.args.listen = addr;
        }
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
                    super::$name(super::support::Backend::Postgres).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::Backend::Sqlite).await;
                }
            )*
        }
    };
}
