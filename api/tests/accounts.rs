//! Accounts through the HTTP API, on both stores: registration and its
//! refusals, sign-in that answers a wrong address and a wrong password
//! alike, access tokens, refresh tokens that rotate and end their session
//! when one comes back, signing out, the lock after failed sign-ins, and no
//! password anywhere in the event log.

mod support;

use serde_json::{json, Value};
use support::{Backend, TestApp};

const PASSWORD: &str = "a long and unusual phrase";

async fn spawn(backend: Backend) -> Option<TestApp> {
    // Cheap Argon2 parameters: the tests are about behaviour, not cost.
    // Registration is open, so accounts can be made beside the test
    // server's owner without invitations (tests/workspaces.rs covers those).
    TestApp::spawn_with(backend, |args| {
        args.auth.argon2_memory_kib = 1024;
        args.auth.argon2_iterations = 1;
        args.auth.open_registration = true;
        args.auth.access_token_secs = 900;
    })
    .await
}

async fn register(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    app.post(
        "/api/v1/auth/register",
        &json!({"email": email, "password": password, "name": "Ada"}),
    )
    .await
}

async fn login(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    app.post(
        "/api/v1/auth/login",
        &json!({"email": email, "password": password}),
    )
    .await
}

async fn me(app: &TestApp, access_token: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    app.send(
        app.http
            .get(app.url("/api/v1/me"))
            .bearer_auth(access_token),
    )
    .await
}

async fn refresh(app: &TestApp, refresh_token: &Value) -> (u16, Value) {
    app.post(
        "/api/v1/auth/refresh",
        &json!({ "refresh_token": refresh_token }),
    )
    .await
}

async fn registration_refuses_what_it_must(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (status, body) = register(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["user_id"].is_string(), "{body}");
    for (email, password, status, code) in [
        ("ADA@example.com", PASSWORD, 409, "email_taken"),
        ("bob@example.com", "short", 422, "weak_password"),
        ("bob@example.com", "password123", 422, "weak_password"),
        ("not an address", PASSWORD, 422, "invalid_account"),
    ] {
        let (got, body) = register(&app, email, password).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{email}: {body}"
        );
    }
}

async fn a_session_signs_in_refreshes_and_signs_out(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    register(&app, "ada@example.com", PASSWORD).await;

    // A wrong password and an unknown address get the same answer.
    let (wrong_password, a) = login(&app, "ada@example.com", "not the password!").await;
    let (unknown, b) = login(&app, "nobody@example.com", PASSWORD).await;
    assert_eq!((wrong_password, unknown), (401, 401));
    assert_eq!(a, b);
    assert_eq!(a["error"]["code"], "invalid_credentials");

    // Signed in, the access token names the account.
    let (status, tokens) = login(&app, "Ada@Example.com", PASSWORD).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let (status, account, _) = me(&app, &access).await;
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["email"], "ada@example.com");
    assert_eq!(account["sessions"].as_array().map(Vec::len), Some(1));

    // Without a token, or with a forged one, the answer is 401 with a challenge.
    let anonymous = reqwest::Client::new();
    let (status, body, headers) = app.send(anonymous.get(app.url("/api/v1/me"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, _) = me(&app, &format!("{access}x")).await;
    assert_eq!(status, 401, "a tampered signature");

    // A refresh rotates the token; the old one, presented again, ends the session.
    let (status, rotated) = refresh(&app, &tokens["refresh_token"]).await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["refresh_token"], tokens["refresh_token"]);
    let (status, body) = refresh(&app, &tokens["refresh_token"]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("refresh_token_reused"))
    );
    let (status, body) = refresh(&app, &rotated["refresh_token"]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_refresh_token"))
    );
    let new_access = rotated["access_token"].as_str().expect("access token");
    let (status, _, _) = me(&app, new_access).await;
    assert_eq!(
        status, 401,
        "the ended session's access tokens stop working at once"
    );

    // Signing out ends the session too.
    let (_, tokens) = login(&app, "ada@example.com", PASSWORD).await;
    let access = tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let (status, _, _) = app
        .send(
            app.http
                .post(app.url("/api/v1/auth/logout"))
                .bearer_auth(&access),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _, _) = me(&app, &access).await;
    assert_eq!(status, 401);

    // No password is anywhere in the event log.
    let (status, events) = app.get("/api/v1/events?limit=500").await;
    assert_eq!(status, 200, "{events}");
    let log = events.to_string();
    assert!(
        log.contains("UserSessionStarted"),
        "the log holds the account's events"
    );
    assert!(!log.contains(PASSWORD), "a password reached the event log");
}

