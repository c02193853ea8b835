//! The workflow read model on PostgreSQL.

use async_trait::async_trait;
use sqlx::{postgres::PgRow, types::Json, PgPool, Row};
use uuid::Uuid;

use super::{
    ReadModelError, ReadModelTarget, WorkflowListQuery, WorkflowStatus, WorkflowView,
    WorkflowViewStore,
};
use crate::event_store::Position;

/// [`WorkflowViewStore`] on PostgreSQL, in the event store's database.
#[derive(Debug, Clone)]
pub struct PostgresWorkflowViews {
    pool: PgPool,
    target: ReadModelTarget,
}

impl PostgresWorkflowViews {
    /// Rows in `target`'s table of a database with the FlowForge schema.
    pub fn new(pool: PgPool, target: ReadModelTarget) -> Self {
        Self { pool, target }
    }

    fn select(&self) -> String {
        format!(
            "SELECT id, name, status, tags, definition_version, version, definition, \
             created_at, updated_at, position FROM {}",
            self.target.table
        )
    }
}

fn decode(row: &PgRow) -> Result<WorkflowView, ReadModelError> {
    Ok(WorkflowView {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        status: WorkflowStatus::parse(row.try_get::<&str, _>("status")?)?,
        tags: row.try_get("tags")?,
        definition_version: row.try_get::<i32, _>("definition_version")?.max(0) as u32,
        version: row.try_get::<i64, _>("version")?.max(0) as u64,
        definition: row.try_get::<Json<serde_json::Value>, _>("definition")?.0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        position: row.try_get::<i64, _>("position")?.max(0) as u64,
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[async_trait]
impl WorkflowViewStore for PostgresWorkflowViews {
    async fn checkpoint(&self) -> Result<Position, ReadModelError> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
                .bind(&self.target.checkpoint)
                .fetch_optional(&self.pool)
                .await?;
        Ok(position.unwrap_or(0).max(0) as u64)
    }

    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<WorkflowView>, ReadModelError> {
        let rows = sqlx::query(&format!("{} WHERE id = ANY($1)", self.select()))
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    async fn save(
        &self,
        views: &[WorkflowView],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&self.target.checkpoint)
        .execute(&mut *tx)
        .await?;
        let current: i64 = sqlx::query_scalar(
            "SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
        )
        .bind(&self.target.checkpoint)
        .fetch_one(&mut *tx)
        .await?;
        let current = current.max(0) as u64;
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
        // One statement for the whole batch: rows travel as arrays.
        sqlx::query(&format!(
            "INSERT INTO {table} AS t (id, name, status, tags, definition_version, version, \
             definition, created_at, updated_at, position) \
             SELECT v.id, v.name, v.status, ARRAY(SELECT jsonb_array_elements_text(v.tags)), \
             v.definition_version, v.version, v.definition, v.created_at, v.updated_at, v.position \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::bigint[], \
             $7::jsonb[], $8::timestamptz[], $9::timestamptz[], $10::bigint[]) \
             AS v(id, name, status, tags, definition_version, version, definition, created_at, updated_at, position) \
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status, \
             tags = EXCLUDED.tags, definition_version = EXCLUDED.definition_version, \
             version = EXCLUDED.version, definition = EXCLUDED.definition, \
             updated_at = EXCLUDED.updated_at, position = EXCLUDED.position \
             WHERE t.position < EXCLUDED.position",
            table = self.target.table
        ))
        .bind(views.iter().map(|v| v.id).collect::<Vec<_>>())
        .bind(views.iter().map(|v| v.name.as_str()).collect::<Vec<_>>())
        .bind(views.iter().map(|v| v.status.as_str()).collect::<Vec<_>>())
        .bind(views.iter().map(|v| Json(&v.tags)).collect::<Vec<_>>())
        .bind(
            views
                .iter()
                .map(|v| i32::try_from(v.definition_version).unwrap_or(i32::MAX))
                .collect::<Vec<_>>(),
        )
        .bind(views.iter().map(|v| to_i64(v.version)).collect::<Vec<_>>())
        .bind(views.iter().map(|v| Json(&v.definition)).collect::<Vec<_>>())
        .bind(views.iter().map(|v| v.created_at).collect::<Vec<_>>())
        .bind(views.iter().map(|v| v.updated_at).collect::<Vec<_>>())
        .bind(views.iter().map(|v| to_i64(v.position)).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE projection_checkpoints SET position = $2 WHERE name = $1")
            .bind(&self.target.checkpoint)
            .bind(to_i64(to))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<WorkflowView>, ReadModelError> {
        let row = sqlx::query(&format!("{} WHERE id = $1", self.select()))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    async fn list(&self, query: &WorkflowListQuery) -> Result<Vec<WorkflowView>, ReadModelError> {
        let rows = sqlx::query(&format!(
            "{} WHERE ($1::text IS NULL OR status = $1) \
             AND ($2 OR status <> 'archived') \
             AND ($3::text IS NULL OR $3 = ANY(tags)) \
             AND ($4::uuid IS NULL OR id > $4) \
             ORDER BY id LIMIT $5",
            self.select()
        ))
        .bind(query.status_filter())
        .bind(query.include_archived)
        .bind(query.tag.as_deref())
        .bind(query.after)
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }
}
