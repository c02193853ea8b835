//! The rate limits through the real server: a caller over its API rate gets
//! 429 `rate_limited` with `Retry-After` while another caller is not
//! slowed, a source address over its sign-in rate is refused before any
//! password is checked, a webhook path over its rate is refused and starts
//! nothing, and the refusals are counted in the metrics.

mod support;

use flowforge_api::config::RateLimitArgs;
use serde_json::{json, Value};
use support::{Backend, TestApp};

async fn app() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |args| {
        args.rate_limits = RateLimitArgs {
            api_rate: 1,
            api_burst: 5,
            webhook_rate: 1,
            webhook_burst: 2,
            // Room for the test server's own registration and sign-in.
            sign_in_per_minute: 1,
            sign_in_burst: 4,
        };
    })
    .await
    .expect("the embedded store needs no service")
}

async fn status_of(request: reqwest::RequestBuilder) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_its_rate_waits_and_others_do_not() {
    let app = app().await;
    // An API key is another caller, with a bucket of its own.
    let (status, created) = app
        .post(
            "/api/v1/api-keys",
            &json!({"name": "other", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().expect("key").to_owned();
    let mut refused = None;
    for _ in 0..10 {
        let (status, body, headers) = status_of(app.http.get(app.url("/api/v1/workflows"))).await;
        if status == 429 {
            refused = Some((body, headers));
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    let (body, headers) = refused.expect("the owner's bucket runs dry");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(body["error"]["details"]["limit"], "api", "{body}");
    let retry_after: u64 = headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let (status, body, _) = status_of(
        reqwest::Client::new()
            .get(app.url("/api/v1/workflows"))
            .header("x-api-key", &key),
    )
    .await;
    assert_eq!(status, 200, "another caller is not slowed: {body}");

    let text = reqwest::get(app.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        text.lines()
            .any(|line| line.starts_with("flowforge_rate_limited_total{limit=\"api\"}")),
        "the refusal is counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_over_its_sign_in_rate_is_refused_before_any_password_check() {
    let app = app().await;
    let anonymous = reqwest::Client::new();
    let mut codes = Vec::new();
    for _ in 0..4 {
        let (_, body, _) = status_of(
            anonymous
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"email": support::OWNER_EMAIL, "password": "wrong, wrong, wrong"})),
        )
        .await;
        codes.push(body["error"]["code"].as_str().unwrap_or("").to_owned());
    }
    // The owner's registration and sign-in took two of the four; two wrong
    // passwords are checked, then the address waits.
    assert_eq!(
        codes,
        [
            "invalid_credentials",
            "invalid_credentials",
            "rate_limited",
            "rate_limited"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_path_over_its_rate_starts_nothing() {
    let app = app().await;
    let (id, _, _) = app
        .create_workflow(&json!({"name": "hook", "nodes": [
            {"name": "Start", "type": "webhook", "parameters": {"path": "busy"}}]}))
        .await;
    let (status, body, _) = app
        .send(
            app.http
                .post(app.url(&format!("/api/v1/workflows/{id}/activate")))
                .header("If-Match", "*"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let anonymous = reqwest::Client::new();
    let (first, _, _) = status_of(anonymous.post(app.url("/webhook/busy")).json(&json!({}))).await;
    let (second, _, _) = status_of(anonymous.post(app.url("/webhook/busy")).json(&json!({}))).await;
    assert_eq!((first, second), (202, 202));
    let (status, body, _) =
        status_of(anonymous.post(app.url("/webhook/busy")).json(&json!({}))).await;
    assert_eq!(
        (status, body["error"]["details"]["limit"].as_str()),
        (429, Some("webhook")),
        "{body}"
    );
}
