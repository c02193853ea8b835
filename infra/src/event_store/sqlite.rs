//! The embedded SQLite event store: FlowForge's zero-setup default.
//!
//! All appends go through one dedicated write connection, so SQLite's single
//! writer is never contended inside the process and positions, assigned as
//! `MAX(global_position) + 1` inside the write transaction, are gap-free and
//! committed in order. Appends are group-committed (see `group_commit.rs`).
//! Reads use a separate pool; WAL mode keeps them from blocking the writer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{sqlite::SqliteRow, types::Json, Row, SqlitePool};
use std::collections::HashMap;

use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use super::{
    check_import_order,
    group_commit::{plan_group, streams_of, Appender, GroupCommit, PendingAppend},
    raise_head,
    upcasting::Upcasters,
    AppendOutcome, EventMetadata, EventStore, EventStoreError, ExpectedVersion, NewEvent, Position,
    RecordedEvent, StreamAppended, StreamId, STREAM_NOTICES,
};

/// [`EventStore`] on an embedded SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteEventStore {
    writer: SqlitePool,
    reader: SqlitePool,
    upcasters: Upcasters,
    appended: watch::Sender<Position>,
    streams: broadcast::Sender<StreamAppended>,
    appender: Appender,
}

/// Writes groups of appends through the single writer connection.
struct SqliteGroupCommit {
    writer: SqlitePool,
}

#[async_trait]
impl GroupCommit for SqliteGroupCommit {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    /// Reads the head and the group's stream versions, then writes the plan
    /// ([`plan_group`]) with one insert per event.
    async fn commit_group(
        &self,
        group: &mut [PendingAppend],
    ) -> Result<Vec<Result<AppendOutcome, EventStoreError>>, EventStoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(global_position), 0) FROM events")
            .fetch_one(&mut *tx)
            .await?;
        let mut versions = HashMap::new();
        for stream in streams_of(group) {
            let version: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) FROM events WHERE aggregate_type = ?1 AND aggregate_id = ?2",
            )
            .bind(stream.aggregate_type())
            .bind(stream.aggregate_id())
            .fetch_one(&mut *tx)
            .await?;
            versions.insert(stream.clone(), version);
        }
        let plan = plan_group(group, head, versions);
        let recorded_at = Utc::now();
        for planned in plan.events {
            sqlx::query(
                "INSERT INTO events (global_position, event_id, aggregate_type, aggregate_id, version, \
                 event_type, schema_version, payload, metadata, recorded_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .bind(planned.position)
            .bind(planned.event.event_id.to_string())
            .bind(planned.stream.aggregate_type())
            .bind(planned.stream.aggregate_id())
            .bind(planned.version)
            .bind(&planned.event.event_type)
            .bind(i64::from(planned.event.schema_version))
            .bind(Json(&planned.event.payload))
            .bind(Json(&planned.event.metadata))
            .bind(recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(plan.outcomes)
    }
}

impl SqliteEventStore {
    /// Wraps the single-connection `writer` pool and a `reader` pool on the same file.
    pub fn new(writer: SqlitePool, reader: SqlitePool, upcasters: Upcasters) -> Self {
        let (appended, _) = watch::channel(0);
        let (streams, _) = broadcast::channel(STREAM_NOTICES);
        Self {
            writer,
            reader,
            upcasters,
            appender: Appender::new(appended.clone(), streams.clone()),
            appended,
            streams,
        }
    }

    fn decode(&self, row: &SqliteRow) -> Result<RecordedEvent, EventStoreError> {
        let position: i64 = row.try_get("global_position")?;
        let position = position.max(0) as u64;
        let corrupt = |reason: String| EventStoreError::Corrupt { position, reason };
        let event_id: String = row.try_get("event_id")?;
        let stream = StreamId::new(
            row.try_get::<String, _>("aggregate_type")?,
            row.try_get::<String, _>("aggregate_id")?,
        )
        .map_err(|e| corrupt(e.to_string()))?;
        let Json(metadata): Json<EventMetadata> = row
            .try_get("metadata")
            .map_err(|e| corrupt(format!("metadata: {e}")))?;
        let mut event = RecordedEvent {
            event_id: Uuid::parse_str(&event_id).map_err(|e| corrupt(format!("event_id: {e}")))?,
            position,
            stream,
            version: row.try_get::<i64, _>("version")?.max(0) as u64,
            event_type: row.try_get("event_type")?,
            schema_version: row
                .try_get::<i64, _>("schema_version")?
                .clamp(1, u32::MAX.into()) as u32,
            payload: row.try_get::<Json<Value>, _>("payload")?.0,
            metadata,
            recorded_at: row.try_get::<DateTime<Utc>, _>("recorded_at")?,
        };
        self.upcasters.upcast(&mut event)?;
        Ok(event)
    }
}

const SELECT_EVENT: &str =
    "SELECT global_position, event_id, aggregate_type, aggregate_id, version, \
     event_type, schema_version, payload, metadata, recorded_at FROM events";

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, EventStoreError> {
        let writer = self.writer.clone();
        self.appender
            .append(|| SqliteGroupCommit { writer }, stream, expected, events)
            .await
    }

    async fn import(&self, events: Vec<RecordedEvent>) -> Result<(), EventStoreError> {
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(());
        };
        let mut conn = self.writer.acquire().await?;
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(global_position), 0) FROM events")
            .fetch_one(&mut *tx)
            .await?;
        check_import_order(&events, head.max(0) as u64)?;
        for event in &events {
            sqlx::query(
                "INSERT INTO events (global_position, event_id, aggregate_type, aggregate_id, version, \
                 event_type, schema_version, payload, metadata, recorded_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .bind(i64::try_from(event.position).unwrap_or(i64::MAX))
            .bind(event.event_id.to_string())
            .bind(event.stream.aggregate_type())
            .bind(event.stream.aggregate_id())
            .bind(i64::try_from(event.version).unwrap_or(i64::MAX))
            .bind(&event.event_type)
            .bind(i64::from(event.schema_version))
            .bind(Json(&event.payload))
            .bind(Json(&event.metadata))
            .bind(event.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
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
            "{SELECT_EVENT} WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND version > ?3 ORDER BY version"
        ))
        .bind(stream.aggregate_type())
        .bind(stream.aggregate_id())
        .bind(i64::try_from(after_version).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|row| self.decode(row)).collect()
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, EventStoreError> {
        let rows = sqlx::query(&format!(
            "{SELECT_EVENT} WHERE global_position > ?1 ORDER BY global_position LIMIT ?2"
        ))
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|row| self.decode(row)).collect()
    }

    async fn head(&self) -> Result<Position, EventStoreError> {
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(global_position), 0) FROM events")
            .fetch_one(&self.reader)
            .await?;
        Ok(head.max(0) as u64)
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<u64, EventStoreError> {
        let version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM events WHERE aggregate_type = ?1 AND aggregate_id = ?2",
        )
        .bind(stream.aggregate_type())
        .bind(stream.aggregate_id())
        .fetch_one(&self.reader)
        .await?;
        Ok(version.max(0) as u64)
    }

    fn appended(&self) -> watch::Receiver<Position> {
        self.appended.subscribe()
    }

    fn stream_appends(&self) -> broadcast::Receiver<StreamAppended> {
        self.streams.subscribe()
    }
}
