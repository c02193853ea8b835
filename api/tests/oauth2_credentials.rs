//! OAuth 2.0 credentials against a real provider on loopback (an axum
//! server speaking RFC 6749 and PKCE): a client-credentials token is fetched
//! once and reused; an authorization-code credential is connected by
//! following the grant link and the callback, its expired token refreshed
//! and the new one stored; the resource server gets the bearer tokens, and
//! neither executions nor the event log hold one. Bad callbacks change
//! nothing.

mod support;

use serde_json::{json, Value};
use support::{
    oauth2_provider::{browser, grant, provider, CLIENT_SECRET, PROVIDER_SECRETS},
    Backend, TestApp,
};

fn calling(url: &str, credentials: Value) -> Value {
    json!({"name": "calls", "nodes": [
        {"name": "Start", "type": "manual_trigger"},
        {"name": "Call", "type": "http_request",
         "parameters": {"url": url, "credentials": credentials}}],
        "connections": {"Start": {"main": [[{"node": "Call"}]]}}})
}

async fn run(app: &TestApp, workflow: &str) -> Value {
    let (status, answer) = app
        .post(
            &format!("/api/v1/workflows/{workflow}/executions?wait=true"),
            &json!({"input": [{}]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Runs `workflow` (calling the provider's resource) and checks it
/// succeeded, recording the bearer token it sent only as `[redacted]`.
async fn sends_a_redacted_bearer(app: &TestApp, workflow: &str) {
    let answer = run(app, workflow).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(
        answer["output"],
        json!([[{"you_sent": "Bearer [redacted]"}]]),
        "{answer}"
    );
}

fn assert_no_token(what: &str, text: &str) {
    for secret in PROVIDER_SECRETS {
        assert!(!text.contains(secret), "{what} holds {secret}: {text}");
    }
}

async fn the_whole_log(app: &TestApp) -> String {
    let (status, log) = app.get("/api/v1/events?limit=1000").await;
    assert_eq!(status, 200, "{log}");
    log.to_string()
}

async fn client_credentials_tokens_are_fetched_once_and_sent(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (server, provider) = provider().await;
    let (status, credential) = app
        .post(
            "/api/v1/credentials",
            &json!({"name": "Provider", "type": "oauth2_client_credentials",
                    "data": {"token_url": format!("{server}/token"), "client_id": "app",
                             "client_secret": CLIENT_SECRET, "scope": "read"}}),
        )
        .await;
    assert_eq!(status, 201, "{credential}");
    assert_eq!(credential["secrets_set"], json!(["client_secret"]));
    let id = credential["id"].as_str().expect("id").to_owned();

    let (status, tested) = app
        .post(&format!("/api/v1/credentials/{id}/test"), &json!({}))
        .await;
    assert_eq!((status, &tested["ok"]), (200, &json!(true)), "{tested}");

    let (workflow, _, _) = app
        .create_workflow(&calling(
            &format!("{server}/resource"),
            json!({"oauth2_client_credentials": "Provider"}),
        ))
        .await;
    for _ in 0..2 {
        sends_a_redacted_bearer(&app, &workflow).await;
    }
    {
        let provider = provider.lock().expect("provider");
        assert_eq!(
            provider.resource_saw,
            ["Bearer cc-token-1", "Bearer cc-token-1"]
        );
        assert_eq!(
            provider.client_credentials_issued, 1,
            "the test's token was reused by both runs"
        );
    }

    // A wrong secret: the test says what the provider said, the node fails
    // naming the credential.
    let (status, _, _) = app
        .send(
            app.http
                .put(app.url(&format!("/api/v1/credentials/{id}")))
                .json(&json!({"data": {"client_secret": "wrong"}})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, tested) = app
        .post(&format!("/api/v1/credentials/{id}/test"), &json!({}))
        .await;
    assert_eq!(tested["ok"], false, "{tested}");
    assert!(
        tested["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid_client")),
        "{tested}"
    );
    let answer = run(&app, &workflow).await;
    assert_eq!(answer["status"], "failed", "{answer}");
    assert_eq!(
        answer["failure"]["error"]["code"], "oauth2_token",
        "{answer}"
    );
    assert_no_token("the failed execution", &answer.to_string());
    assert_no_token("the event log", &the_whole_log(&app).await);
}

async fn an_authorization_code_credential_is_granted_refreshed_and_stored(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (server, provider) = provider().await;
    let (status, credential) = app
        .post(
            "/api/v1/credentials",
            &json!({"name": "Mailbox", "type": "oauth2_authorization_code",
                    "data": {"authorize_url": format!("{server}/authorize"),
                             "token_url": format!("{server}/token"), "client_id": "app",
                             "client_secret": CLIENT_SECRET, "scope": "mail.read offline"}}),
        )
        .await;
    assert_eq!(status, 201, "{credential}");
    let id = credential["id"].as_str().expect("id").to_owned();
    let (workflow, _, _) = app
        .create_workflow(&calling(
            &format!("{server}/resource"),
            json!({"oauth2_authorization_code": "Mailbox"}),
        ))
        .await;

    // Not connected yet: the node says how to connect it.
    let answer = run(&app, &workflow).await;
    assert_eq!(
        answer["failure"]["error"]["code"], "oauth2_not_connected",
        "{answer}"
    );

    // The user follows the link; the provider sends them back.
    let (status, link) = app
        .post(
            &format!("/api/v1/credentials/{id}/oauth2/authorize"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{link}");
    let redirect_uri = link["redirect_uri"].as_str().expect("redirect uri");
    assert_eq!(redirect_uri, app.url("/api/v1/oauth2/callback"));
    let browser = browser();
    let back = grant(link["url"].as_str().expect("url")).await;

    // Bad callbacks change nothing.
    let head = app.head().await;
    for (query, status, code) in [
        (
            "?error=access_denied&error_description=the+user+said+no",
            403,
            "invalid_oauth2_grant",
        ),
        (
            "?code=the-code&state=not-a-state",
            403,
            "invalid_oauth2_grant",
        ),
        ("?code=the-code", 403, "invalid_oauth2_grant"),
        (
            "?code=the-code&state=0195f3a0-0000-7000-8000-00000000dead.0195f3a0-0000-7000-8000-00000000beef.v1.AAAA",
            403,
            "invalid_oauth2_grant",
        ),
    ] {
        let answer = browser
            .get(app.url(&format!("/api/v1/oauth2/callback{query}")))
            .send()
            .await
            .expect("answer");
        let got = answer.status().as_u16();
        let body: Value = answer.json().await.expect("json");
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{query}: {body}"
        );
    }
    let tampered = back.replacen("state=", "state=x", 1);
    let answer = browser.get(&tampered).send().await.expect("answer");
    assert_eq!(answer.status().as_u16(), 403);
    assert_eq!(app.head().await, head, "refused callbacks record nothing");

    let connected = browser.get(&back).send().await.expect("callback");
    assert_eq!(connected.status().as_u16(), 200);
    let connected: Value = connected.json().await.expect("json");
    assert_eq!(connected, json!({"credential_id": id, "connected": true}));
    let (_, view) = app.get(&format!("/api/v1/credentials/{id}")).await;
    assert_eq!(
        view["secrets_set"],
        json!(["client_secret", "access_token", "refresh_token"]),
        "{view}"
    );
    assert_no_token("the credential's view", &view.to_string());

    // The first use refreshes the expired token and stores the new one; the
    // second uses it as it is.
    for _ in 0..2 {
        sends_a_redacted_bearer(&app, &workflow).await;
    }
    {
        let provider = provider.lock().expect("provider");
        assert_eq!(provider.codes_exchanged, 1);
        assert_eq!(
            provider.refreshes, 1,
            "the refreshed token was stored and reused"
        );
        assert_eq!(
            provider.resource_saw,
            [
                "Bearer ac-token-refreshed-1a2b",
                "Bearer ac-token-refreshed-1a2b"
            ]
        );
    }
    let (status, tested) = app
        .post(&format!("/api/v1/credentials/{id}/test"), &json!({}))
        .await;
    assert_eq!((status, &tested["ok"]), (200, &json!(true)), "{tested}");
    assert_no_token("the event log", &the_whole_log(&app).await);
}

async fn a_token_endpoint_nodes_may_not_reach_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |args| args.outbound.allow = None).await else {
        return;
    };
    let (server, provider) = provider().await;
    // Written as an address, the host is checked without any resolver.
    let (status, credential) = app
        .post(
            "/api/v1/credentials",
            &json!({"name": "Inside", "type": "oauth2_client_credentials",
                    "data": {"token_url": format!("{server}/token"), "client_id": "app",
                             "client_secret": CLIENT_SECRET}}),
        )
        .await;
    assert_eq!(status, 201, "{credential}");
    let id = credential["id"].as_str().expect("id");
    let (status, tested) = app
        .post(&format!("/api/v1/credentials/{id}/test"), &json!({}))
        .await;
    assert_eq!((status, &tested["ok"]), (200, &json!(false)), "{tested}");
    assert!(
        tested["message"]
            .as_str()
            .is_some_and(|m| m.contains("FLOWFORGE_OUTBOUND_ALLOW")),
        "{tested}"
    );
    let (workflow, _, _) = app
        .create_workflow(&calling(
            "https://example.com/resource",
            json!({"oauth2_client_credentials": "Inside"}),
        ))
        .await;
    let answer = run(&app, &workflow).await;
    assert_eq!(
        answer["failure"]["error"]["code"], "oauth2_token",
        "{answer}"
    );
    assert_eq!(
        provider.lock().expect("provider").client_credentials_issued,
        0,
        "nothing reached the token endpoint"
    );
}

for_each_backend!(
    a_token_endpoint_nodes_may_not_reach_is_refused,
    client_credentials_tokens_are_fetched_once_and_sent,
    an_authorization_code_credential_is_granted_refreshed_and_stored,
);
