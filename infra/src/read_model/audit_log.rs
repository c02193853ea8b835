//! The audit log read model: one row per event saying who did what to which
//! aggregate and when, kept by the `audit_log` projection and queried by
//! aggregate, actor and time range.

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
    event_store::{Position, RecordedEvent},
};

/// The projection's name, also its checkpoint row's name.
pub const AUDIT_PROJECTION: &str = "audit_log";

/// The live audit log's table and checkpoint.
pub fn live_audit_log() -> ReadModelTarget {
    ReadModelTarget::new("audit_log", AUDIT_PROJECTION)
}

/// One audited change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The event's position in the log.
    pub position: Position,
    /// The event's id.
    pub event_id: Uuid,
    /// The changed aggregate's type.
    pub aggregate_type: String,
    /// The changed aggregate's id.
    pub aggregate_id: String,
    /// The aggregate's version after the change.
    pub version: u64,
    /// What happened.
    pub event_type: String,
    /// The tenant.
    pub tenant_id: String,
    /// Who did it.
    pub actor: Option<String>,
    /// The request or process it belonged to.
    pub correlation_id: Option<Uuid>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl From<&RecordedEvent> for AuditEntry {
    fn from(event: &RecordedEvent) -> Self {
        Self {
            position: event.position,
            event_id: event.event_id,
            aggregate_type: event.stream.aggregate_type().to_owned(),
            aggregate_id: event.stream.aggregate_id().to_owned(),
            version: event.version,
            event_type: event.event_type.clone(),
            tenant_id: event.metadata.tenant_id.clone(),
            actor: event.metadata.actor.clone(),
            correlation_id: event.metadata.correlation_id,
            recorded_at: event.recorded_at,
        }
    }
}

/// Filters for the audit log; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this aggregate type.
    pub aggregate_type: Option<String>,
    /// Only this aggregate id.
    pub aggregate_id: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Recorded at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before this time.
    pub to: Option<DateTime<Utc>>,
    /// Only entries after this position (keyset paging).
    pub after: Position,
    /// At most this many entries.
    pub limit: u32,
    /// Only these tenants' entries (all, if none).
    pub scope: Option<TenantScope>,
}

/// Storage for [`AuditEntry`]s.
#[derive(Debug, Clone)]
pub struct AuditLog {
    store: ReadModelStore,
}

const COLUMNS: &str = "position, event_id, aggregate_type, aggregate_id, version, event_type, \
                       tenant_id, actor, correlation_id, recorded_at";

impl AuditLog {
    /// The live audit log in `database`.
    pub fn new(database: Database) -> Self {
        Self::at(database, live_audit_log())
    }

    /// An audit log in `target` (the live one, or a rebuild's shadow).
    pub fn at(database: Database, target: ReadModelTarget) -> Self {
        Self {
            store: ReadModelStore::new(database, target),
        }
    }

    /// Where this audit log writes.
    pub fn target(&self) -> &ReadModelTarget {
        self.store.target()
    }

