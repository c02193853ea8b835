//! The workflow read model: one row per workflow with what list and detail
//! queries need, kept by the `workflows` projection.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{postgres::PgRow, sqlite::SqliteRow, types::Json, Row};
use uuid::Uuid;

use super::{
    columns::{unsigned, uuid_text},
    store::{ReadModelStore, Replayed},
    tenant_scope::TenantScope,
    ReadModelError, ReadModelTarget,
};
use crate::{
    database::{to_i64, Database},
    event_store::Position,
};

/// Where a workflow is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    /// Created or deactivated: its triggers do not fire.
    Inactive,
    /// Its triggers fire.
    Active,
    /// Deleted by its owner; kept for history, refuses every command.
    Archived,
}

impl WorkflowStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Inactive => "inactive",
            WorkflowStatus::Active => "active",
            WorkflowStatus::Archived => "archived",
        }
    }

    /// Reads the stored spelling back.
    pub fn parse(value: &str) -> Result<Self, ReadModelError> {
        match value {
            "inactive" => Ok(WorkflowStatus::Inactive),
            "active" => Ok(WorkflowStatus::Active),
            "archived" => Ok(WorkflowStatus::Archived),
            other => Err(ReadModelError::Corrupt(format!(
                "unknown workflow status {other:?}"
            ))),
        }
    }
}

/// One workflow as queries see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowView {
    /// The workflow's id.
    pub id: Uuid,
    /// Its current name.
    pub name: String,
    /// Inactive, active or archived.
    pub status: WorkflowStatus,
    /// Free labels for filtering.
    pub tags: Vec<String>,
    /// The definition's revision (1 at creation); executions pin it.
    pub definition_version: u32,
    /// The stream version: the optimistic-concurrency token for the next command.
    pub version: u64,
    /// The current definition as JSON.
    pub definition: Value,
    /// When the workflow was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The global position of the last event folded into this row.
    pub position: Position,
    /// The tenant (workspace) the workflow belongs to.
    pub tenant_id: String,
}

/// A page request for the workflow list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowListQuery {
    /// Only active (`true`) or only inactive (`false`) workflows.
    pub active: Option<bool>,
    /// Only workflows carrying this tag.
    pub tag: Option<String>,
    /// Whether archived workflows are listed too.
    pub include_archived: bool,
    /// Only workflows whose id sorts after this one (keyset paging; ids are UUIDv7).
    pub after: Option<Uuid>,
    /// At most this many rows.
    pub limit: u32,
    /// Only these tenants' workflows (all, if none).
    pub scope: Option<TenantScope>,
}

impl WorkflowListQuery {
    /// The stored status the `active` filter selects, if any.
    pub fn status_filter(&self) -> Option<&'static str> {
        self.active.map(|active| {
            if active {
                WorkflowStatus::Active.as_str()
            } else {
                WorkflowStatus::Inactive.as_str()
            }
        })
    }
}

/// Storage for [`WorkflowView`]s and the `workflows` projection's checkpoint:
/// the seam the trigger registries, the API and the projection hold, so a test
/// can stand in for it. [`WorkflowViews`] keeps it in either database.
#[async_trait]
pub trait WorkflowViewStore: Send + Sync + 'static {
    /// How far the projection has read (0 before its first event).
    async fn checkpoint(&self) -> Result<Position, ReadModelError>;

    /// The rows for these ids that exist.
    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<WorkflowView>, ReadModelError>;

    /// Writes `views` and moves the checkpoint from `from` to `to` in one
    /// transaction. Does nothing if the checkpoint is already at `to` or beyond
    /// (a replayed batch); refuses with [`ReadModelError::CheckpointMoved`] if it
    /// is anywhere but `from` (the read model was rebuilt meanwhile).
    async fn save(
        &self,
        views: &[WorkflowView],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError>;

    /// One workflow, if it exists.
    async fn get(&self, id: Uuid) -> Result<Option<WorkflowView>, ReadModelError>;

    /// One page of workflows in id order.
    async fn list(&self, query: &WorkflowListQuery) -> Result<Vec<WorkflowView>, ReadModelError>;
}

