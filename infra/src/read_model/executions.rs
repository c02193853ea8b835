//! The executions read model: one row per execution (status, trigger, timings)
//! for the execution list, kept by the `executions` projection. The detail of
//! one execution is read from its own stream, not from here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{postgres::PgRow, sqlite::SqliteRow, Row};
use uuid::Uuid;

use super::{
    columns::{unsigned, uuid_text},
    store::ReadModelStore,
    tenant_scope::TenantScope,
    ReadModelError, ReadModelTarget,
};
use crate::{
    database::{to_i64, Database},
    event_store::Position,
};

/// The projection's name, also its checkpoint row's name.
pub const EXECUTIONS_PROJECTION: &str = "executions";

/// The live executions read model's table and checkpoint.
pub fn live_execution_views() -> ReadModelTarget {
    ReadModelTarget::new("execution_views", EXECUTIONS_PROJECTION)
}

/// One execution as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionView {
    /// The execution.
    pub id: Uuid,
    /// Its workflow.
    pub workflow_id: Uuid,
    /// `running`, `waiting`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// What started it (`manual`, `webhook`, `schedule`, `nats`, …).
    pub trigger: String,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// The node whose failure ended it.
    pub failed_node: Option<String>,
    /// The log position of the last change folded in.
    pub position: Position,
    /// The tenant (workspace) the execution belongs to.
    pub tenant_id: String,
}

/// A change an event makes to the list.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutionChange {
    /// A new execution.
    Requested(ExecutionView),
    /// An execution's status moved.
    Status {
        /// The execution.
        id: Uuid,
        /// Its new status.
        status: String,
        /// When it ended, if it did.
        finished_at: Option<DateTime<Utc>>,
        /// The node whose failure ended it.
        failed_node: Option<String>,
        /// The event's position.
        position: Position,
    },
}

/// Filters and paging for the execution list; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionQuery {
    /// Only this workflow's executions.
    pub workflow_id: Option<Uuid>,
    /// Only executions in this status.
    pub status: Option<String>,
    /// Requested at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Requested before this time.
    pub to: Option<DateTime<Utc>>,
    /// Keyset paging: ids after this one (ids are UUIDv7, so this is time order).
    pub after: Option<Uuid>,
    /// At most this many rows.
    pub limit: u32,
    /// Only these tenants' executions (all, if none).
    pub scope: Option<TenantScope>,
}

/// Storage for [`ExecutionView`]s.
#[derive(Debug, Clone)]
pub struct ExecutionViews {
    store: ReadModelStore,
}

const COLUMNS: &str =
    "id, workflow_id, status, trigger, requested_at, finished_at, failed_node, position, tenant_id";

impl ExecutionViews {
    /// The list in `target` of `database`.
    pub fn at(database: Database, target: ReadModelTarget) -> Self {
        Self {
            store: ReadModelStore::new(database, target),
        }
    }

    /// Where this list is kept.
    pub fn target(&self) -> &ReadModelTarget {
        self.store.target()
    }

    /// The position of the last event folded in.
    pub async fn checkpoint(&self) -> Result<Position, ReadModelError> {
        self.store.checkpoint().await
    }

