//! The master key of a real `flowforge serve`: the first start on an empty
//! data directory makes `master.key` (readable by its owner only) and says
//! to back it up; a later start with another key is refused at once with an
//! error naming the setting; the right key starts again; `flowforge keys
//! rotate` moves the database to a new key, after which only that one
//! starts.

mod support;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use support::process::{free_port, FlowforgeProcess};

/// `flowforge serve` on `data` with `env`, expected to stop by itself; its
/// exit status and standard error.
fn refused_start(data: &str, env: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowforge"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .env_remove("DATABASE_URL")
        .env_remove("NATS_URL")
        .env_remove("FLOWFORGE_ENCRYPTION_KEY")
        .env_remove("FLOWFORGE_ENCRYPTION_KEY_FILE")
        .env("FLOWFORGE_DATA_DIR", data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("flowforge starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            let output = child.wait_with_output().expect("output");
            return (status, String::from_utf8_lossy(&output.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("flowforge kept running with a master key that is not this database's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_keeps_the_master_key_it_was_set_up_with() {
    let data = tempfile::tempdir().expect("data dir");
    let location = data.path().display().to_string();
    let key_file = data.path().join("master.key");
    let http = reqwest::Client::new();

    // First start: no key configured, so one is made in the data directory.
    let mut first = Command::new(env!("CARGO_BIN_EXE_flowforge"));
    let port = free_port();
    first
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("DATABASE_URL")
        .env_remove("NATS_URL")
        .env_remove("FLOWFORGE_ENCRYPTION_KEY")
        .env_remove("FLOWFORGE_ENCRYPTION_KEY_FILE")
        .env("FLOWFORGE_DATA_DIR", &location)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = first.spawn().expect("flowforge starts");
    let ready = format!("http://127.0.0.1:{port}/health/ready");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = http
            .get(&ready)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first start did not get ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("output");
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(logs.contains("BACK IT UP"), "the first start warns: {logs}");
    let key = std::fs::read_to_string(&key_file).expect("master.key was made");
    assert_eq!(key.trim().len(), 64, "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner reads it");
    }

    // Another key: refused at once, naming the setting.
    let other = "ab".repeat(32);
    let (status, stderr) = refused_start(&location, &[("FLOWFORGE_ENCRYPTION_KEY", &other)]);
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("the master key does not open this database's data keys")
            && stderr.contains("FLOWFORGE_ENCRYPTION_KEY"),
        "{stderr}"
    );
    let (status, stderr) = refused_start(&location, &[("FLOWFORGE_ENCRYPTION_KEY", "not a key")]);
    assert!(
        !status.success() && stderr.contains("is not a master key"),
        "{stderr}"
    );

    // The right key, given explicitly, starts.
    let server = FlowforgeProcess::start(
        &[
            ("FLOWFORGE_DATA_DIR", location.clone()),
            ("FLOWFORGE_ENCRYPTION_KEY", key.trim().to_owned()),
        ],
        Stdio::null(),
    );
    server.wait_ready(&http).await;
    drop(server);

    // Rotated to a new key, which replaces master.key: the old key is
    // refused from then on, the new one starts.
    let new_key = "cd".repeat(32);
    let new_key_file = data.path().join("new.key");
    std::fs::write(&new_key_file, &new_key).expect("new key file");
    let rotated = Command::new(env!("CARGO_BIN_EXE_flowforge"))
        .args(["keys", "rotate", "--new-key-file"])
        .arg(&new_key_file)
        .env_remove("DATABASE_URL")
        .env_remove("FLOWFORGE_ENCRYPTION_KEY")
        .env_remove("FLOWFORGE_ENCRYPTION_KEY_FILE")
        .env("FLOWFORGE_DATA_DIR", &location)
        .output()
        .expect("flowforge keys rotate runs");
    let printed = String::from_utf8_lossy(&rotated.stdout);
    assert!(
        rotated.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(
        printed.contains("re-wrapped") && printed.contains("now holds the new key"),
        "{printed}"
    );
    assert_eq!(
        std::fs::read_to_string(&key_file)
            .expect("master.key")
            .trim(),
        new_key
    );
    let (status, stderr) = refused_start(&location, &[("FLOWFORGE_ENCRYPTION_KEY", key.trim())]);
    assert!(
        !status.success() && stderr.contains("does not open"),
        "{stderr}"
    );
    let server = FlowforgeProcess::start(
        &[
            ("FLOWFORGE_DATA_DIR", location.clone()),
            ("FLOWFORGE_ENCRYPTION_KEY", new_key),
        ],
        Stdio::null(),
    );
    server.wait_ready(&http).await;
}
