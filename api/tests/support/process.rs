//! The `flowforge` binary as a child process on a free loopback port, for
//! tests that kill it, read its output, or need its process-wide setup.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use flowforge_infra::test_support::{TestDatabase, TestJetStream};

/// The environment of a server on `db`'s database and `jetstream`'s stream.
pub fn postgres_and_nats(
    db: &TestDatabase,
    jetstream: &TestJetStream,
) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", db.location.clone()),
        ("NATS_URL", jetstream.settings.url.clone()),
        ("FLOWFORGE_NATS_STREAM", jetstream.settings.stream.clone()),
        (
            "FLOWFORGE_NATS_SUBJECT_PREFIX",
            jetstream.settings.subject_prefix.clone(),
        ),
    ]
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `flowforge serve`.
pub struct FlowforgeProcess {
    child: Child,
    /// Its base URL.
    pub base: String,
}

impl FlowforgeProcess {
    /// Starts `flowforge serve` with `env` on top of a clean environment
    /// (no inherited store, bus or telemetry settings), its stdout going to
    /// `stdout`. Logs at `warn` unless `env` sets `RUST_LOG`.
    pub fn start(env: &[(&str, String)], stdout: Stdio) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_flowforge"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("DATABASE_URL")
            .env_remove("FLOWFORGE_DATA_DIR")
            .env_remove("NATS_URL")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("FLOWFORGE_ENCRYPTION_KEY_FILE")
            .env("FLOWFORGE_ENCRYPTION_KEY", super::TEST_MASTER_KEY)
            .env("FLOWFORGE_OUTBOUND_ALLOW", super::LOOPBACK_ALLOWED)
            .env("FLOWFORGE_CIRCUIT_FAILURES", "0")
            .env("RUST_LOG", "warn")
            .env("FLOWFORGE_ARGON2_MEMORY_KIB", "64")
            .env("FLOWFORGE_ARGON2_ITERATIONS", "1")
            .env("FLOWFORGE_ACCESS_TOKEN_SECS", "86400")
            .env("FLOWFORGE_API_RATE", "0")
            .env("FLOWFORGE_WEBHOOK_RATE", "0")
            .env("FLOWFORGE_SIGN_IN_RATE", "0")
            .stdout(stdout)
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        Self {
            child: command.spawn().expect("flowforge binary starts"),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits until `/health/ready` answers 200 (at most 30 s).
    pub async fn wait_ready(&self, http: &reqwest::Client) {
        super::eventually(
            Duration::from_secs(30),
            "flowforge becomes ready",
            || async {
                http.get(format!("{}/health/ready", self.base))
                    .send()
                    .await
                    .is_ok_and(|response| response.status().is_success())
            },
        )
        .await;
    }

    /// SIGKILL: no graceful shutdown, no flush.
    pub fn kill(mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the process to exit on its own (at most 30 s).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "flowforge ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for FlowforgeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
