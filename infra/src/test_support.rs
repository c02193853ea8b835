//! Throwaway databases for tests: a fresh PostgreSQL database with a unique name
//! (dropped afterwards) or an SQLite file in a temporary directory.
//!
//! A test that needs PostgreSQL skips itself, saying why, when the server cannot
//! be reached — unless `FLOWFORGE_REQUIRE_SERVICES=1` (set by CI), where an
//! unreachable server fails the test instead.
//!
//! [`eventually`] waits for something a test can observe, instead of a poll
//! loop or a fixed sleep.

use std::{future::Future, path::PathBuf, time::Duration};

use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::database::Database;

/// The server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("FLOWFORGE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Whether CI demands the real services rather than letting tests skip.
pub fn services_required() -> bool {
    std::env::var("FLOWFORGE_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

/// A database that exists for one test.
pub struct TestDatabase {
    /// The open database, migrated.
    pub database: Database,
    /// The connection URL (PostgreSQL) or data directory (SQLite).
    pub location: String,
    cleanup: Cleanup,
}

enum Cleanup {
    DropPostgres { name: String },
    RemoveDir(#[allow(dead_code)] tempfile::TempDir),
}

impl TestDatabase {
    /// A fresh, migrated PostgreSQL database, or `None` (with a message) when the
    /// server is unreachable and services are not required.
    pub async fn postgres() -> Option<Self> {
        let admin = admin_url();
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(error) if !services_required() => {
                eprintln!("SKIPPED: PostgreSQL at {admin} is unreachable ({error}); set FLOWFORGE_TEST_DATABASE_URL or start it");
                return None;
            }
            Err(error) => panic!("PostgreSQL at {admin} is required (FLOWFORGE_REQUIRE_SERVICES=1) but unreachable: {error}"),
        };
        let name = format!("flowforge_test_{}", Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let url = database_url(&admin, &name);
        let database = Database::connect_postgres(&url, 20)
            .await
            .expect("connect to test database");
        database.migrate().await.expect("migrate test database");
        Some(Self {
            database,
            location: url,
            cleanup: Cleanup::DropPostgres { name },
        })
    }

    /// A fresh, migrated SQLite database in a temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = Database::open_sqlite(dir.path())
            .await
            .expect("open sqlite test database");
        database
            .migrate()
            .await
            .expect("migrate sqlite test database");
        Self {
            database,
            location: dir.path().display().to_string(),
            cleanup: Cleanup::RemoveDir(dir),
        }
    }

    /// The SQLite data directory, for tests that reopen it.
    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.location)
    }
}

/// `admin` with its database name replaced by `name`.
pub fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(slash) if base[..slash].contains("://") && !base[..slash].ends_with('/') => {
            &base[..slash]
        }
        _ => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::DropPostgres { name } = &self.cleanup {
            let name = name.clone();
            let admin = admin_url();
            // Drop runs inside the test's runtime; a separate thread with its own
            // runtime can block on the cleanup; FORCE ends the pool's open connections.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async move {
                        if let Ok(mut conn) = PgConnection::connect(&admin).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut conn)
                            .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// A NATS server of the test's own (JetStream on, its own store directory, a
