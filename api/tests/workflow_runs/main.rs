//! Workflows running for real: webhooks, retries against a local HTTP server,
//! runaway expressions, bad input — on PostgreSQL and on the embedded store.

#[path = "../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{eventually, flaky_server::FlakyServer, inbox::Inbox, Backend, TestApp};

async fn activate(app: &TestApp, id: &str) {
    let (status, body) = app
        .post(&format!("/api/v1/workflows/{id}/activate"), &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
}

mod node_failures;
mod refusals;
mod schedules;
mod waits;
mod webhooks;
