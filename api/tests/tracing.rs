//! One webhook call, followed through OpenTelemetry: the `flowforge` binary
//! exports its spans over OTLP/HTTP to a collector on loopback, and the call's
//! HTTP handler, commands, appends, projection updates, node runs (and, with
//! NATS, publishes) all land in the caller's trace, joined in one tree. The
//! HTTP Request node passes the trace on to the service it calls, and the JSON
//! log lines carry the trace id and the correlation id.

mod support;

use std::{
    collections::BTreeSet,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{extract::State, http::HeaderMap, routing::post, Json, Router};
use flowforge_infra::test_support::{TestDatabase, TestJetStream};
use serde_json::{json, Value};
use support::{
    otlp_receiver::{OtlpReceiver, ReceivedSpan},
    process::{postgres_and_nats, FlowforgeProcess},
};
use uuid::Uuid;

/// A downstream service that records the `traceparent` each call carried.
async fn downstream() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    async fn echo(
        State(seen): State<Arc<Mutex<Vec<String>>>>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> Json<Value> {
        let traceparent = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        seen.lock().expect("seen").push(traceparent);
        Json(json!({"echoed": body}))
    }
    let app = Router::new()
        .route("/echo", post(echo))
        .with_state(seen.clone());
    let base = support::serve_on_loopback(app).await;
    (base, seen)
}

/// Span names that must all be in the trace, and whether the tree is whole:
/// every parent is a span of the trace, or the caller's own span.
fn complete(spans: &[ReceivedSpan], wanted: &[&str], caller_span: &str) -> bool {
    let names: BTreeSet<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    wanted.iter().all(|w| names.contains(w))
        && spans
            .iter()
            .all(|s| s.parent_span_id == caller_span || ids.contains(s.parent_span_id.as_str()))
}

/// A `flowforge serve` exporting its spans to a collector of the test's own,
/// logging JSON lines to a file.
struct TracedServer {
    collector: OtlpReceiver,
    server: FlowforgeProcess,
    logs: tempfile::NamedTempFile,
    http: reqwest::Client,
}

impl TracedServer {
    async fn start(mut env: Vec<(&'static str, String)>) -> Self {
        let collector = OtlpReceiver::start().await;
        let logs = tempfile::NamedTempFile::new().expect("log file");
        env.extend([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.clone()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
            ("FLOWFORGE_LOG_FORMAT", "json".to_owned()),
            (
                "RUST_LOG",
                "warn,flowforge_api::routes::request_span=debug".to_owned(),
            ),
        ]);
        let server = FlowforgeProcess::start(&env, Stdio::from(logs.reopen().expect("log file")));
        let http = reqwest::Client::new();
        server.wait_ready(&http).await;
        let http = support::owner_client(&server.base).await;
        Self {
            collector,
            server,
            logs,
            http,
        }
    }

    /// Creates and activates a workflow.
    async fn activate(&self, definition: Value) {
        let created: Value = self
            .http
            .post(format!("{}/api/v1/workflows", self.server.base))
            .json(&definition)
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("JSON");
        let workflow = created["id"].as_str().expect("workflow id");
        let activated = self
            .http
            .post(format!(
                "{}/api/v1/workflows/{workflow}/activate",
                self.server.base
            ))
            .send()
            .await
            .expect("activate");
        assert_eq!(activated.status(), 200);
    }

    /// The spans of `trace_id` once `wanted` are all there as one tree under
    /// `caller_span`; fails with everything received if they never are.
    async fn whole_trace(
        &self,
        trace_id: &str,
        caller_span: &str,
        wanted: &[&str],
    ) -> Vec<ReceivedSpan> {
        let spans = self
            .collector
            .trace(trace_id, Duration::from_secs(20), |spans| {
                complete(spans, wanted, caller_span)
            })
            .await;
        let summary: Vec<String> = spans
            .iter()
            .map(|s| format!("{} {} <- {}", s.name, s.span_id, s.parent_span_id))
            .collect();
        if !complete(&spans, wanted, caller_span) {
            let everything: Vec<String> = self
                .collector
                .spans()
                .iter()
                .map(|s| {
                    format!(
                        "{} {} {} <- {}",
                        s.trace_id, s.name, s.span_id, s.parent_span_id
                    )
                })
                .collect();
            let logs = std::fs::read_to_string(self.logs.path()).unwrap_or_default();
            panic!(
                "the trace lacks some of {wanted:?} or is not one tree:\n{}\nall spans:\n{}\nlogs:\n{logs}",
                summary.join("\n"),
                everything.join("\n")
            );
        }
        println!(
            "{} spans in trace {trace_id}:\n{}",
            spans.len(),
            summary.join("\n")
        );
        spans
    }
}

async fn one_webhook_call_is_one_trace(env: Vec<(&'static str, String)>, wanted_extra: &[&str]) {
    let traced = TracedServer::start(env).await;
    let (service, traceparents_seen) = downstream().await;
    traced
        .activate(json!({"name": "traced", "nodes": [
            {"name": "Start", "type": "webhook", "parameters": {"path": "traced", "method": "POST", "response_mode": "last_node"}},
            {"name": "Double", "type": "set", "parameters": {"fields": {"twice": "{{ $json.body.n * 2 }}"}}},
            {"name": "Call", "type": "http_request", "parameters": {"method": "POST", "url": format!("{service}/echo"), "body": {"twice": "{{ $json.twice }}"}}}],
            "connections": {"Start": {"main": [[{"node": "Double"}]]}, "Double": {"main": [[{"node": "Call"}]]}}}))
        .await;
    let TracedServer {
        collector,
        server,
        http,
        ..
    } = &traced;

    let trace_id = Uuid::new_v4().simple().to_string();
    let caller_span = "00f067aa0ba902b7";
    let response = http
        .post(format!("{}/webhook/traced", server.base))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({"n": 21}))
        .send()
        .await
        .expect("webhook call");
    assert_eq!(response.status(), 200);
    let correlation_id = response
        .headers()
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .expect("the correlation id is returned")
        .to_owned();
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer, json!({"echoed": {"twice": 42}}));

    let mut wanted = vec![
        "POST /webhook/{*path}",
        "command execution",
        "event_store.append",
        "project executions",
        "project audit_log",
        "orchestrator advance",
        "node Start",
        "node Double",
        "node Call",
    ];
    wanted.extend_from_slice(wanted_extra);
    let spans = traced.whole_trace(&trace_id, caller_span, &wanted).await;

    let server_span = spans
        .iter()
        .find(|s| s.name == "POST /webhook/{*path}")
        .expect("server span");
    assert_eq!(server_span.parent_span_id, caller_span);
    assert_eq!(server_span.attributes["http.response.status_code"], "200");
    assert!(spans.iter().all(|s| s.service == "flowforge"));

    // Every span about this execution is in the caller's trace, none elsewhere.
    let execution = spans
        .iter()
        .find(|s| s.name == "node Call")
        .and_then(|s| s.attributes.get("execution_id"))
        .expect("node spans name their execution")
        .clone();
    let elsewhere: Vec<String> = collector
        .spans()
        .into_iter()
        .filter(|s| s.attributes.get("execution_id") == Some(&execution) && s.trace_id != trace_id)
        .map(|s| format!("{} in {}", s.name, s.trace_id))
        .collect();
    assert!(elsewhere.is_empty(), "spans left the trace: {elsewhere:?}");

    // The called service continues the node run's span.
    let node_call = spans
        .iter()
        .find(|s| s.name == "node Call")
        .expect("node Call");
    let seen = traceparents_seen.lock().expect("seen").clone();
    assert_eq!(
        seen,
        vec![format!("00-{trace_id}-{}-01", node_call.span_id)]
    );

    // The JSON log line of the call names its trace and correlation id.
    let TracedServer { server, logs, .. } = traced;
    server.terminate();
    let lines = std::fs::read_to_string(logs.path()).expect("logs");
    let handled: Vec<Value> = lines
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            line["message"] == "request handled" && line["trace_id"] == trace_id.as_str()
        })
        .collect();
    assert_eq!(handled.len(), 1, "log lines:\n{lines}");
    assert_eq!(handled[0]["correlation_id"], correlation_id.as_str());
    assert_eq!(handled[0]["level"], "DEBUG");
    assert_eq!(handled[0]["status"], 200);
}

