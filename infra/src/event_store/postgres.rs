//! The PostgreSQL event store, for production and for several instances sharing
//! one database.
//!
//! An append takes the row lock on `event_store_head` first, then checks the
//! stream version, inserts and commits. The lock serialises appends, so positions
//! are gap-free (a rolled-back append returns its positions with the rollback) and
//! become visible strictly in order: PostgreSQL makes a commit visible before it
//! releases the transaction's locks, so the next writer's positions can only be
//! seen after the previous writer's are. Catch-up readers therefore never skip a
//! late commit. The cost is one commit at a time (see docs/adr/0002), which
//! group commit (`group_commit.rs`) spreads over every append waiting in this
//! process.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{
    postgres::{PgListener, PgRow},
    types::Json,
    PgPool, Row,
};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{
    check_import_order,
    group_commit::{plan_group, streams_of, Appender, GroupCommit, PendingAppend},
    raise_head,
    upcasting::Upcasters,
    AppendOutcome, EventMetadata, EventStore, EventStoreError, ExpectedVersion, NewEvent, Position,
    RecordedEvent, StreamAppended, StreamId, STREAM_NOTICES,
};
use crate::database::to_i64;

/// The channel a commit's new head is announced on (see migration 0006).
const APPENDED_CHANNEL: &str = "flowforge_appended";
/// The pause before listening again after the connection failed.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// Writes groups of appends in one transaction under the head row lock.
struct PostgresGroupCommit {
    pool: PgPool,
}

#[async_trait]
impl GroupCommit for PostgresGroupCommit {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    /// Takes the head lock, reads the group's stream versions, writes the plan
    /// ([`plan_group`]) with one statement and moves the head past it.
    async fn commit_group(
        &self,
        group: &mut [PendingAppend],
    ) -> Result<Vec<Result<AppendOutcome, EventStoreError>>, EventStoreError> {
        let mut tx = self.pool.begin().await?;
        let head: i64 = sqlx::query_scalar("SELECT position FROM event_store_head FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
        let mut versions = HashMap::new();
        for stream in streams_of(group) {
            let version: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
            )
            .bind(stream.aggregate_type())
            .bind(stream.aggregate_id())
            .fetch_one(&mut *tx)
            .await?;
            versions.insert(stream.clone(), version);
        }
        let plan = plan_group(group, head, versions);
        if !plan.events.is_empty() {
            let mut rows = Rows::default();
            for planned in plan.events {
                rows.push(
                    planned.stream,
                    planned.position,
                    planned.version,
                    planned.event,
                );
            }
            rows.insert(&mut tx).await?;
            sqlx::query("UPDATE event_store_head SET position = $1")
                .bind(plan.head)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(plan.outcomes)
    }
}

/// The columns of the events a group inserts, for one `INSERT … UNNEST`.
#[derive(Default)]
struct Rows {
    positions: Vec<i64>,
    ids: Vec<uuid::Uuid>,
    aggregate_types: Vec<String>,
    aggregate_ids: Vec<String>,
    versions: Vec<i64>,
    types: Vec<String>,
    schemas: Vec<i32>,
    payloads: Vec<Json<Value>>,
    metadata: Vec<Json<Value>>,
}

impl Rows {
    fn push(&mut self, stream: &StreamId, position: i64, version: i64, event: NewEvent) {
        self.positions.push(position);
        self.ids.push(event.event_id);
        self.aggregate_types
            .push(stream.aggregate_type().to_owned());
        self.aggregate_ids.push(stream.aggregate_id().to_owned());
        self.versions.push(version);
        self.types.push(event.event_type);
        self.schemas
            .push(i32::try_from(event.schema_version).unwrap_or(i32::MAX));
        self.payloads.push(Json(event.payload));
        self.metadata.push(Json(
            serde_json::to_value(&event.metadata).unwrap_or(Value::Null),
        ));
    }

