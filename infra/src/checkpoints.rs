//! Named positions in the log that workers keep in the database: how far the
//! NATS publisher has published, how far each projection has applied. A
//! checkpoint only ever moves forward.

use sqlx::Row;

use crate::{database::Database, event_store::Position};

/// Reads and advances checkpoints in `projection_checkpoints`.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    database: Database,
}

impl Checkpoints {
    /// Checkpoints in `database`.
    pub fn new(database: Database) -> Self {
        Self { database }
    }

    /// The checkpoint called `name` (0 if it was never set).
    pub async fn get(&self, name: &str) -> Result<Position, sqlx::Error> {
        let position: Option<i64> = match &self.database {
            Database::Postgres(pool) => {
                sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
                    .bind(name)
                    .fetch_optional(pool)
                    .await?
            }
            Database::Sqlite { reader, .. } => {
                sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = ?1")
                    .bind(name)
                    .fetch_optional(reader)
                    .await?
            }
        };
        Ok(position.unwrap_or(0).max(0) as u64)
    }

    /// Moves `name` to `position` unless it is already there or beyond.
    pub async fn advance(&self, name: &str, position: Position) -> Result<(), sqlx::Error> {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        let sql = "INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2) \
                   ON CONFLICT (name) DO UPDATE SET position = excluded.position \
                   WHERE projection_checkpoints.position < excluded.position";
        match &self.database {
            Database::Postgres(pool) => {
                sqlx::query(sql)
                    .bind(name)
                    .bind(position)
                    .execute(pool)
                    .await?;
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(sql)
                    .bind(name)
                    .bind(position)
                    .execute(writer)
                    .await?;
            }
        }
        Ok(())
    }

    /// Every checkpoint, by name.
    pub async fn all(&self) -> Result<Vec<(String, Position)>, sqlx::Error> {
        let sql = "SELECT name, position FROM projection_checkpoints ORDER BY name";
        let rows = match &self.database {
            Database::Postgres(pool) => sqlx::query(sql)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get::<i64, _>(1)?)))
                .collect::<Result<Vec<(String, i64)>, sqlx::Error>>()?,
            Database::Sqlite { reader, .. } => sqlx::query(sql)
                .fetch_all(reader)
                .await?
                .iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get::<i64, _>(1)?)))
                .collect::<Result<Vec<(String, i64)>, sqlx::Error>>()?,
        };
        Ok(rows
            .into_iter()
            .map(|(name, position)| (name, position.max(0) as u64))
            .collect())
    }
}
