//! The sagas read model: one row per saga (status, why it compensates, the
//! step it is parked on, how many steps) for the saga list and for the saga
//! process manager to find unfinished sagas after a restart. The detail of one
//! saga is read from its own stream, not from here.

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
pub const SAGAS_PROJECTION: &str = "sagas";

/// The live sagas read model's table and checkpoint.
pub fn live_saga_views() -> ReadModelTarget {
    ReadModelTarget::new("saga_views", SAGAS_PROJECTION)
}

/// One saga as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaView {
    /// The saga, which is also its execution's id.
    pub id: Uuid,
    /// The execution's workflow.
    pub workflow_id: Uuid,
    /// `open`, `compensating`, `parked`, `compensated` or `closed`.
    pub status: String,
    /// Why it compensates: `failure`, `cancel` or `deadline`.
    pub reason: Option<String>,
    /// The step it is parked on, while parked.
    pub parked_step: Option<String>,
    /// How many steps completed.
    pub steps: u64,
    /// When its first step completed.
    pub opened_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The log position of the last change folded in.
    pub position: Position,
    /// The tenant (workspace) the saga belongs to.
    pub tenant_id: String,
}

/// A change a saga event makes to the list.
#[derive(Debug, Clone, PartialEq)]
pub enum SagaChange {
    /// A step completed (the first one adds the row).
    StepCompleted {
        /// The saga.
        id: Uuid,
        /// Its workflow.
        workflow_id: Uuid,
        /// When.
        at: DateTime<Utc>,
        /// The event's position.
        position: Position,
        /// The saga's tenant (workspace).
        tenant_id: String,
    },
    /// The saga's status moved.
    Status {
        /// The saga.
        id: Uuid,
        /// Its new status.
        status: String,
        /// Why it compensates, when that is what started.
        reason: Option<String>,
        /// The step it parked on; `None` clears it.
        parked_step: Option<String>,
        /// When.
        at: DateTime<Utc>,
        /// The event's position.
        position: Position,
    },
}

/// Filters and paging for the saga list; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SagaQuery {
    /// Only sagas in this status.
    pub status: Option<String>,
    /// Keyset paging: ids after this one.
    pub after: Option<Uuid>,
    /// At most this many rows.
    pub limit: u32,
    /// Only these tenants' sagas (all, if none).
    pub scope: Option<TenantScope>,
}

/// Storage for [`SagaView`]s.
#[derive(Debug, Clone)]
pub struct SagaViews {
    store: ReadModelStore,
}

const COLUMNS: &str =
    "id, workflow_id, status, reason, parked_step, steps, opened_at, updated_at, position, tenant_id";

impl SagaViews {
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
        changes: &[SagaChange],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError> {
        let table = self.store.table();
        let step = format!(
            "INSERT INTO {table} ({COLUMNS}) VALUES ($1, $2, 'open', NULL, NULL, 1, $3, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET steps = {table}.steps + 1, updated_at = excluded.updated_at, \
             position = excluded.position WHERE {table}.position < excluded.position"
        );
        let status = format!(
            "UPDATE {table} SET status = $2, reason = COALESCE($3, reason), parked_step = $4, \
             updated_at = $5, position = $6 WHERE id = $1 AND position < $6"
        );
        self.store
            .write(
                from,
                to,
                async |tx| {
                    for change in changes {
                        match change {
                            SagaChange::StepCompleted {
                                id,
                                workflow_id,
                                at,
                                position,
                                tenant_id,
                            } => {
                                sqlx::query(&step)
                                    .bind(id)
                                    .bind(workflow_id)
                                    .bind(at)
                                    .bind(to_i64(*position))
                                    .bind(tenant_id)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            SagaChange::Status {
                                id,
                                status: new_status,
                                reason,
                                parked_step,
                                at,
                                position,
                            } => {
                                sqlx::query(&status)
                                    .bind(id)
                                    .bind(new_status)
                                    .bind(reason)
                                    .bind(parked_step)
                                    .bind(at)
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
                            SagaChange::StepCompleted {
                                id,
                                workflow_id,
                                at,
                                position,
                                tenant_id,
                            } => {
                                sqlx::query(&step)
                                    .bind(id.to_string())
                                    .bind(workflow_id.to_string())
                                    .bind(at)
                                    .bind(to_i64(*position))
                                    .bind(tenant_id)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            SagaChange::Status {
                                id,
                                status: new_status,
                                reason,
                                parked_step,
                                at,
                                position,
                            } => {
                                sqlx::query(&status)
                                    .bind(id.to_string())
                                    .bind(new_status)
                                    .bind(reason)
                                    .bind(parked_step)
                                    .bind(at)
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

    /// One page of sagas matching `query`, in id order.
    pub async fn list(&self, query: &SagaQuery) -> Result<Vec<SagaView>, ReadModelError> {
        let select = format!("SELECT {COLUMNS} FROM {}", self.store.table());
        let tenants = query.scope.as_ref().map(TenantScope::binds);
        self.store
            .read(
                async |pool| {
                    let rows = sqlx::query(&format!(
                        "{select} WHERE ($1::text IS NULL OR status = $1) \
                         AND ($2::uuid IS NULL OR id > $2) \
                         AND ($4::text IS NULL OR tenant_id IN ($4, $5)) ORDER BY id LIMIT $3"
                    ))
                    .bind(query.status.as_deref())
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
                        "{select} WHERE (?1 IS NULL OR status = ?1) \
                         AND (?2 IS NULL OR id > ?2) \
                         AND (?4 IS NULL OR tenant_id IN (?4, ?5)) ORDER BY id LIMIT ?3"
                    ))
                    .bind(query.status.as_deref())
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

fn decode_postgres(row: &PgRow) -> Result<SagaView, ReadModelError> {
    Ok(SagaView {
        id: row.try_get("id")?,
        workflow_id: row.try_get("workflow_id")?,
        status: row.try_get("status")?,
        reason: row.try_get("reason")?,
        parked_step: row.try_get("parked_step")?,
        steps: unsigned(row.try_get("steps")?),
        opened_at: row.try_get("opened_at")?,
        updated_at: row.try_get("updated_at")?,
        position: unsigned(row.try_get("position")?),
        tenant_id: row.try_get("tenant_id")?,
    })
}

fn decode_sqlite(row: &SqliteRow) -> Result<SagaView, ReadModelError> {
    Ok(SagaView {
        id: uuid_text("id", row.try_get("id")?)?,
        workflow_id: uuid_text("workflow_id", row.try_get("workflow_id")?)?,
        status: row.try_get("status")?,
        reason: row.try_get("reason")?,
        parked_step: row.try_get("parked_step")?,
        steps: unsigned(row.try_get("steps")?),
        opened_at: row.try_get("opened_at")?,
        updated_at: row.try_get("updated_at")?,
        position: unsigned(row.try_get("position")?),
        tenant_id: row.try_get("tenant_id")?,
    })
}
