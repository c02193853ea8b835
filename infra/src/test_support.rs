//! Throwaway databases for tests: a fresh PostgreSQL database with a unique name
//! (dropped afterwards) or an SQLite file in a temporary directory.
//!
//! A test that needs PostgreSQL skips itself, saying why, when the server cannot
//! be reached — unless `FLOWFORGE_REQUIRE_SERVICES=1` (set by CI), where an
//! unreachable server fails the test instead.

use std::path::PathBuf;

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
