//! `flowforge users create-owner` sets a fresh installation up from the
//! command line, as the first registration would: the owner signs in to its
//! first workspace, a second run is refused, and registration is closed.

mod support;

use std::process::Stdio;

use serde_json::{json, Value};
use support::process::FlowforgeProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_owner_sets_a_fresh_installation_up_once() {
    let data = tempfile::tempdir().expect("data dir");
    let location = data.path().display().to_string();
    let password_file = data.path().join("owner-password");
    std::fs::write(&password_file, "a scripted owner's passphrase\n").expect("password file");
    let password_file = password_file.display().to_string();
    let create = [
        "users",
        "create-owner",
        "--email",
        "ops@example.com",
        "--password-file",
        &password_file,
        "--argon2-memory-kib",
        "64",
        "--argon2-iterations",
        "1",
    ];
    let output = support::flowforge(&create, &location).await;
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.starts_with("owner "), "{printed}");

    let again = std::process::Command::new(env!("CARGO_BIN_EXE_flowforge"))
        .args(create)
        .env_remove("DATABASE_URL")
        .env("FLOWFORGE_DATA_DIR", &location)
        .output()
        .expect("flowforge runs");
    assert!(!again.status.success(), "a second owner is refused");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("has an owner already"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let server = FlowforgeProcess::start(&[("FLOWFORGE_DATA_DIR", location)], Stdio::null());
    let http = reqwest::Client::new();
    server.wait_ready(&http).await;
    let tokens: Value = http
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"email": "ops@example.com", "password": "a scripted owner's passphrase"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    assert!(tokens["workspace_id"].is_string(), "{tokens}");
    let register = http
        .post(format!("{}/api/v1/auth/register", server.base))
        .json(&json!({"email": "eve@example.com", "password": "another passphrase", "name": "Eve"}))
        .send()
        .await
        .expect("register");
    assert_eq!(register.status().as_u16(), 403, "registration is closed");
    server.terminate();
}
