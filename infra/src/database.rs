//! Opens the configured database (PostgreSQL or the embedded SQLite file), creates
//! or upgrades its schema, and builds the stores that live in it.

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Connection, PgConnection, PgPool, SqlitePool,
};

use crate::{
    event_store::{
        postgres::PostgresEventStore, sqlite::SqliteEventStore, upcasting::Upcasters, EventStore,
    },
    read_model::{live_workflow_views, ReadModelTarget, WorkflowViewStore, WorkflowViews},
};

/// The file name of the embedded database inside the data directory.
pub const SQLITE_FILE_NAME: &str = "flowforge.db";

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The connection string or file could not be opened.
    #[error("cannot open {what}")]
    Connect {
        /// Which database (a redacted URL or a path).
        what: String,
        /// What sqlx said.
        #[source]
        source: sqlx::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {path}")]
    DataDir {
        /// The directory.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The schema could not be created or upgraded.
    #[error("schema migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// An open FlowForge database.
#[derive(Debug, Clone)]
pub enum Database {
    /// PostgreSQL: production, several instances can share it.
    Postgres(PgPool),
    /// The embedded SQLite file: one writer connection, a pool of readers.
    Sqlite {
        /// The single connection every write goes through.
        writer: SqlitePool,
        /// Connections for reads (WAL lets them run beside the writer).
        reader: SqlitePool,
    },
}

impl Database {
    /// Connects to PostgreSQL at `url`.
    pub async fn connect_postgres(url: &str, max_connections: u32) -> Result<Self, DatabaseError> {
        let what = redact(url);
        // A connection that stalls inside a transaction would hold the append
        // lock (see event_store::postgres); PostgreSQL ends it after a minute.
        let options = PgConnectOptions::from_str(url)
            .map_err(|source| DatabaseError::Connect {
                what: what.clone(),
                source,
            })?
            .options([("idle_in_transaction_session_timeout", "60s")]);
        // One direct connection first: a pool only reports "timed out", this
        // reports why (refused, unknown database, authentication failed).
        let probe = PgConnection::connect_with(&options)
            .await
            .map_err(|source| DatabaseError::Connect {
                what: what.clone(),
                source,
            })?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|source| DatabaseError::Connect { what, source })?;
        Ok(Database::Postgres(pool))
    }

    /// Opens (creating if needed) the embedded database in `data_dir`.
    pub async fn open_sqlite(data_dir: &Path) -> Result<Self, DatabaseError> {
        std::fs::create_dir_all(data_dir).map_err(|source| DatabaseError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join(SQLITE_FILE_NAME);
        let what = path.display().to_string();
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(|source| DatabaseError::Connect {
                what: what.clone(),
                source,
            })?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await;
        let reader = match reader {
            Ok(reader) => reader,
            Err(source) => return Err(DatabaseError::Connect { what, source }),
        };
        Ok(Database::Sqlite { writer, reader })
    }

    /// Creates or upgrades the schema; safe to run from several instances at once
    /// (sqlx takes an advisory lock on PostgreSQL).
    pub async fn migrate(&self) -> Result<(), DatabaseError> {
        match self {
            Database::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
            Database::Sqlite { writer, .. } => {
                sqlx::migrate!("./migrations/sqlite").run(writer).await?
            }
        }
        Ok(())
    }

    /// The event store in this database.
    pub fn event_store(&self, upcasters: Upcasters) -> Arc<dyn EventStore> {
        match self {
            Database::Postgres(pool) => Arc::new(PostgresEventStore::new(pool.clone(), upcasters)),
            Database::Sqlite { writer, reader } => Arc::new(SqliteEventStore::new(
                writer.clone(),
                reader.clone(),
                upcasters,
            )),
        }
    }

    /// The live workflow read model in this database.
    pub fn workflow_views(&self) -> Arc<dyn WorkflowViewStore> {
        self.workflow_views_at(live_workflow_views())
    }

    /// A workflow read model in `target` (the live one, or a rebuild's shadow).
    pub fn workflow_views_at(&self, target: ReadModelTarget) -> Arc<dyn WorkflowViewStore> {
        Arc::new(WorkflowViews::at(self.clone(), target))
    }

    /// Which backend this is, for logs and health output.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Database::Postgres(_) => "postgres",
            Database::Sqlite { .. } => "sqlite",
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match self {
            Database::Postgres(pool) => pool.close().await,
            Database::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
        }
    }
}

/// A database URL with any password replaced, safe to print.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => match credentials.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
                None => url.to_owned(),
            },
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A position, version or count as the databases' signed 64-bit integer,
/// saturating (no FlowForge log comes near `i64::MAX`).
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
