//! Where one read model lives (a database and its [`ReadModelTarget`]) and the
//! only way it is read or written. A write is one transaction that claims the
//! projection's checkpoint, applies the read model's SQL and advances the
//! checkpoint, so rows and checkpoint never disagree; the read model supplies
//! its SQL once per dialect and writes no transaction code.

use sqlx::{PgConnection, PgPool, SqliteConnection, SqlitePool};

use super::{ReadModelError, ReadModelTarget};
use crate::{
    database::{to_i64, Database},
    event_store::Position,
};

const CREATE: &str =
    "INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING";
const CURRENT: &str = "SELECT position FROM projection_checkpoints WHERE name = $1";
const ADVANCE: &str = "UPDATE projection_checkpoints SET position = $2 WHERE name = $1";

/// What a write does when the checkpoint is already at or past the batch's
/// end (the batch is in: a rebuild was swapped in ahead of the writer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Replayed {
    /// Refuse with [`ReadModelError::CheckpointMoved`], like any checkpoint
    /// that is not where the writer started.
    Refuse,
    /// Write nothing and succeed.
    Skip,
}

/// One read model's table and checkpoint in one database.
#[derive(Debug, Clone)]
pub(super) struct ReadModelStore {
    database: Database,
    target: ReadModelTarget,
    replayed: Replayed,
}

impl ReadModelStore {
    /// The read model in `target` of `database`; writes refuse replays.
    pub(super) fn new(database: Database, target: ReadModelTarget) -> Self {
        Self {
            database,
            target,
            replayed: Replayed::Refuse,
        }
    }

    /// The same read model, treating a replayed batch as `replayed` says.
    pub(super) fn on_replay(self, replayed: Replayed) -> Self {
        Self { replayed, ..self }
    }

    /// Where the rows and the checkpoint are kept.
    pub(super) fn target(&self) -> &ReadModelTarget {
        &self.target
    }

    /// The table the SQL names.
    pub(super) fn table(&self) -> &str {
        &self.target.table
    }

    /// The checkpoint as stored (0 if never written).
    pub(super) async fn checkpoint(&self) -> Result<Position, ReadModelError> {
        self.read(
            async |pool| {
                Ok(sqlx::query_scalar(CURRENT)
                    .bind(&self.target.checkpoint)
                    .fetch_optional(pool)
                    .await?)
            },
            async |pool| {
                Ok(sqlx::query_scalar(CURRENT)
                    .bind(&self.target.checkpoint)
                    .fetch_optional(pool)
                    .await?)
            },
        )
        .await
        .map(|position: Option<i64>| position.unwrap_or(0).max(0) as u64)
    }

    /// Runs the query for this database: on PostgreSQL's pool, or on SQLite's
    /// reader pool (WAL lets it read beside the single writer).
    pub(super) async fn read<T>(
        &self,
        postgres: impl AsyncFnOnce(&PgPool) -> Result<T, ReadModelError>,
        sqlite: impl AsyncFnOnce(&SqlitePool) -> Result<T, ReadModelError>,
    ) -> Result<T, ReadModelError> {
        match &self.database {
            Database::Postgres(pool) => postgres(pool).await,
            Database::Sqlite { reader, .. } => sqlite(reader).await,
        }
    }

    /// Applies the batch's SQL for this database and moves the checkpoint from
    /// `from` to `to`, in one transaction. Refuses with
    /// [`ReadModelError::CheckpointMoved`], writing nothing, if the checkpoint
    /// is not at `from` (see [`Replayed`] for one at or past `to`).
    pub(super) async fn write(
        &self,
        from: Position,
        to: Position,
        postgres: impl AsyncFnOnce(&mut PgConnection) -> Result<(), ReadModelError>,
        sqlite: impl AsyncFnOnce(&mut SqliteConnection) -> Result<(), ReadModelError>,
    ) -> Result<(), ReadModelError> {
        let name = &self.target.checkpoint;
        // An early return drops the transaction, which rolls it back.
        match &self.database {
            Database::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(CREATE).bind(name).execute(&mut *tx).await?;
                let at: i64 = sqlx::query_scalar(&format!("{CURRENT} FOR UPDATE"))
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?;
                if self.claim(at, from, to)? {
                    postgres(&mut tx).await?;
                    sqlx::query(ADVANCE)
                        .bind(name)
                        .bind(to_i64(to))
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
            }
            Database::Sqlite { writer, .. } => {
                // BEGIN IMMEDIATE takes the write lock now, so no other writer
                // can move the checkpoint between the check and the advance.
                let mut conn = writer.acquire().await?;
                let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
                sqlx::query(CREATE).bind(name).execute(&mut *tx).await?;
                let at: i64 = sqlx::query_scalar(CURRENT)
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?;
                if self.claim(at, from, to)? {
                    sqlite(&mut tx).await?;
                    sqlx::query(ADVANCE)
                        .bind(name)
                        .bind(to_i64(to))
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
            }
        }
        Ok(())
    }

    /// Whether a batch from `from` to `to` may be written over a checkpoint at
    /// `at`: yes at `from`, no (skipped) past `to` if replays are skipped,
    /// [`ReadModelError::CheckpointMoved`] otherwise.
    fn claim(&self, at: i64, from: Position, to: Position) -> Result<bool, ReadModelError> {
        let actual = at.max(0) as u64;
        if actual >= to && self.replayed == Replayed::Skip {
            Ok(false)
        } else if actual == from {
            Ok(true)
        } else {
            Err(ReadModelError::CheckpointMoved {
                name: self.target.checkpoint.clone(),
                expected: from,
                actual,
            })
        }
    }
}
