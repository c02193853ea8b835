//! A local HTTP endpoint standing in for a mail or chat service: it keeps
//! every JSON body posted to it, so a test can read what a workflow sent out
//! (an approval link) without the execution showing it.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{extract::State, routing::post, Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

/// The bodies posted so far, and a wake-up for each new one.
#[derive(Clone, Default)]
pub struct Inbox {
    messages: Arc<Mutex<Vec<Value>>>,
    arrived: Arc<Notify>,
}

impl Inbox {
    /// Starts the endpoint; returns it and the URL to post to.
    pub async fn start() -> (Self, String) {
        let inbox = Inbox::default();
        let app = Router::new()
            .route("/inbox", post(receive))
            .with_state(inbox.clone());
        let url = format!("{}/inbox", super::serve_on_loopback(app).await);
        (inbox, url)
    }

    /// Waits (at most `within`) until `count` messages arrived; returns them.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Value> {
        let waiting = async {
            loop {
                let arrived = self.arrived.notified();
                let messages = self.messages.lock().expect("messages").clone();
                if messages.len() >= count {
                    return messages;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(within, waiting)
            .await
            .unwrap_or_else(|_| panic!("{count} message(s) did not arrive within {within:?}"))
    }
}

async fn receive(State(inbox): State<Inbox>, Json(body): Json<Value>) -> Json<Value> {
    inbox.messages.lock().expect("messages").push(body);
    inbox.arrived.notify_waiters();
    Json(json!({"ok": true}))
}
