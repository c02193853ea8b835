//! The values that cross the event-store seam: stream ids, events to append,
//! recorded events and their metadata.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A position in the global log. Positions start at 1 and have no gaps.
pub type Position = u64;

/// The tenant every event belongs to until authentication lands.
pub const DEFAULT_TENANT: &str = "default";

/// Names one aggregate's stream: its type (`workflow`) and id.
///
/// Both parts become NATS subject tokens (`flowforge.events.<tenant>.<type>.<id>`), so they
/// may not contain `.`, `*`, `>` or whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamId {
    aggregate_type: String,
    aggregate_id: String,
}

/// Why a stream id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream {what} {value:?}: use 1-128 characters of a-z, A-Z, 0-9, '-' and '_'")]
pub struct StreamIdError {
    what: &'static str,
    value: String,
}

impl StreamId {
    /// Builds a stream id, checking both parts are safe subject tokens.
    pub fn new(
        aggregate_type: impl Into<String>,
        aggregate_id: impl Into<String>,
    ) -> Result<Self, StreamIdError> {
        let aggregate_type = aggregate_type.into();
        let aggregate_id = aggregate_id.into();
        check_token("aggregate type", &aggregate_type)?;
        check_token("aggregate id", &aggregate_id)?;
        Ok(Self {
            aggregate_type,
            aggregate_id,
        })
    }

    /// The aggregate type, e.g. `workflow`.
    pub fn aggregate_type(&self) -> &str {
        &self.aggregate_type
    }

    /// The aggregate's id within its type.
    pub fn aggregate_id(&self) -> &str {
        &self.aggregate_id
    }
}

fn check_token(what: &'static str, value: &str) -> Result<(), StreamIdError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StreamIdError {
            what,
            value: value.to_owned(),
        })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.aggregate_type, self.aggregate_id)
    }
}

/// What the caller believes the stream's version is before its append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the version (no concurrency check).
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` satisfies this expectation.
    pub fn matches(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(v) => v == actual,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// Who caused an event and in which context; stored beside every event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// The tenant that owns the event.
    pub tenant_id: String,
    /// Who asked for the change (a user, `system`, or a process manager's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Ties together everything that one request set off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The command or event that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// The W3C trace context of the request that caused the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl Default for EventMetadata {
    fn default() -> Self {
        Self {
            tenant_id: DEFAULT_TENANT.to_owned(),
            actor: None,
            correlation_id: None,
            causation_id: None,
            traceparent: None,
        }
    }
}

/// The name a command records for whoever caused it when no actor is known.
pub const ANONYMOUS_ACTOR: &str = "anonymous";

impl EventMetadata {
    /// The actor to record in a command that names who acted (a cancel, a
    /// resumption, an operator's saga control): the known one, or
    /// [`ANONYMOUS_ACTOR`].
    pub fn actor_or_anonymous(&self) -> String {
        self.actor
            .clone()
            .unwrap_or_else(|| ANONYMOUS_ACTOR.to_owned())
    }
}

/// An event about to be appended.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique forever; also the NATS de-duplication id.
    pub event_id: Uuid,
    /// The stored type name, e.g. `WorkflowActivated`.
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// The event's data.
    pub payload: Value,
    /// Context: tenant, actor, correlation, causation, trace.
    pub metadata: EventMetadata,
}

impl NewEvent {
    /// An event with a fresh time-ordered id (UUIDv7).
    pub fn new(
        event_type: impl Into<String>,
        schema_version: u32,
        payload: Value,
        metadata: EventMetadata,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version,
            payload,
            metadata,
        }
    }
}

/// An event as the store recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Unique forever.
    pub event_id: Uuid,
    /// Its place in the global log.
    pub position: Position,
    /// The stream it belongs to.
    pub stream: StreamId,
    /// Its version within the stream (1 for the first).
    pub version: u64,
    /// The stored type name.
    pub event_type: String,
    /// The schema version of `payload` (after upcasting).
    pub schema_version: u32,
    /// The event's data (after upcasting).
    pub payload: Value,
    /// Context: tenant, actor, correlation, causation, trace.
    pub metadata: EventMetadata,
    /// When the store committed it.
    pub recorded_at: DateTime<Utc>,
}

/// What an append produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    /// Position of the first appended event.
    pub first_position: Position,
    /// Position of the last appended event; a read model at this position shows the change.
    pub last_position: Position,
    /// The stream's version after the append.
    pub stream_version: u64,
}
