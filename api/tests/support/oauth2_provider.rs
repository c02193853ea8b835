//! A local OAuth 2.0 provider for tests, speaking RFC 6749 with PKCE
//! (RFC 7636): an authorization page that sends the browser straight back
//! with a code, a token endpoint for the client-credentials,
//! authorization-code and refresh-token grants (authenticating the client
//! with HTTP basic), and a resource that echoes the bearer token it got.
//! The code's token is issued already expired, so its first use refreshes.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Json, Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The client secret the provider accepts (client id `app`).
pub const CLIENT_SECRET: &str = "cl1ent-5ecret-7a8b9c";

/// Every token and secret the provider hands out or accepts.
pub const PROVIDER_SECRETS: &[&str] = &[
    CLIENT_SECRET,
    "cc-token-1",
    "ac-token-first",
    "ac-token-refreshed-1a2b",
    "rt-first-4d5e6f",
    "rt-second-7e8f9a",
];

/// What the provider saw and issued.
#[derive(Default)]
pub struct Provider {
    challenge: Option<String>,
    /// Client-credentials tokens issued.
    pub client_credentials_issued: usize,
    /// Codes exchanged for tokens.
    pub codes_exchanged: usize,
    /// Tokens refreshed.
    pub refreshes: usize,
    /// The `Authorization` of every resource request.
    pub resource_saw: Vec<String>,
}

/// The provider's state, shared with the test.
pub type Shared = Arc<Mutex<Provider>>;

fn client_ok(headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("app:{CLIENT_SECRET}"))
    );
    headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h == expected)
}

async fn authorize(
    State(provider): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Redirect {
    provider.lock().expect("provider").challenge = query.get("code_challenge").cloned();
    let redirect = &query["redirect_uri"];
    let state = url_encode(&query["state"]);
    Redirect::to(&format!("{redirect}?code=the-code&state={state}"))
}

fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn token(
    State(provider): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !client_ok(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "bad client secret"})),
        )
            .into_response();
    }
    let mut provider = provider.lock().expect("provider");
    let body = match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            provider.client_credentials_issued += 1;
            json!({"access_token": format!("cc-token-{}", provider.client_credentials_issued),
                   "token_type": "bearer", "expires_in": 3600})
        }
        Some("authorization_code") => {
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if form.get("code").map(String::as_str) != Some("the-code")
                || provider.challenge.as_deref() != Some(challenge.as_str())
            {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
            provider.codes_exchanged += 1;
            // Already expired: the first use must refresh it.
            json!({"access_token": "ac-token-first", "refresh_token": "rt-first-4d5e6f",
                   "token_type": "bearer", "expires_in": 1})
        }
        Some("refresh_token")
            if form.get("refresh_token").map(String::as_str) == Some("rt-first-4d5e6f") =>
        {
            provider.refreshes += 1;
            json!({"access_token": "ac-token-refreshed-1a2b", "refresh_token": "rt-second-7e8f9a",
                   "token_type": "bearer", "expires_in": 3600})
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_grant"})),
            )
                .into_response()
        }
    };
    Json(body).into_response()
}

async fn resource(State(provider): State<Shared>, headers: HeaderMap) -> Json<Value> {
    let authorization = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    provider
        .lock()
        .expect("provider")
        .resource_saw
        .push(authorization.clone());
    Json(json!({"you_sent": authorization}))
}

/// Starts a provider on a free loopback port: its base URL and state.
pub async fn provider() -> (String, Shared) {
    let shared = Shared::default();
    let app = Router::new()
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/resource", get(resource))
        .with_state(shared.clone());
    (super::serve_on_loopback(app).await, shared)
}

/// A browser that follows no redirect by itself, as a test walks a grant
/// step by step.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

/// Opens the grant link `url` as a user would: the provider grants at once
/// and answers the redirect back to FlowForge's callback, whose URL (with
/// the code and state) this returns.
pub async fn grant(url: &str) -> String {
    let to_provider = browser()
        .get(url)
        .send()
        .await
        .expect("the provider answers");
    to_provider
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("a redirect back")
        .to_owned()
}