#[tokio::test]
async fn embedded_store_one_webhook_call_is_one_trace() {
    let data = tempfile::tempdir().expect("data dir");
    one_webhook_call_is_one_trace(
        vec![(
            "FLOWFORGE_DATA_DIR",
            data.path().to_string_lossy().into_owned(),
        )],
        &[],
    )
    .await;
}

#[tokio::test]
async fn postgres_and_nats_one_webhook_call_is_one_trace() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    one_webhook_call_is_one_trace(postgres_and_nats(&db, &jetstream), &["bus.publish"]).await;
}

/// A message that starts a `nats_trigger` workflow with a `traceparent`
/// header puts the execution in the publisher's trace.
#[tokio::test]
async fn postgres_and_nats_a_triggering_message_continues_its_publishers_trace() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let Some(jetstream) = TestJetStream::shared() else {
        return;
    };
    let traced = TracedServer::start(postgres_and_nats(&db, &jetstream)).await;
    let subject = format!("fftest.traced.{}", Uuid::new_v4().simple());
    traced
        .activate(json!({"name": "from nats", "nodes": [
            {"name": "Inbox", "type": "nats_trigger", "parameters": {"subject": subject}},
            {"name": "Double", "type": "set", "parameters": {"fields": {"doubled": "{{ $json.payload.n * 2 }}"}}}],
            "connections": {"Inbox": {"main": [[{"node": "Double"}]]}}}))
        .await;
    // Triggers subscribe within their refresh period (1 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let trace_id = Uuid::new_v4().simple().to_string();
    let publisher_span = "a3ce929d0e0e4736";
    let client = async_nats::connect(jetstream.settings.url.as_str())
        .await
        .expect("connect");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{trace_id}-{publisher_span}-01").as_str(),
    );
    client
        .publish_with_headers(subject.clone(), headers, r#"{"n": 21}"#.into())
        .await
        .expect("publish");
    client.flush().await.expect("flush");

    let spans = traced
        .whole_trace(
            &trace_id,
            publisher_span,
            &[
                &format!("receive {subject}"),
                "command execution",
                "orchestrator advance",
                "node Inbox",
                "node Double",
            ],
        )
        .await;
    let receive = spans
        .iter()
        .find(|s| s.name.starts_with("receive "))
        .expect("the receive span");
    assert_eq!(receive.parent_span_id, publisher_span);
}
