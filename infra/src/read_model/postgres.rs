//! The workflow read model on PostgreSQL.

use async_trait::async_trait;
use sqlx::{postgres::PgRow, types::Json, PgPool, Row};
use uuid::Uuid;

use super::{
    workflow_views::PROJECTION_NAME, ReadModelError, WorkflowListQuery, WorkflowStatus,
    WorkflowView, WorkflowViewStore,
};
use crate::event_store::Position;

/// [`WorkflowViewStore`] on PostgreSQL, in the event store's database.
#[derive(Debug, Clone)]
pub struct PostgresWorkflowViews {
    pool: PgPool,
}

impl PostgresWorkflowViews {
    /// Wraps a pool whose database has the FlowForge schema.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

const SELECT_VIEW: &str =
    "SELECT id, name, status, tags, definition_version, version, definition, \
     created_at, updated_at, position FROM workflow_views";

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

#[async_trait]
impl WorkflowViewStore for PostgresWorkflowViews {
    async fn checkpoint(&self) -> Result<Position, ReadModelError> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
                .bind(PROJECTION_NAME)
                .fetch_optional(&self.pool)
                .await?;
        Ok(position.unwrap_or(0).max(0) as u64)
    }

    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<WorkflowView>, ReadModelError> {
        let rows = sqlx::query(&format!("{SELECT_VIEW} WHERE id = ANY($1)"))
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    async fn save(
        &self,
        views: &[WorkflowView],
        checkpoint: Position,
    ) -> Result<(), ReadModelError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING",
        )
        .bind(PROJECTION_NAME)
        .execute(&mut *tx)
        .await?;
        let current: i64 = sqlx::query_scalar(
            "SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
        )
        .bind(PROJECTION_NAME)
        .fetch_one(&mut *tx)
        .await?;
        if current.max(0) as u64 >= checkpoint {
            tx.rollback().await?;
            return Ok(());
        }
        for view in views {
            sqlx::query(
                "INSERT INTO workflow_views (id, name, status, tags, definition_version, version, \
                 definition, created_at, updated_at, position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status, \
                 tags = EXCLUDED.tags, definition_version = EXCLUDED.definition_version, \
                 version = EXCLUDED.version, definition = EXCLUDED.definition, \
                 updated_at = EXCLUDED.updated_at, position = EXCLUDED.position \
                 WHERE workflow_views.position < EXCLUDED.position",
            )
            .bind(view.id)
            .bind(&view.name)
            .bind(view.status.as_str())
            .bind(&view.tags)
            .bind(i32::try_from(view.definition_version).unwrap_or(i32::MAX))
            .bind(i64::try_from(view.version).unwrap_or(i64::MAX))
            .bind(Json(&view.definition))
            .bind(view.created_at)
            .bind(view.updated_at)
            .bind(i64::try_from(view.position).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE projection_checkpoints SET position = $2 WHERE name = $1")
            .bind(PROJECTION_NAME)
            .bind(i64::try_from(checkpoint).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<WorkflowView>, ReadModelError> {
        let row = sqlx::query(&format!("{SELECT_VIEW} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    async fn list(&self, query: &WorkflowListQuery) -> Result<Vec<WorkflowView>, ReadModelError> {
        let status = query.active.map(|active| {
            if active {
                WorkflowStatus::Active.as_str()
            } else {
                WorkflowStatus::Inactive.as_str()
            }
        });
        let rows = sqlx::query(&format!(
            "{SELECT_VIEW} WHERE ($1::text IS NULL OR status = $1) \
             AND ($2 OR status <> 'archived') \
             AND ($3::text IS NULL OR $3 = ANY(tags)) \
             AND ($4::uuid IS NULL OR id > $4) \
             ORDER BY id LIMIT $5"
        ))
        .bind(status)
        .bind(query.include_archived)
        .bind(query.tag.as_deref())
        .bind(query.after)
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }
}