async fn failed_sign_ins_lock_the_account(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    register(&app, "ada@example.com", PASSWORD).await;
    for _ in 0..5 {
        let (status, _) = login(&app, "ada@example.com", "not the password!").await;
        assert_eq!(status, 401);
    }
    let (status, body, headers) = app
        .send(
            app.http
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"email": "ada@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("account_locked")),
        "{body}"
    );
    let retry_after: i64 = headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
}

async fn a_password_change_ends_the_other_sessions_and_a_session_can_be_revoked(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    register(&app, "cy@example.com", PASSWORD).await;
    let (_, here) = login(&app, "cy@example.com", PASSWORD).await;
    let (_, elsewhere) = login(&app, "cy@example.com", PASSWORD).await;
    let (_, third) = login(&app, "cy@example.com", PASSWORD).await;
    let access = here["access_token"].as_str().expect("token").to_owned();
    let anonymous = reqwest::Client::new();
    let change = |current: &str, new: &str| {
        anonymous
            .post(app.url("/api/v1/me/password"))
            .bearer_auth(&access)
            .json(&json!({"current_password": current, "new_password": new}))
    };

    // Revoking one session from another ends it at once.
    let (_, account, _) = me(&app, &access).await;
    let third_access = third["access_token"].as_str().expect("token");
    let (_, third_me, _) = me(&app, third_access).await;
    let third_id = third_me["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["current"] == true)
        .expect("its own session")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(account["sessions"].as_array().map(Vec::len), Some(3));
    let (status, _, _) = app
        .send(
            anonymous
                .delete(app.url(&format!("/api/v1/me/sessions/{third_id}")))
                .bearer_auth(&access),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        me(&app, third_access).await.0,
        401,
        "its tokens stop working"
    );
    let (status, _, _) = app
        .send(
            anonymous
                .delete(app.url(&format!("/api/v1/me/sessions/{third_id}")))
                .bearer_auth(&access),
        )
        .await;
    assert_eq!(status, 404, "an ended session is not found");

    // A wrong current password or a weak new one changes nothing.
    let (status, body, _) = app
        .send(change("not it at all", "a brand new passphrase"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let (status, body, _) = app.send(change(PASSWORD, "password123")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("weak_password"))
    );
    let (status, rotated) = refresh(&app, &elsewhere["refresh_token"]).await;
    assert_eq!(status, 200, "nothing ended yet: {rotated}");

    let (status, _, _) = app.send(change(PASSWORD, "a brand new passphrase")).await;
    assert_eq!(status, 204);
    assert_eq!(me(&app, &access).await.0, 200, "this session stays");
    let (status, body) = refresh(&app, &rotated["refresh_token"]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_refresh_token")),
        "the other session ended: {body}"
    );
    assert_eq!(login(&app, "cy@example.com", PASSWORD).await.0, 401);
    assert_eq!(
        login(&app, "cy@example.com", "a brand new passphrase")
            .await
            .0,
        200
    );
}

for_each_backend!(
    registration_refuses_what_it_must,
    a_session_signs_in_refreshes_and_signs_out,
    failed_sign_ins_lock_the_account,
    a_password_change_ends_the_other_sessions_and_a_session_can_be_revoked,
);
