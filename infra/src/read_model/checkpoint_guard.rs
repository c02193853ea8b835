//! The checkpoint protocol every read-model write follows, in one place: inside
//! the write's transaction, lock the projection's checkpoint row, refuse if it
//! is not where the writer started (a rebuild was swapped in), and move it to
//! where the writer ended.

use sqlx::{PgConnection, SqliteConnection};

use super::ReadModelError;
use crate::{database::Database, event_store::Position};

const CREATE: &str =
    "INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING";
const CURRENT: &str = "SELECT position FROM projection_checkpoints WHERE name = $1";
const ADVANCE: &str = "UPDATE projection_checkpoints SET position = $2 WHERE name = $1";

fn check(name: &str, at: i64, from: Position) -> Result<(), ReadModelError> {
    let actual = at.max(0) as u64;
    if actual == from {
        Ok(())
    } else {
        Err(ReadModelError::CheckpointMoved {
            name: name.to_owned(),
            expected: from,
            actual,
        })
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// PostgreSQL: locks checkpoint `name` and checks it is at `from`.
pub(super) async fn claim_postgres(
    tx: &mut PgConnection,
    name: &str,
    from: Position,
) -> Result<(), ReadModelError> {
    sqlx::query(CREATE).bind(name).execute(&mut *tx).await?;
    let at: i64 = sqlx::query_scalar(&format!("{CURRENT} FOR UPDATE"))
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
    check(name, at, from)
}

/// SQLite (inside `BEGIN IMMEDIATE`, which already excludes other writers):
/// checks checkpoint `name` is at `from`.
pub(super) async fn claim_sqlite(
    tx: &mut SqliteConnection,
    name: &str,
    from: Position,
) -> Result<(), ReadModelError> {
    sqlx::query(CREATE).bind(name).execute(&mut *tx).await?;
    let at: i64 = sqlx::query_scalar(CURRENT)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
    check(name, at, from)
}

/// PostgreSQL: moves checkpoint `name` to `to`.
pub(super) async fn advance_postgres(
    tx: &mut PgConnection,
    name: &str,
    to: Position,
) -> Result<(), ReadModelError> {
    sqlx::query(ADVANCE)
        .bind(name)
        .bind(to_i64(to))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// SQLite: moves checkpoint `name` to `to`.
pub(super) async fn advance_sqlite(
    tx: &mut SqliteConnection,
    name: &str,
    to: Position,
) -> Result<(), ReadModelError> {
    sqlx::query(ADVANCE)
        .bind(name)
        .bind(to_i64(to))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Checkpoint `name` as stored (0 if never written).
pub(super) async fn read(database: &Database, name: &str) -> Result<Position, ReadModelError> {
    let position: Option<i64> = match database {
        Database::Postgres(pool) => {
            sqlx::query_scalar(CURRENT)
                .bind(name)
                .fetch_optional(pool)
                .await?
        }
        Database::Sqlite { reader, .. } => {
            sqlx::query_scalar(CURRENT)
                .bind(name)
                .fetch_optional(reader)
                .await?
        }
    };
    Ok(position.unwrap_or(0).max(0) as u64)
}