/// free port), for tests that stop and start the server. Killed on drop.
pub struct TestNats {
    /// `nats://127.0.0.1:<port>`.
    pub url: String,
    port: u16,
    store_dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl TestNats {
    /// Starts a server, or `None` (with a message) when `nats-server` is not
    /// installed and services are not required.
    pub fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut nats = Self {
            url: format!("nats://127.0.0.1:{port}"),
            port,
            store_dir: tempfile::tempdir().expect("temporary directory"),
            child: None,
        };
        match nats.spawn() {
            Ok(()) => Some(nats),
            Err(error) if !services_required() => {
                eprintln!(
                    "SKIPPED: cannot start nats-server ({error}); install it (Debian: nats-server)"
                );
                None
            }
            Err(error) => panic!("nats-server is required (FLOWFORGE_REQUIRE_SERVICES=1): {error}"),
        }
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        // Debian installs it in /usr/sbin, which a non-root PATH may lack.
        let binary = std::env::var("FLOWFORGE_TEST_NATS_SERVER").unwrap_or_else(|_| {
            let debian = "/usr/sbin/nats-server";
            if std::path::Path::new(debian).exists() {
                debian.to_owned()
            } else {
                "nats-server".to_owned()
            }
        });
        let child = std::process::Command::new(binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store_dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Err(std::io::Error::other(
            "nats-server did not listen within 20 s",
        ))
    }

    /// Kills the server (its JetStream data stays on disk).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and store.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn().expect("nats-server restarts");
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The shared NATS server tests use when they need not stop it.
pub fn shared_nats_url() -> String {
    std::env::var("FLOWFORGE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// A JetStream stream and subject prefix of the test's own on `url`; deleted
/// (with the stream) on drop.
pub struct TestJetStream {
    /// Where the test's events go.
    pub settings: crate::bus::jetstream::JetStreamSettings,
}

impl TestJetStream {
    /// A unique stream name and subject prefix on `url`.
    pub fn new(url: &str) -> Self {
        let unique = Uuid::new_v4().simple().to_string();
        Self {
            settings: crate::bus::jetstream::JetStreamSettings {
                url: url.to_owned(),
                stream: format!("FFTEST_{unique}"),
                subject_prefix: format!("fftest_{unique}.events"),
            },
        }
    }

    /// A unique stream on the shared server, or `None` (with a message) when it
    /// is unreachable and services are not required.
    pub fn shared() -> Option<Self> {
        let url = shared_nats_url();
        let address = url.trim_start_matches("nats://").to_owned();
        match std::net::TcpStream::connect(&address) {
            Ok(_) => Some(Self::new(&url)),
            Err(error) if !services_required() => {
                eprintln!("SKIPPED: NATS at {url} is unreachable ({error})");
                None
            }
            Err(error) => panic!(
                "NATS at {url} is required (FLOWFORGE_REQUIRE_SERVICES=1) but unreachable: {error}"
            ),
        }
    }
}

impl Drop for TestJetStream {
    fn drop(&mut self) {
        let settings = self.settings.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async move {
                    let connect = async_nats::ConnectOptions::new()
                        .connection_timeout(std::time::Duration::from_secs(2))
                        .connect(settings.url.as_str());
                    if let Ok(Ok(client)) =
                        tokio::time::timeout(std::time::Duration::from_secs(3), connect).await
                    {
                        let _ = async_nats::jetstream::new(client)
                            .delete_stream(&settings.stream)
                            .await;
                    }
                });
            }
        })
        .join();
    }
}

/// How often [`eventually`] checks its condition.
const EVENTUALLY_POLL: Duration = Duration::from_millis(10);

/// What an [`eventually`] condition answers: `bool` (true when met) or
/// `Option<T>` (`Some` when met, with a value for the test to use).
pub trait Met {
    /// What the condition yields once met.
    type Value;

    /// The value, if the condition is met.
    fn met(self) -> Option<Self::Value>;
}

impl Met for bool {
    type Value = ();

    fn met(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Met for Option<T> {
    type Value = T;

    fn met(self) -> Option<T> {
        self
    }
}

/// Checks `condition` every few milliseconds until it is met and returns what
/// it yielded; panics, naming `what` and the time waited, if it is not met
/// within `within`.
pub async fn eventually<F, Fut, M>(within: Duration, what: &str, mut condition: F) -> M::Value
where
    F: FnMut() -> Fut,
    Fut: Future<Output = M>,
    M: Met,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(value) = condition().await.met() {
            return value;
        }
        let waited = started.elapsed();
        assert!(
            waited < within,
            "not within {within:?} (waited {waited:?}): {what}"
        );
        tokio::time::sleep(EVENTUALLY_POLL).await;
    }
}
