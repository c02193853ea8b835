//! TLS on both sides, on loopback with certificates the test makes: `serve`
//! terminates HTTPS (with HSTS, and a renewed certificate picked up without a
//! restart), and the HTTP Request node trusts a private CA only when
//! `--ca-file` names it, saying so clearly when it does not.

mod support;

use std::time::Duration;

use axum::{routing::get, Json, Router};
use flowforge_outbound::{tls_failure, TlsFailure, TlsTrust};
use serde_json::{json, Value};
use support::{
    eventually,
    otlp_receiver::OtlpReceiver,
    pki::{serve_https, TestCa},
    process::FlowforgeProcess,
    Backend, TestApp,
};

/// A client that trusts `ca` (beside the public roots).
fn client_trusting(ca: &TestCa) -> reqwest::Client {
    TlsTrust::with_ca_pem(ca.cert_pem().as_bytes(), "test CA")
        .expect("trust")
        .http_client(reqwest::Client::builder())
        .expect("client")
}

/// The app's address as an `https://` URL of `path`.
fn https(app: &TestApp, path: &str) -> String {
    app.url(path).replacen("http://", "https://", 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_speaks_https_with_hsts_and_picks_up_a_renewed_certificate() {
    // Given a server started with a certificate for 127.0.0.1 from CA "first"
    let dir = tempfile::tempdir().expect("temp dir");
    let first = TestCa::new("first");
    let (cert, key) = first
        .issue(&["127.0.0.1", "localhost"])
        .write_to(dir.path());
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.tls.tls_cert = Some(cert.clone());
        args.tls.tls_key = Some(key.clone());
    })
    .await
    else {
        return;
    };

    // When a client that trusts "first" calls it over HTTPS
    let response = client_trusting(&first)
        .get(https(&app, "/health/live"))
        .send()
        .await
        .expect("HTTPS answers");

    // Then it answers, and tells browsers to stay on HTTPS
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );

    // And a client that trusts only the public roots is refused as untrusted
    let refused = TlsTrust::public_roots()
        .http_client(reqwest::Client::builder())
        .expect("client")
        .get(https(&app, "/health/live"))
        .send()
        .await
        .expect_err("an unknown CA is not trusted");
    assert_eq!(tls_failure(&refused), Some(TlsFailure::Untrusted));

    // And plain HTTP gets no answer from the HTTPS port
    let plain = reqwest::Client::new()
        .get(app.url("/health/live"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        !plain.is_ok_and(|r| r.status().is_success()),
        "plain HTTP is not served"
    );

    // When the certificate is renewed by CA "second" in place
    let second = TestCa::new("second");
    second
        .issue(&["127.0.0.1", "localhost"])
        .write_to(dir.path());

    // Then new connections are served with it, without a restart
    let renewed = client_trusting(&second);
    eventually(
        Duration::from_secs(15),
        "the renewed certificate is served",
        || async {
            renewed
                .get(https(&app, "/health/live"))
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
        },
    )
    .await;
}

/// An HTTPS server on loopback answering `GET /hello`, with a certificate
/// from `ca`; returns its base URL.
fn https_stub(ca: &TestCa, dir: &std::path::Path) -> String {
    let app = Router::new().route("/hello", get(|| async { Json(json!({"hello": "tls"})) }));
    serve_https(app, ca, dir).0
}