/// The projection's name, also its checkpoint row's name.
pub const WORKFLOWS_PROJECTION: &str = "workflows";

/// The live read model's table and checkpoint.
pub fn live_workflow_views() -> ReadModelTarget {
    ReadModelTarget::new("workflow_views", WORKFLOWS_PROJECTION)
}

/// Every active workflow, paging through the read model; for the trigger
/// registries (webhooks, schedules) that scan definitions.
pub async fn active_workflows(
    views: &dyn WorkflowViewStore,
) -> Result<Vec<WorkflowView>, ReadModelError> {
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = views
            .list(&WorkflowListQuery {
                active: Some(true),
                after,
                limit: 500,
                ..Default::default()
            })
            .await?;
        let Some(last) = page.last().map(|v| v.id) else {
            return Ok(found);
        };
        found.extend(page);
        after = Some(last);
    }
}

/// [`WorkflowViewStore`] in PostgreSQL or the embedded SQLite file.
#[derive(Debug, Clone)]
pub struct WorkflowViews {
    store: ReadModelStore,
}

const COLUMNS: &str =
    "id, name, status, tags, definition_version, version, definition, created_at, updated_at, position, tenant_id";

impl WorkflowViews {
    /// The workflow read model in `target` of `database`.
    pub fn at(database: Database, target: ReadModelTarget) -> Self {
        // `save` documents that a batch already in is a no-op, not a refusal.
        Self {
            store: ReadModelStore::new(database, target).on_replay(Replayed::Skip),
        }
    }

    /// Where this read model is kept.
    pub fn target(&self) -> &ReadModelTarget {
        self.store.target()
    }

    fn select(&self) -> String {
        format!("SELECT {COLUMNS} FROM {}", self.store.table())
    }
}

#[async_trait]
impl WorkflowViewStore for WorkflowViews {
    async fn checkpoint(&self) -> Result<Position, ReadModelError> {
        self.store.checkpoint().await
    }

    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<WorkflowView>, ReadModelError> {
        let select = self.select();
        self.store
            .read(
                async |pool| {
                    let rows = sqlx::query(&format!("{select} WHERE id = ANY($1)"))
                        .bind(ids)
                        .fetch_all(pool)
                        .await?;
                    rows.iter().map(decode_postgres).collect()
                },
                async |pool| {
                    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
                    let rows = sqlx::query(&format!(
                        "{select} WHERE id IN (SELECT value FROM json_each(?1))"
                    ))
                    .bind(Json(&ids))
                    .fetch_all(pool)
                    .await?;
                    rows.iter().map(decode_sqlite).collect()
                },
            )
            .await
    }