    async fn insert(
        self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ) -> Result<(), EventStoreError> {
        sqlx::query(
            "INSERT INTO events (global_position, event_id, aggregate_type, aggregate_id, version, \
             event_type, schema_version, payload, metadata) \
             SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], \
             $6::text[], $7::int[], $8::jsonb[], $9::jsonb[])",
        )
        .bind(self.positions)
        .bind(self.ids)
        .bind(self.aggregate_types)
        .bind(self.aggregate_ids)
        .bind(self.versions)
        .bind(self.types)
        .bind(self.schemas)
        .bind(self.payloads)
        .bind(self.metadata)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// [`EventStore`] on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresEventStore {
    pool: PgPool,
    upcasters: Upcasters,
    appended: watch::Sender<Position>,
    streams: broadcast::Sender<StreamAppended>,
    appender: Appender,
}

impl PostgresEventStore {
    /// Wraps a pool whose database has the FlowForge schema (see `database::migrate`).
    pub fn new(pool: PgPool, upcasters: Upcasters) -> Self {
        let (appended, _) = watch::channel(0);
        let (streams, _) = broadcast::channel(STREAM_NOTICES);
        Self {
            pool,
            upcasters,
            appender: Appender::new(appended.clone(), streams.clone()),
            appended,
            streams,
        }
    }

    /// Raises the `appended` watch on every head notification; returns only
    /// when listening fails. After (re)connecting it reads the head, as
    /// notifications sent while it was away are lost.
    async fn listen_for_appends(&self) -> sqlx::Error {
        let mut listener = match PgListener::connect_with(&self.pool).await {
            Ok(listener) => listener,
            Err(error) => return error,
        };
        if let Err(error) = listener.listen(APPENDED_CHANNEL).await {
            return error;
        }
        self.raise_to_head().await;
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Ok(head) = notification.payload().parse::<Position>() {
                        self.appended.send_if_modified(|h| raise_head(h, head));
                    }
                }
                Ok(None) => self.raise_to_head().await,
                Err(error) => return error,
            }
        }
    }

    async fn raise_to_head(&self) {
        if let Ok(head) = self.head().await {
            self.appended.send_if_modified(|h| raise_head(h, head));
        }
    }

    fn decode(&self, row: &PgRow) -> Result<RecordedEvent, EventStoreError> {
        let position: i64 = row.try_get("global_position")?;
        let position = to_u64(0, position, "global_position")?;
        let version: i64 = row.try_get("version")?;
        let schema_version: i32 = row.try_get("schema_version")?;
        let Json(metadata): Json<EventMetadata> =
            row.try_get("metadata")
                .map_err(|e| EventStoreError::Corrupt {
                    position,
                    reason: format!("metadata: {e}"),
                })?;
        let stream = StreamId::new(
            row.try_get::<String, _>("aggregate_type")?,
            row.try_get::<String, _>("aggregate_id")?,
        )
        .map_err(|e| EventStoreError::Corrupt {
            position,
            reason: e.to_string(),
        })?;
        let mut event = RecordedEvent {
            event_id: row.try_get("event_id")?,
            position,
            stream,
            version: to_u64(position, version, "version")?,
            event_type: row.try_get("event_type")?,
            schema_version: u32::try_from(schema_version).map_err(|_| {
                EventStoreError::Corrupt {
                    position,
                    reason: format!("schema_version {schema_version}"),
                }
            })?,
            payload: row.try_get::<Json<Value>, _>("payload")?.0,
            metadata,
            recorded_at: row.try_get::<DateTime<Utc>, _>("recorded_at")?,
        };
        self.upcasters.upcast(&mut event)?;
        Ok(event)
    }
}

fn to_u64(position: Position, value: i64, column: &str) -> Result<u64, EventStoreError> {
    u64::try_from(value).map_err(|_| EventStoreError::Corrupt {
        position,
        reason: format!("negative {column} {value}"),
    })
}

const SELECT_EVENT: &str =
    "SELECT global_position, event_id, aggregate_type, aggregate_id, version, \
     event_type, schema_version, payload, metadata, recorded_at FROM events";

