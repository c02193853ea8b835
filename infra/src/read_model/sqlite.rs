//! The workflow read model on the embedded SQLite file.

use async_trait::async_trait;
use sqlx::{sqlite::SqliteRow, types::Json, Row, SqlitePool};
use uuid::Uuid;

use super::{
    ReadModelError, ReadModelTarget, WorkflowListQuery, WorkflowStatus, WorkflowView,
    WorkflowViewStore,
};
use crate::{database::to_i64, event_store::Position};

/// [`WorkflowViewStore`] on SQLite; writes share the event store's single writer.
#[derive(Debug, Clone)]
pub struct SqliteWorkflowViews {
    writer: SqlitePool,
    reader: SqlitePool,
    target: ReadModelTarget,
}

impl SqliteWorkflowViews {
    /// Rows in `target`'s table, written through the single-connection `writer`
    /// pool and read through `reader`.
    pub fn new(writer: SqlitePool, reader: SqlitePool, target: ReadModelTarget) -> Self {
        Self {
            writer,
            reader,
            target,
        }
    }

    fn select(&self) -> String {
        format!(
            "SELECT id, name, status, tags, definition_version, version, definition, \
             created_at, updated_at, position FROM {}",
            self.target.table
        )
    }
}

fn decode(row: &SqliteRow) -> Result<WorkflowView, ReadModelError> {
    let id: String = row.try_get("id")?;
    Ok(WorkflowView {
        id: Uuid::parse_str(&id).map_err(|e| ReadModelError::Corrupt(format!("id {id}: {e}")))?,
        name: row.try_get("name")?,
        status: WorkflowStatus::parse(row.try_get::<&str, _>("status")?)?,
        tags: row.try_get::<Json<Vec<String>>, _>("tags")?.0,
        definition_version: row
            .try_get::<i64, _>("definition_version")?
            .clamp(0, u32::MAX.into()) as u32,
        version: row.try_get::<i64, _>("version")?.max(0) as u64,
        definition: row.try_get::<Json<serde_json::Value>, _>("definition")?.0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        position: row.try_get::<i64, _>("position")?.max(0) as u64,
    })
}

#[async_trait]
impl WorkflowViewStore for SqliteWorkflowViews {
    async fn checkpoint(&self) -> Result<Position, ReadModelError> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = ?1")
                .bind(&self.target.checkpoint)
                .fetch_optional(&self.reader)
                .await?;
        Ok(position.unwrap_or(0).max(0) as u64)
    }

    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<WorkflowView>, ReadModelError> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let rows = sqlx::query(&format!(
            "{} WHERE id IN (SELECT value FROM json_each(?1))",
            self.select()
        ))
        .bind(Json(&ids))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(decode).collect()
    }

    async fn save(
        &self,
        views: &[WorkflowView],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = ?1")
                .bind(&self.target.checkpoint)
                .fetch_optional(&mut *tx)
                .await?;
        let current = current.unwrap_or(0).max(0) as u64;
        if current >= to {
            tx.rollback().await?;
            return Ok(());
        }
        if current != from {
            tx.rollback().await?;
            return Err(ReadModelError::CheckpointMoved {
                name: self.target.checkpoint.clone(),
                expected: from,
                actual: current,
            });
        }
        for view in views {
            sqlx::query(&format!(
                "INSERT INTO {table} AS t (id, name, status, tags, definition_version, version, \
                 definition, created_at, updated_at, position) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status, \
                 tags = excluded.tags, definition_version = excluded.definition_version, \
                 version = excluded.version, definition = excluded.definition, \
                 updated_at = excluded.updated_at, position = excluded.position \
                 WHERE t.position < excluded.position",
                table = self.target.table
            ))
            .bind(view.id.to_string())
            .bind(&view.name)
            .bind(view.status.as_str())
            .bind(Json(&view.tags))
            .bind(i64::from(view.definition_version))
            .bind(to_i64(view.version))
            .bind(Json(&view.definition))
            .bind(view.created_at)
            .bind(view.updated_at)
            .bind(to_i64(view.position))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO projection_checkpoints (name, position) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        )
        .bind(&self.target.checkpoint)
        .bind(to_i64(to))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<WorkflowView>, ReadModelError> {
        let row = sqlx::query(&format!("{} WHERE id = ?1", self.select()))
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    async fn list(&self, query: &WorkflowListQuery) -> Result<Vec<WorkflowView>, ReadModelError> {
        let rows = sqlx::query(&format!(
            "{} AS t WHERE (?1 IS NULL OR status = ?1) \
             AND (?2 OR status <> 'archived') \
             AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(t.tags) WHERE value = ?3)) \
             AND (?4 IS NULL OR id > ?4) \
             ORDER BY id LIMIT ?5",
            self.select()
        ))
        .bind(query.status_filter())
        .bind(query.include_archived)
        .bind(query.tag.as_deref())
        .bind(query.after.map(|id| id.to_string()))
        .bind(i64::from(query.limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(decode).collect()
    }
}
