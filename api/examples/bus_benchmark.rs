//! Throughput and lag of the bus on this machine, against the real PostgreSQL
//! and NATS (a fresh database and JetStream stream of its own, removed after):
//!
//! 1. publish: N events already in the store, a server starts; how fast does the
//!    publisher copy them to JetStream, and how fast do the projections (reading
//!    from JetStream) apply them;
//! 2. lag: commands at a steady rate over HTTP; for each, the time from the
//!    command's response to a read that sees it (`consistent_with`), p50/p99.
//!
//! ```text
//! cargo run --release -p flowforge-api --example bus_benchmark -- [EVENTS] [RATE_PER_S] [SECONDS]
//! ```

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use flowforge_api::{
    config::{
        AuthArgs, BusArgs, LimitsArgs, LogFormat, OutboundArgs, RateLimitArgs, ServeArgs,
        StorageArgs, TelemetryArgs, TlsArgs,
    },
    server,
};
use flowforge_infra::{
    event_store::{upcasting::Upcasters, EventMetadata, ExpectedVersion, NewEvent, StreamId},
    test_support::{TestDatabase, TestJetStream},
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

async fn projections(http: &reqwest::Client, base: &str) -> Value {
    http.get(format!("{base}/api/v1/projections"))
        .send()
        .await
        .expect("projections")
        .json()
        .await
        .expect("json")
}

/// Registers the installation's owner, signs in, and returns a client that
/// sends the access token with every request.
async fn owner_client(base: &str) -> reqwest::Client {
    let http = reqwest::Client::new();
    let account = json!({"email": "bench@flowforge.test", "password": "a benchmark passphrase"});
    let mut register = account.clone();
    register["name"] = json!("Bench");
    http.post(format!("{base}/api/v1/auth/register"))
        .json(&register)
        .send()
        .await
        .expect("register");
    let tokens: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&account)
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", tokens["access_token"].as_str().expect("token"))
            .parse()
            .expect("header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

#[tokio::main]
async fn main() {
    let events = arg(1, 50_000);
    let rate = arg(2, 100);
    let seconds = arg(3, 20);
    let db = TestDatabase::postgres()
        .await
        .expect("PostgreSQL is needed");
    let jetstream = TestJetStream::shared().expect("NATS is needed");

    // Phase 1: a backlog in the store, then the server starts.
    let store = db.database.event_store(Upcasters::default());
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for stream in (w..events / 10).step_by(4) {
                    let id = StreamId::new("bench", format!("s{stream}")).expect("stream");
                    let batch = (0..10)
                        .map(|n| {
                            NewEvent::new(
                                "BenchTicked",
                                1,
                                json!({"n": n, "pad": "x".repeat(200)}),
                                EventMetadata::default(),
                            )
                        })
                        .collect();
                    store
                        .append(&id, ExpectedVersion::NoStream, batch)
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let head = store.head().await.expect("head");

    let args = ServeArgs {
        listen: "127.0.0.1:0".parse().expect("address"),
        storage: StorageArgs {
            database_url: Some(db.location.clone()),
            data_dir: PathBuf::from("unused"),
            db_max_connections: 20,
            encryption_key: Some("11".repeat(32)),
            encryption_key_file: None,
            encryption_key_previous: None,
        },
        bus: BusArgs {
            nats_url: Some(jetstream.settings.url.clone()),
            nats_stream: jetstream.settings.stream.clone(),
            nats_subject_prefix: jetstream.settings.subject_prefix.clone(),
        },
        max_body_bytes: 1 << 20,
        consistency_timeout_ms: 10_000,
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
            allow: Some("127.0.0.0/8,::1,localhost".to_owned()),
            // The benchmark's own calls are not the subject of its limits.
            max_calls_per_execution: 0,
            max_calls_per_workspace_per_minute: 0,
            ..OutboundArgs::default()
        },
        env_allow: None,
        auth: AuthArgs::default(),
        rate_limits: RateLimitArgs::off(),
        cors_origins: Vec::new(),
        public_url: None,
        telemetry: TelemetryArgs {
            log_format: LogFormat::Text,
            otlp_endpoint: None,
        },
    };
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let running = server::start(&args, shutdown.clone())
        .await
        .expect("server starts");
    let base = format!("http://{}", running.local_addr);
    let http = owner_client(&base).await;
    let (mut published_at, mut projected_at) = (None, None);
    while projected_at.is_none() {
        let status = projections(&http, &base).await;
        if published_at.is_none() && status["publisher"]["position"] == head {
            published_at = Some(started.elapsed());
        }
        if status["projections"]
            .as_array()
            .expect("list")
            .iter()
            .all(|p| p["position"] == head)
        {
            projected_at = Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (published, projected) = (
        published_at.unwrap_or_default(),
        projected_at.unwrap_or_default(),
    );
    println!("backlog: {head} events");
    println!(
        "publish (store -> JetStream): {:.0} events/s ({published:.2?})",
        head as f64 / published.as_secs_f64()
    );
    println!(
        "projections (JetStream -> every projection, in parallel): {:.0} events/s ({projected:.2?} from start)",
        head as f64 / projected.as_secs_f64()
    );

    // Phase 2: steady load, commit-to-projected lag as a client sees it.
    let lags = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut tasks = Vec::new();
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        ticker.tick().await;
        let (http, base, lags) = (http.clone(), base.clone(), lags.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"name": "bench", "nodes": [{"name": "S", "type": "manual_trigger"}]});
            let created: Value = http
                .post(format!("{base}/api/v1/workflows"))
                .json(&body)
                .send()
                .await
                .expect("create")
                .json()
                .await
                .expect("json");
            let acknowledged = Instant::now();
            let (id, position) = (
                created["id"].as_str().expect("id").to_owned(),
                created["position"].as_u64().expect("position"),
            );
            let response = http
                .get(format!(
                    "{base}/api/v1/workflows/{id}?consistent_with={position}"
                ))
                .send()
                .await
                .expect("read");
            assert!(response.status().is_success());
            lags.lock().await.push(acknowledged.elapsed());
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let mut lags = lags.lock().await.clone();
    lags.sort_unstable();
    let pick = |q: f64| lags[((lags.len() as f64 * q) as usize).min(lags.len() - 1)];
    println!(
        "steady load {rate} commands/s for {seconds} s ({} commands): commit-to-projected lag p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        lags.len(),
        pick(0.50),
        pick(0.99),
        lags[lags.len() - 1]
    );
    shutdown.cancel();
    running.wait().await;
}