    async fn save(
        &self,
        views: &[WorkflowView],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError> {
        let table = self.store.table();
        let upsert = |values: &str| {
            format!(
                "INSERT INTO {table} AS t ({COLUMNS}) {values} \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status, \
                 tags = excluded.tags, definition_version = excluded.definition_version, \
                 version = excluded.version, definition = excluded.definition, \
                 updated_at = excluded.updated_at, position = excluded.position, \
                 tenant_id = excluded.tenant_id \
                 WHERE t.position < excluded.position"
            )
        };
        self.store
            .write(
                from,
                to,
                async |tx| {
                    // One statement for the whole batch: rows travel as arrays.
                    sqlx::query(&upsert(
                        "SELECT v.id, v.name, v.status, ARRAY(SELECT jsonb_array_elements_text(v.tags)), \
                         v.definition_version, v.version, v.definition, v.created_at, v.updated_at, v.position, v.tenant_id \
                         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::int[], $6::bigint[], \
                         $7::jsonb[], $8::timestamptz[], $9::timestamptz[], $10::bigint[], $11::text[]) \
                         AS v(id, name, status, tags, definition_version, version, definition, created_at, updated_at, position, tenant_id)",
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
                    .bind(views.iter().map(|v| v.tenant_id.as_str()).collect::<Vec<_>>())
                    .execute(&mut *tx)
                    .await?;
                    Ok(())
                },
                async |tx| {
                    let upsert = upsert("VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
                    for view in views {
                        sqlx::query(&upsert)
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
                            .bind(&view.tenant_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    Ok(())
                },
            )
            .await
    }

    async fn get(&self, id: Uuid) -> Result<Option<WorkflowView>, ReadModelError> {
        let select = self.select();
        self.store
            .read(
                async |pool| {
                    let row = sqlx::query(&format!("{select} WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(pool)
                        .await?;
                    row.as_ref().map(decode_postgres).transpose()
                },
                async |pool| {
                    let row = sqlx::query(&format!("{select} WHERE id = ?1"))
                        .bind(id.to_string())
                        .fetch_optional(pool)
                        .await?;
                    row.as_ref().map(decode_sqlite).transpose()
                },
            )
            .await
    }

    async fn list(&self, query: &WorkflowListQuery) -> Result<Vec<WorkflowView>, ReadModelError> {
        let select = self.select();
        let tenants = query.scope.as_ref().map(TenantScope::binds);
        self.store
            .read(
                async |pool| {
                    let rows = sqlx::query(&format!(
                        "{select} WHERE ($1::text IS NULL OR status = $1) \
                         AND ($2 OR status <> 'archived') \
                         AND ($3::text IS NULL OR $3 = ANY(tags)) \
                         AND ($4::uuid IS NULL OR id > $4) \
                         AND ($6::text IS NULL OR tenant_id IN ($6, $7)) \
                         ORDER BY id LIMIT $5"
                    ))
                    .bind(query.status_filter())
                    .bind(query.include_archived)
                    .bind(query.tag.as_deref())
                    .bind(query.after)
                    .bind(i64::from(query.limit))
                    .bind(tenants.map(|t| t.0))
                    .bind(tenants.map(|t| t.1))
                    .fetch_all(pool)
                    .await?;
                    rows.iter().map(decode_postgres).collect()
                },
                async |pool| {
                    let rows = sqlx::query(&format!(
                        "{select} AS t WHERE (?1 IS NULL OR status = ?1) \
                         AND (?2 OR status <> 'archived') \
                         AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(t.tags) WHERE value = ?3)) \
                         AND (?4 IS NULL OR id > ?4) \
                         AND (?6 IS NULL OR tenant_id IN (?6, ?7)) \
                         ORDER BY id LIMIT ?5"
                    ))
                    .bind(query.status_filter())
                    .bind(query.include_archived)
                    .bind(query.tag.as_deref())
                    .bind(query.after.map(|id| id.to_string()))
                    .bind(i64::from(query.limit))
                    .bind(tenants.map(|t| t.0))
                    .bind(tenants.map(|t| t.1))
                    .fetch_all(pool)
                    .await?;
                    rows.iter().map(decode_sqlite).collect()
                },
            )
            .await
    }
}

fn decode_postgres(row: &PgRow) -> Result<WorkflowView, ReadModelError> {
    Ok(WorkflowView {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        status: WorkflowStatus::parse(row.try_get("status")?)?,
        tags: row.try_get("tags")?,
        definition_version: row.try_get::<i32, _>("definition_version")?.max(0) as u32,
        version: unsigned(row.try_get("version")?),
        definition: row.try_get::<Json<Value>, _>("definition")?.0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        position: unsigned(row.try_get("position")?),
        tenant_id: row.try_get("tenant_id")?,
    })
}

fn decode_sqlite(row: &SqliteRow) -> Result<WorkflowView, ReadModelError> {
    Ok(WorkflowView {
        id: uuid_text("id", row.try_get("id")?)?,
        name: row.try_get("name")?,
        status: WorkflowStatus::parse(row.try_get("status")?)?,
        tags: row.try_get::<Json<Vec<String>>, _>("tags")?.0,
        definition_version: row
            .try_get::<i64, _>("definition_version")?
            .clamp(0, u32::MAX.into()) as u32,
        version: unsigned(row.try_get("version")?),
        definition: row.try_get::<Json<Value>, _>("definition")?.0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        position: unsigned(row.try_get("position")?),
        tenant_id: row.try_get("tenant_id")?,
    })
}