#[async_trait]
impl EventStore for PostgresEventStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, EventStoreError> {
        let pool = self.pool.clone();
        self.appender
            .append(|| PostgresGroupCommit { pool }, stream, expected, events)
            .await
    }

    async fn import(&self, events: Vec<RecordedEvent>) -> Result<(), EventStoreError> {
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(());
        };
        let mut tx = self.pool.begin().await?;
        let head: i64 = sqlx::query_scalar("SELECT position FROM event_store_head FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
        check_import_order(&events, head.max(0) as u64)?;
        let mut positions = Vec::with_capacity(events.len());
        let mut ids = Vec::with_capacity(events.len());
        let mut types = Vec::with_capacity(events.len());
        let mut aggregate_ids = Vec::with_capacity(events.len());
        let mut versions = Vec::with_capacity(events.len());
        let mut event_types = Vec::with_capacity(events.len());
        let mut schemas = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        let mut metadata = Vec::with_capacity(events.len());
        let mut times = Vec::with_capacity(events.len());
        for event in events {
            positions.push(to_i64(event.position));
            ids.push(event.event_id);
            types.push(event.stream.aggregate_type().to_owned());
            aggregate_ids.push(event.stream.aggregate_id().to_owned());
            versions.push(to_i64(event.version));
            event_types.push(event.event_type);
            schemas.push(i32::try_from(event.schema_version).unwrap_or(i32::MAX));
            payloads.push(Json(event.payload));
            metadata.push(Json(
                serde_json::to_value(&event.metadata).unwrap_or(Value::Null),
            ));
            times.push(event.recorded_at);
        }
        sqlx::query(
            "INSERT INTO events (global_position, event_id, aggregate_type, aggregate_id, version, \
             event_type, schema_version, payload, metadata, recorded_at) \
             SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], \
             $6::text[], $7::int[], $8::jsonb[], $9::jsonb[], $10::timestamptz[])",
        )
        .bind(&positions)
        .bind(&ids)
        .bind(&types)
        .bind(&aggregate_ids)
        .bind(&versions)
        .bind(&event_types)
        .bind(&schemas)
        .bind(&payloads)
        .bind(&metadata)
        .bind(&times)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE event_store_head SET position = $1")
            .bind(to_i64(last))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.appended.send_if_modified(|h| raise_head(h, last));
        Ok(())
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, EventStoreError> {
        let rows = sqlx::query(&format!(
            "{SELECT_EVENT} WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3 ORDER BY version"
        ))
        .bind(stream.aggregate_type())
        .bind(stream.aggregate_id())
        .bind(to_i64(after_version))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| self.decode(row)).collect()
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, EventStoreError> {
        let rows = sqlx::query(&format!(
            "{SELECT_EVENT} WHERE global_position > $1 ORDER BY global_position LIMIT $2"
        ))
        .bind(to_i64(after))
        .bind(to_i64(limit as u64))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| self.decode(row)).collect()
    }

    async fn head(&self) -> Result<Position, EventStoreError> {
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(global_position), 0) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(head.max(0) as u64)
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<u64, EventStoreError> {
        let version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(stream.aggregate_type())
        .bind(stream.aggregate_id())
        .fetch_one(&self.pool)
        .await?;
        Ok(version.max(0) as u64)
    }

    fn appended(&self) -> watch::Receiver<Position> {
        self.appended.subscribe()
    }

    async fn follow_other_writers(&self, shutdown: CancellationToken) {
        loop {
            let failed = tokio::select! {
                () = shutdown.cancelled() => return,
                failed = self.listen_for_appends() => failed,
            };
            warn!(error = %failed, "cannot listen for other instances' appends; retrying");
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(LISTEN_RETRY) => {}
            }
        }
    }

    fn stream_appends(&self) -> broadcast::Receiver<StreamAppended> {
        self.streams.subscribe()
    }
}