    /// Records `entries` and moves the checkpoint from `from` to `to`, in one
    /// transaction; entries already recorded are left as they are. Refuses with
    /// [`ReadModelError::CheckpointMoved`] if the checkpoint is not at `from`.
    pub async fn record(
        &self,
        entries: &[AuditEntry],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError> {
        let table = self.store.table();
        self.store
            .write(
                from,
                to,
                async |tx| {
                    // One statement for the whole batch: rows travel as arrays.
                    sqlx::query(&format!(
                        "INSERT INTO {table} ({COLUMNS}) \
                         SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::text[], \
                         $5::bigint[], $6::text[], $7::text[], $8::text[], $9::uuid[], $10::timestamptz[]) \
                         ON CONFLICT (position) DO NOTHING"
                    ))
                    .bind(entries.iter().map(|e| to_i64(e.position)).collect::<Vec<_>>())
                    .bind(entries.iter().map(|e| e.event_id).collect::<Vec<_>>())
                    .bind(entries.iter().map(|e| e.aggregate_type.as_str()).collect::<Vec<_>>())
                    .bind(entries.iter().map(|e| e.aggregate_id.as_str()).collect::<Vec<_>>())
                    .bind(entries.iter().map(|e| to_i64(e.version)).collect::<Vec<_>>())
                    .bind(entries.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
                    .bind(entries.iter().map(|e| e.tenant_id.as_str()).collect::<Vec<_>>())
                    .bind(entries.iter().map(|e| e.actor.as_deref()).collect::<Vec<_>>())
                    .bind(entries.iter().map(|e| e.correlation_id).collect::<Vec<_>>())
                    .bind(entries.iter().map(|e| e.recorded_at).collect::<Vec<_>>())
                    .execute(&mut *tx)
                    .await?;
                    Ok(())
                },
                async |tx| {
                    let insert = format!(
                        "INSERT INTO {table} ({COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (position) DO NOTHING"
                    );
                    for e in entries {
                        sqlx::query(&insert)
                            .bind(to_i64(e.position))
                            .bind(e.event_id.to_string())
                            .bind(&e.aggregate_type)
                            .bind(&e.aggregate_id)
                            .bind(to_i64(e.version))
                            .bind(&e.event_type)
                            .bind(&e.tenant_id)
                            .bind(&e.actor)
                            .bind(e.correlation_id.map(|id| id.to_string()))
                            .bind(e.recorded_at)
                            .execute(&mut *tx)
                            .await?;
                    }
                    Ok(())
                },
            )
            .await
    }

    /// The position of the last event this audit log reflects.
    pub async fn checkpoint(&self) -> Result<Position, ReadModelError> {
        self.store.checkpoint().await
    }

    /// One page of entries matching `query`, in position order.
    pub async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, ReadModelError> {
        let select = format!("SELECT {COLUMNS} FROM {}", self.store.table());
        let tenants = query.scope.as_ref().map(TenantScope::binds);
        self.store
            .read(
                async |pool| {
                    let rows = sqlx::query(&format!(
                        "{select} WHERE ($1::text IS NULL OR aggregate_type = $1) \
                         AND ($2::text IS NULL OR aggregate_id = $2) \
                         AND ($3::text IS NULL OR actor = $3) \
                         AND ($4::timestamptz IS NULL OR recorded_at >= $4) \
                         AND ($5::timestamptz IS NULL OR recorded_at < $5) \
                         AND ($8::text IS NULL OR tenant_id IN ($8, $9)) \
                         AND position > $6 ORDER BY position LIMIT $7"
                    ))
                    .bind(query.aggregate_type.as_deref())
                    .bind(query.aggregate_id.as_deref())
                    .bind(query.actor.as_deref())
                    .bind(query.from)
                    .bind(query.to)
                    .bind(to_i64(query.after))
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
                        "{select} WHERE (?1 IS NULL OR aggregate_type = ?1) \
                         AND (?2 IS NULL OR aggregate_id = ?2) \
                         AND (?3 IS NULL OR actor = ?3) \
                         AND (?4 IS NULL OR julianday(recorded_at) >= julianday(?4)) \
                         AND (?5 IS NULL OR julianday(recorded_at) < julianday(?5)) \
                         AND (?8 IS NULL OR tenant_id IN (?8, ?9)) \
                         AND position > ?6 ORDER BY position LIMIT ?7"
                    ))
                    .bind(query.aggregate_type.as_deref())
                    .bind(query.aggregate_id.as_deref())
                    .bind(query.actor.as_deref())
                    .bind(query.from)
                    .bind(query.to)
                    .bind(to_i64(query.after))
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

fn decode_postgres(row: &PgRow) -> Result<AuditEntry, ReadModelError> {
    Ok(AuditEntry {
        position: unsigned(row.try_get("position")?),
        event_id: row.try_get("event_id")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        version: unsigned(row.try_get("version")?),
        event_type: row.try_get("event_type")?,
        tenant_id: row.try_get("tenant_id")?,
        actor: row.try_get("actor")?,
        correlation_id: row.try_get("correlation_id")?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

fn decode_sqlite(row: &SqliteRow) -> Result<AuditEntry, ReadModelError> {
    let correlation_id: Option<&str> = row.try_get("correlation_id")?;
    Ok(AuditEntry {
        position: unsigned(row.try_get("position")?),
        event_id: uuid_text("event_id", row.try_get("event_id")?)?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        version: unsigned(row.try_get("version")?),
        event_type: row.try_get("event_type")?,
        tenant_id: row.try_get("tenant_id")?,
        actor: row.try_get("actor")?,
        correlation_id: correlation_id
            .map(|text| uuid_text("correlation_id", text))
            .transpose()?,
        recorded_at: row.try_get("recorded_at")?,
    })
}
