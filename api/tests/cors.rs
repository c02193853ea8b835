//! CORS: off by default (no browser on another origin is let in); with
//! origins configured, a preflight from one of them is answered and the
//! real request carries the allow-origin header, while other origins get
//! nothing.

mod support;

use support::{Backend, TestApp};

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/workflows"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("preflight")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_origins_may_call_the_api_and_no_others() {
    let app = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.cors_origins = vec!["https://app.example.com".to_owned()];
    })
    .await
    .expect("the embedded store needs no service");
    let allowed = preflight(&app, "https://app.example.com").await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let methods = allowed.headers()["access-control-allow-methods"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    let other = preflight(&app, "https://evil.example.com").await;
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let response = app
        .http
        .get(app.url("/api/v1/workflows"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_origins_cors_is_off() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("the embedded store needs no service");
    let response = preflight(&app, "https://app.example.com").await;
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}