/// Runs a one-node workflow calling `url` and returns the finished run.
async fn call(app: &TestApp, url: &str) -> Value {
    let (id, _, _) = app
        .create_workflow(&json!({
            "name": "call over TLS",
            "nodes": [
                {"name": "Start", "type": "manual_trigger"},
                {"name": "Call", "type": "http_request", "parameters": {"url": url}}
            ],
            "connections": {"Start": {"main": [[{"node": "Call"}]]}}
        }))
        .await;
    let (status, run) = app
        .post(
            &format!("/api/v1/workflows/{id}/executions?wait=true"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_node_trusts_a_private_ca_only_through_the_ca_file() {
    // Given an HTTPS service behind a private CA
    let dir = tempfile::tempdir().expect("temp dir");
    let private = TestCa::new("private");
    let url = format!("{}/hello", https_stub(&private, dir.path()));
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, private.cert_pem()).expect("write CA");

    // When a server without --ca-file runs a workflow that calls it
    let Some(plain) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let run = call(&plain, &url).await;

    // Then the node fails with a TLS error naming the host, at once
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["failure"]["node"], "Call");
    assert_eq!(run["failure"]["error"]["code"], "tls_error", "{run}");
    let message = run["failure"]["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("certificate not trusted for 127.0.0.1"),
        "{message}"
    );

    // When a server trusting the CA file runs it
    let Some(trusting) = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.tls.ca_file = Some(ca_file.clone());
    })
    .await
    else {
        return;
    };
    let run = call(&trusting, &url).await;

    // Then the call succeeds
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"][0][0], json!({"hello": "tls"}), "{run}");
}

#[tokio::test]
async fn an_unusable_ca_file_is_refused_with_its_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("not-a-ca.pem");
    std::fs::write(&ca_file, "hello").expect("write");
    let args = flowforge_api::config::TlsArgs {
        ca_file: Some(ca_file),
        ..Default::default()
    };
    let error = args.outbound_trust().expect_err("not PEM");
    assert!(error.to_string().contains("not-a-ca.pem"), "{error}");
}

/// Opens (and closes) the database at `url`.
async fn connects(url: &str) -> Result<(), String> {
    let database = flowforge_infra::database::Database::connect_postgres(url, 2)
        .await
        .map_err(|error| format!("{error:#}"))?;
    database.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_follows_the_sslmode_of_the_url() {
    // Given a PostgreSQL that serves TLS with a certificate from a private
    // CA, and refuses TCP clients without TLS
    let ca = TestCa::new("database CA");
    let Some(postgres) = support::private_postgres::PrivatePostgres::start_with_tls(&ca) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("root.pem");
    std::fs::write(&root, ca.cert_pem()).expect("write CA");
    let root = root.display();
    let localhost = postgres.url.replacen("127.0.0.1", "localhost", 1);

    // Then each sslmode does what libpq's does
    let accepted = [
        format!("{}?sslmode=require", postgres.url),
        format!("{}?sslmode=prefer", postgres.url),
        format!("{}?sslmode=verify-ca&sslrootcert={root}", postgres.url),
        format!("{}?sslmode=verify-full&sslrootcert={root}", postgres.url),
        format!("{localhost}?sslmode=verify-full&sslrootcert={root}"),
    ];
    for url in accepted {
        if let Err(error) = connects(&url).await {
            panic!("{url} connects: {error}");
        }
    }
    let refused = [
        (
            format!("{}?sslmode=disable", postgres.url),
            "the server refuses TCP without TLS",
        ),
        (
            format!("{}?sslmode=verify-full", postgres.url),
            "a private CA is not among the public roots",
        ),
    ];
    for (url, why) in refused {
        assert!(connects(&url).await.is_err(), "{url}: {why}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_reach_an_https_collector_behind_the_ca_file() {
    // Given an OTLP collector on HTTPS with a certificate from a private CA
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("collector CA");
    let collector = OtlpReceiver::start_tls(&ca, dir.path()).await;
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).expect("write CA");
    let data = tempfile::tempdir().expect("data dir");

    // When a server exporting to it, trusting the CA file, answers a request
    let server = FlowforgeProcess::start(
        &[
            ("FLOWFORGE_DATA_DIR", data.path().display().to_string()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.clone()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
            ("FLOWFORGE_CA_FILE", ca_file.display().to_string()),
        ],
        std::process::Stdio::null(),
    );
    let http = reqwest::Client::new();
    server.wait_ready(&http).await;
    let http = support::owner_client(&server.base).await;
    let status = http
        .get(format!("{}/api/v1/workflows", server.base))
        .send()
        .await
        .expect("request")
        .status();
    assert_eq!(status, 200);

    // Then its spans arrive over TLS
    eventually(
        Duration::from_secs(15),
        "spans reach the HTTPS collector",
        || async { (!collector.spans().is_empty()).then_some(()) },
    )
    .await;
}
