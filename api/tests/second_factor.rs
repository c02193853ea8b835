//! The TOTP second factor through the HTTP API, on both stores, with codes
//! computed from the `otpauth://` address as an authenticator app would:
//! setting it up takes a code, signing in then needs one (each time step
//! once), recovery codes open the account once each, wrong codes count
//! towards the lock, turning it off needs the password and a code, and
//! neither the secret nor a recovery code reaches the event log.

mod support;

use serde_json::{json, Value};
use support::{Backend, TestApp};
use totp_rs::Totp;

const PASSWORD: &str = "a long and unusual phrase";

async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |args| {
        args.auth.argon2_memory_kib = 1024;
        args.auth.argon2_iterations = 1;
        args.auth.open_registration = true;
    })
    .await
}

/// Registers `email` and signs it in; its access token.
async fn account(app: &TestApp, email: &str) -> String {
    let (status, body) = app
        .post(
            "/api/v1/auth/register",
            &json!({"email": email, "password": PASSWORD, "name": "Ada"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = login(app, email, None).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

async fn login(app: &TestApp, email: &str, totp: Option<&str>) -> (u16, Value) {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(code) = totp {
        body["totp"] = json!(code);
    }
    app.post("/api/v1/auth/login", &body).await
}

async fn as_account(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, body, _) = app
        .send(app.http.post(app.url(path)).bearer_auth(token).json(&body))
        .await;
    (status, body)
}

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).expect("after 1970")
}

/// The code the authenticator shows `steps` time steps from now.
fn code(totp: &Totp, steps: i64) -> String {
    let at = now().saturating_add_signed(steps * 30);
    totp.generate(at).to_string()
}

/// A six-digit code the authenticator shows at none of the three steps a
/// check accepts.
fn wrong_code(totp: &Totp) -> String {
    let accepted: Vec<String> = (-1..=1).map(|s| code(totp, s)).collect();
    (0..)
        .map(|n| format!("{:06}", (123_456 + n * 7919) % 1_000_000))
        .find(|c| !accepted.contains(c))
        .expect("a wrong code")
}

/// Sets up and confirms an authenticator; the authenticator (as an app
/// reads it), the recovery codes and the secret.
async fn enrol(app: &TestApp, token: &str) -> (Totp, Vec<String>, String) {
    let (status, setup) = as_account(app, token, "/api/v1/me/totp", Value::Null).await;
    assert_eq!(status, 200, "{setup}");
    let url = setup["otpauth_url"].as_str().expect("otpauth_url");
    assert!(url.starts_with("otpauth://totp/FlowForge:"), "{url}");
    let totp = Totp::from_url(url).expect("an authenticator reads the address");
    let secret = setup["secret"].as_str().expect("secret").to_owned();

    let (status, body) = as_account(
        app,
        token,
        "/api/v1/me/totp/confirm",
        json!({"code": wrong_code(&totp)}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("invalid_totp")),
        "{body}"
    );
    let (status, body) = as_account(
        app,
        token,
        "/api/v1/me/totp/confirm",
        json!({"code": code(&totp, 0)}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (totp, codes, secret)
}

async fn sign_in_needs_a_fresh_code_and_recovery_codes_work_once(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let token = account(&app, "ada@example.com").await;
    let (status, body) = as_account(
        &app,
        &token,
        "/api/v1/me/totp/confirm",
        json!({"code": "123456"}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("totp_state")),
        "{body}"
    );

    let (totp, recovery, secret) = enrol(&app, &token).await;
    let (status, me, _) = app
        .send(app.http.get(app.url("/api/v1/me")).bearer_auth(&token))
        .await;
    assert_eq!((status, &me["totp_enabled"]), (200, &json!(true)), "{me}");
    let (status, body) = as_account(&app, &token, "/api/v1/me/totp", Value::Null).await;
    assert_eq!(status, 409, "on already: {body}");

    let (status, body) = login(&app, "ada@example.com", None).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("totp_required")),
        "{body}"
    );
    let (status, body) = login(&app, "ada@example.com", Some(&wrong_code(&totp))).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("invalid_totp")),
        "{body}"
    );
    let (status, body) = login(&app, "ada@example.com", Some(&code(&totp, 0))).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("invalid_totp")),
        "the step that confirmed the setup is spent: {body}"
    );
    let next = code(&totp, 1);
    let (status, body) = login(&app, "ada@example.com", Some(&next)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = login(&app, "ada@example.com", Some(&next)).await;
    assert_eq!(status, 401, "a code works once: {body}");

    let (status, body) = login(&app, "ada@example.com", Some(&recovery[0])).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = login(&app, "ada@example.com", Some(&recovery[0])).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("invalid_totp")),
        "{body}"
    );
    let typed = recovery[1].to_uppercase().replace('-', " ");
    let (status, body) = login(&app, "ada@example.com", Some(&typed)).await;
    assert_eq!(status, 200, "as typed by hand: {body}");

    // Turning it off takes the password and a code.
    let off = |password: &str, code: &str| {
        as_account(
            &app,
            &token,
            "/api/v1/me/totp/disable",
            json!({"password": password, "code": code}),
        )
    };
    let (status, body) = off("not the password", &recovery[2]).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("invalid_credentials")),
        "{body}"
    );
    let (status, body) = off(PASSWORD, &recovery[0]).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("invalid_totp")),
        "{body}"
    );
    let (status, body) = off(PASSWORD, &recovery[2]).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = off(PASSWORD, &recovery[3]).await;
    assert_eq!(status, 409, "off already: {body}");
    let (status, body) = login(&app, "ada@example.com", None).await;
    assert_eq!(status, 200, "a password signs in again: {body}");

    // Only sealed secrets and hashes are in the log.
    let (status, events) = app.get("/api/v1/events?limit=1000").await;
    assert_eq!(status, 200, "{events}");
    let log = events.to_string();
    assert!(log.contains("UserTotpEnabled") && log.contains("UserTotpDisabled"));
    assert!(
        !log.contains(&secret),
        "the shared secret reached the event log"
    );
    for code in &recovery {
        assert!(
            !log.contains(code.as_str()),
            "a recovery code reached the log"
        );
    }
}

async fn wrong_codes_lock_the_account(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let token = account(&app, "bob@example.com").await;
    let (totp, _, _) = enrol(&app, &token).await;
    let wrong = wrong_code(&totp);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(login(&app, "bob@example.com", Some(&wrong)).await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429], "{statuses:?}");
    let (status, body) = login(&app, "bob@example.com", Some(&code(&totp, 1))).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (429, &json!("account_locked")),
        "even a good code waits for the lock: {body}"
    );
}

for_each_backend!(
    sign_in_needs_a_fresh_code_and_recovery_codes_work_once,
    wrong_codes_lock_the_account,
);