    /// Applies `changes` and moves the checkpoint from `from` to `to` in one
    /// transaction; refuses with [`ReadModelError::CheckpointMoved`] if the
    /// checkpoint is not at `from`.
    pub async fn apply(
        &self,
        changes: &[ExecutionChange],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError> {
        let table = self.store.table();
        let insert = format!(
            "INSERT INTO {table} ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO NOTHING"
        );
        let update = format!(
            "UPDATE {table} SET status = $2, finished_at = COALESCE($3, finished_at), \
             failed_node = COALESCE($4, failed_node), position = $5 WHERE id = $1 AND position < $5"
        );
        self.store
            .write(
                from,
                to,
                async |tx| {
                    for change in changes {
                        match change {
                            ExecutionChange::Requested(v) => {
                                sqlx::query(&insert)
                                    .bind(v.id)
                                    .bind(v.workflow_id)
                                    .bind(&v.status)
                                    .bind(&v.trigger)
                                    .bind(v.requested_at)
                                    .bind(v.finished_at)
                                    .bind(&v.failed_node)
                                    .bind(to_i64(v.position))
                                    .bind(&v.tenant_id)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            ExecutionChange::Status {
                                id,
                                status,
                                finished_at,
                                failed_node,
                                position,
                            } => {
                                sqlx::query(&update)
                                    .bind(id)
                                    .bind(status)
                                    .bind(finished_at)
                                    .bind(failed_node)
                                    .bind(to_i64(*position))
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                    }
                    Ok(())
                },
                async |tx| {
                    for change in changes {
                        match change {
                            ExecutionChange::Requested(v) => {
                                sqlx::query(&insert)
                                    .bind(v.id.to_string())
                                    .bind(v.workflow_id.to_string())
                                    .bind(&v.status)
                                    .bind(&v.trigger)
                                    .bind(v.requested_at)
                                    .bind(v.finished_at)
                                    .bind(&v.failed_node)
                                    .bind(to_i64(v.position))
                                    .bind(&v.tenant_id)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            ExecutionChange::Status {
                                id,
                                status,
                                finished_at,
                                failed_node,
                                position,
                            } => {
                                sqlx::query(&update)
                                    .bind(id.to_string())
                                    .bind(status)
                                    .bind(finished_at)
                                    .bind(failed_node)
                                    .bind(to_i64(*position))
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                    }
                    Ok(())
                },
            )
            .await
    }

    /// One page of executions matching `query`, in id (time) order.
    pub async fn list(&self, query: &ExecutionQuery) -> Result<Vec<ExecutionView>, ReadModelError> {
        let select = format!("SELECT {COLUMNS} FROM {}", self.store.table());
        let tenants = query.scope.as_ref().map(TenantScope::binds);
        self.store
            .read(
                async |pool| {
                    let rows = sqlx::query(&format!(
                        "{select} WHERE ($1::uuid IS NULL OR workflow_id = $1) \
                         AND ($2::text IS NULL OR status = $2) \
                         AND ($3::timestamptz IS NULL OR requested_at >= $3) \
                         AND ($4::timestamptz IS NULL OR requested_at < $4) \
                         AND ($5::uuid IS NULL OR id > $5) \
                         AND ($7::text IS NULL OR tenant_id IN ($7, $8)) ORDER BY id LIMIT $6"
                    ))
                    .bind(query.workflow_id)
                    .bind(query.status.as_deref())
                    .bind(query.from)
                    .bind(query.to)
                    .bind(query.after)
                    .bind(i64::from(query.limit))
                    .bind(tenants.map(|t| t.0))
                    .bind(tenants.map(|t| t.1))
                    .fetch_all(pool)
                    .await?;
                    rows.iter().map(decode_postgres).collect()
                },
                async |pool| {
                    // Timestamps are RFC 3339 text of varying precision: compare
                    // them as instants, not as strings.
                    let rows = sqlx::query(&format!(
                        "{select} WHERE (?1 IS NULL OR workflow_id = ?1) \
                         AND (?2 IS NULL OR status = ?2) \
                         AND (?3 IS NULL OR julianday(requested_at) >= julianday(?3)) \
                         AND (?4 IS NULL OR julianday(requested_at) < julianday(?4)) \
                         AND (?5 IS NULL OR id > ?5) \
                         AND (?7 IS NULL OR tenant_id IN (?7, ?8)) ORDER BY id LIMIT ?6"
                    ))
                    .bind(query.workflow_id.map(|id| id.to_string()))
                    .bind(query.status.as_deref())
                    .bind(query.from)
                    .bind(query.to)
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

fn decode_postgres(row: &PgRow) -> Result<ExecutionView, ReadModelError> {
    Ok(ExecutionView {
        id: row.try_get("id")?,
        workflow_id: row.try_get("workflow_id")?,
        status: row.try_get("status")?,
        trigger: row.try_get("trigger")?,
        requested_at: row.try_get("requested_at")?,
        finished_at: row.try_get("finished_at")?,
        failed_node: row.try_get("failed_node")?,
        position: unsigned(row.try_get("position")?),
        tenant_id: row.try_get("tenant_id")?,
    })
}

fn decode_sqlite(row: &SqliteRow) -> Result<ExecutionView, ReadModelError> {
    Ok(ExecutionView {
        id: uuid_text("id", row.try_get("id")?)?,
        workflow_id: uuid_text("workflow_id", row.try_get("workflow_id")?)?,
        status: row.try_get("status")?,
        trigger: row.try_get("trigger")?,
        requested_at: row.try_get("requested_at")?,
        finished_at: row.try_get("finished_at")?,
        failed_node: row.try_get("failed_node")?,
        position: unsigned(row.try_get("position")?),
        tenant_id: row.try_get("tenant_id")?,
    })
}
