//! A local stand-in for a travel-booking API, for saga tests: `POST
//! /book/{kind}` books (a `car` is never available: 500), `DELETE
//! /bookings/{id}` cancels — failing or stalling on demand — and every
//! cancellation is recorded with its time and Idempotency-Key.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::{delete, post},
    Json, Router,
};
use serde_json::{json, Value};

/// One cancellation call.
#[derive(Debug, Clone)]
pub struct Cancellation {
    /// The booking id in the path.
    pub id: String,
    /// Its Idempotency-Key header.
    pub key: String,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Default)]
struct Bookings {
    cancellations: Vec<Cancellation>,
    /// Booking id → how many more cancellations fail (`usize::MAX`: until fixed).
    failures: HashMap<String, usize>,
    /// Booking id → how long its first cancellation stalls before answering.
    stalls: HashMap<String, Duration>,
}

/// The server and what it saw.
#[derive(Clone, Default)]
pub struct BookingServer {
    bookings: Arc<Mutex<Bookings>>,
}

impl BookingServer {
    /// Starts it on a free loopback port; returns it and its base URL.
    pub async fn start() -> (Self, String) {
        let server = Self::default();
        let app = Router::new()
            .route("/book/{kind}", post(book))
            .route("/bookings/{id}", delete(cancel))
            .with_state(server.clone());
        let base = super::serve_on_loopback(app).await;
        (server, base)
    }

    /// The next `times` cancellations of booking `id` fail with 503.
    pub fn fail(&self, id: &str, times: usize) {
        self.lock().failures.insert(id.to_owned(), times);
    }

    /// Cancellations of `id` succeed again.
    pub fn fix(&self, id: &str) {
        self.lock().failures.remove(id);
    }

    /// The first cancellation of `id` stalls for `delay` before answering.
    pub fn stall(&self, id: &str, delay: Duration) {
        self.lock().stalls.insert(id.to_owned(), delay);
    }

    /// Every cancellation so far, in arrival order.
    pub fn cancellations(&self) -> Vec<Cancellation> {
        self.lock().cancellations.clone()
    }

    /// The booking ids cancelled, in arrival order.
    pub fn cancelled_ids(&self) -> Vec<String> {
        self.cancellations().into_iter().map(|c| c.id).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bookings> {
        self.bookings.lock().expect("bookings")
    }
}

async fn book(Path(kind): Path<String>) -> (StatusCode, Json<Value>) {
    if kind == "car" {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "no cars left"})),
        );
    }
    (StatusCode::OK, Json(json!({"id": format!("{kind}-1")})))
}

async fn cancel(
    State(server): State<BookingServer>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (fails, stall) = {
        let mut bookings = server.lock();
        bookings.cancellations.push(Cancellation {
            id: id.clone(),
            key,
            at: Instant::now(),
        });
        let fails = match bookings.failures.get_mut(&id) {
            Some(left) if *left > 0 => {
                if *left != usize::MAX {
                    *left -= 1;
                }
                true
            }
            _ => false,
        };
        (fails, bookings.stalls.remove(&id))
    };
    if let Some(delay) = stall {
        tokio::time::sleep(delay).await;
    }
    if fails {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "try later"})),
        );
    }
    (StatusCode::OK, Json(json!({"cancelled": id})))
}

/// Flight → Hotel → (Pause →) Car; flight and hotel say how to undo them,
/// the car is never available.
pub fn trip(base: &str, undo_retry: Value, pause: bool) -> Value {
    let undo = json!({"type": "http_request", "retry": undo_retry,
        "parameters": {"method": "DELETE", "url": format!("{base}/bookings/{{{{ $json.id }}}}")}});
    let mut nodes = vec![
        json!({"name": "Start", "type": "manual_trigger"}),
        json!({"name": "Flight", "type": "http_request", "compensation": undo,
               "parameters": {"method": "POST", "url": format!("{base}/book/flight")}}),
        json!({"name": "Hotel", "type": "http_request", "compensation": undo,
               "parameters": {"method": "POST", "url": format!("{base}/book/hotel")}}),
    ];
    let mut order = vec!["Start", "Flight", "Hotel"];
    if pause {
        nodes.push(json!({"name": "Pause", "type": "wait", "parameters": {"duration_ms": 60000}}));
        order.push("Pause");
    }
    nodes.push(json!({"name": "Car", "type": "http_request",
        "retry": {"max_tries": 2, "wait_ms": 50},
        "parameters": {"method": "POST", "url": format!("{base}/book/car")}}));
    order.push("Car");
    let connections: serde_json::Map<String, Value> = order
        .windows(2)
        .map(|pair| (pair[0].to_owned(), json!({"main": [[{"node": pair[1]}]]})))
        .collect();
    json!({"name": "trip", "nodes": nodes, "connections": connections})
}
