//! A local HTTP server standing in for a flaky third-party API: it fails its
//! first calls, then answers, and records every call.

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{extract::State, http::HeaderMap, routing::post, Json, Router};
use serde_json::{json, Value};

/// A local HTTP server that fails its first `failures` calls with 500, then
/// answers `{"ok": true, "call": n}`; it records each call's time and
/// Idempotency-Key.
#[derive(Clone, Default)]
pub struct FlakyServer {
    calls: Arc<Mutex<Vec<(Instant, String)>>>,
    failures: usize,
}

impl FlakyServer {
    pub async fn start(failures: usize) -> (Self, String) {
        let server = FlakyServer {
            calls: Arc::default(),
            failures,
        };
        let app = Router::new()
            .route("/flaky", post(flaky))
            .with_state(server.clone());
        let url = format!("{}/flaky", super::serve_on_loopback(app).await);
        (server, url)
    }

    pub fn calls(&self) -> Vec<(Instant, String)> {
        self.calls.lock().expect("calls").clone()
    }
}

async fn flaky(
    State(server): State<FlakyServer>,
    headers: HeaderMap,
) -> (axum::http::StatusCode, Json<Value>) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let call = {
        let mut calls = server.calls.lock().expect("calls");
        calls.push((Instant::now(), key));
        calls.len()
    };
    if call <= server.failures {
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "not yet"})),
        )
    } else {
        (
            axum::http::StatusCode::OK,
            Json(json!({"ok": true, "call": call})),
        )
    }
}
