//! Rebuilding a read model without taking it away: the rows are rebuilt into a
//! shadow table beside the live one, then swapped in within one transaction.
//! Queries read the old table until the swap commits, the new one after.
//!
//! A running projection notices the swap when it next saves (its checkpoint is
//! not where it left it, see [`super::ReadModelError::CheckpointMoved`]) and
//! resumes from the rebuilt checkpoint.

use sqlx::Row;

use super::{ReadModelError, ReadModelTarget};
use crate::{database::Database, event_store::Position};

/// Creates an empty shadow table shaped like `live`'s (dropping a leftover from
/// an interrupted rebuild) and resets the shadow's checkpoint.
pub async fn prepare_shadow(
    database: &Database,
    live: &ReadModelTarget,
) -> Result<ReadModelTarget, ReadModelError> {
    let shadow = live.shadow();
    match database {
        Database::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            sqlx::query(&format!("DROP TABLE IF EXISTS {}", shadow.table))
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!(
                "CREATE TABLE {} (LIKE {} INCLUDING ALL)",
                shadow.table, live.table
            ))
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
                .bind(&shadow.checkpoint)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Database::Sqlite { writer, .. } => {
            let mut tx = writer.begin().await?;
            sqlx::query(&format!("DROP TABLE IF EXISTS {}", shadow.table))
                .execute(&mut *tx)
                .await?;
            for (kind, name, sql) in schema_of(&mut tx, &live.table).await? {
                let sql = if kind == "table" {
                    sql.replacen(&live.table, &shadow.table, 1)
                } else {
                    // CREATE INDEX <name> ON <table> (...): both names change.
                    sql.replacen(&name, &format!("{name}_rebuild"), 1).replacen(
                        &format!("ON {}", live.table),
                        &format!("ON {}", shadow.table),
                        1,
                    )
                };
                sqlx::query(&sql).execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM projection_checkpoints WHERE name = ?1")
                .bind(&shadow.checkpoint)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
    }
    Ok(shadow)
}

/// The DDL of a table and its indexes in SQLite: (kind, name, sql), table first.
async fn schema_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    table: &str,
) -> Result<Vec<(String, String, String)>, ReadModelError> {
    let rows = sqlx::query(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ?1 AND sql IS NOT NULL \
         ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, name",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect()
}

/// Replaces `live` with its shadow and moves the live checkpoint to the
/// shadow's, atomically. Returns that checkpoint.
pub async fn swap_in(
    database: &Database,
    live: &ReadModelTarget,
) -> Result<Position, ReadModelError> {
    let shadow = live.shadow();
    let retired = format!("{}_retired", live.table);
    let position = match database {
        Database::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            // The checkpoint row first, then the table: the order a projection's
            // save takes them in, so the two never deadlock.
            sqlx::query(
                "INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING",
            )
            .bind(&live.checkpoint)
            .execute(&mut *tx)
            .await?;
            sqlx::query("SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE")
                .bind(&live.checkpoint)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!(
                "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
                live.table
            ))
            .execute(&mut *tx)
            .await?;
            let position: Option<i64> =
                sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
                    .bind(&shadow.checkpoint)
                    .fetch_optional(&mut *tx)
                    .await?;
            for statement in [
                format!("ALTER TABLE {} RENAME TO {retired}", live.table),
                format!("ALTER TABLE {} RENAME TO {}", shadow.table, live.table),
                format!("DROP TABLE {retired}"),
            ] {
                sqlx::query(&statement).execute(&mut *tx).await?;
            }
            let position = position.unwrap_or(0);
            sqlx::query("UPDATE projection_checkpoints SET position = $2 WHERE name = $1")
                .bind(&live.checkpoint)
                .bind(position)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
                .bind(&shadow.checkpoint)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            position
        }
        Database::Sqlite { writer, .. } => {
            let mut conn = writer.acquire().await?;
            let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
            let position: Option<i64> =
                sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = ?1")
                    .bind(&shadow.checkpoint)
                    .fetch_optional(&mut *tx)
                    .await?;
            let shadow_indexes: Vec<(String, String, String)> = schema_of(&mut tx, &shadow.table)
                .await?
                .into_iter()
                .filter(|(kind, _, _)| kind == "index")
                .collect();
            sqlx::query(&format!("DROP TABLE {}", live.table))
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!(
                "ALTER TABLE {} RENAME TO {}",
                shadow.table, live.table
            ))
            .execute(&mut *tx)
            .await?;
            // Give the indexes back their own names.
            for (_, name, sql) in shadow_indexes {
                let original = name.trim_end_matches("_rebuild");
                sqlx::query(&format!("DROP INDEX {name}"))
                    .execute(&mut *tx)
                    .await?;
                let sql = sql.replacen(&name, original, 1).replacen(
                    &format!("ON {}", shadow.table),
                    &format!("ON {}", live.table),
                    1,
                );
                sqlx::query(&sql).execute(&mut *tx).await?;
            }
            let position = position.unwrap_or(0);
            sqlx::query(
                "INSERT INTO projection_checkpoints (name, position) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            )
            .bind(&live.checkpoint)
            .bind(position)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM projection_checkpoints WHERE name = ?1")
                .bind(&shadow.checkpoint)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            position
        }
    };
    Ok(position.max(0) as u64)
}
