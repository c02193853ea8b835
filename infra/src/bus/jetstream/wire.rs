//! The wire format on NATS: each event is a CloudEvents 1.0 JSON envelope
//! (structured mode), so any subscriber can read it without FlowForge's code.
//! FlowForge's own fields travel as CloudEvents extension attributes; the W3C
//! trace context uses the Distributed Tracing extension's `traceparent`.
//! Headers repeat what routers and dashboards need without parsing the body.

use async_nats::HeaderMap;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::event_store::{EventMetadata, RecordedEvent, StreamId, DEFAULT_TENANT};

/// The `source` attribute of every FlowForge event.
pub const SOURCE: &str = "flowforge";
/// The default subject prefix; subjects are
/// `flowforge.events.<tenant>.<aggregate_type>.<aggregate_id>`.
pub const SUBJECT_PREFIX: &str = "flowforge.events";
/// Header carrying the event type.
pub const HEADER_EVENT_TYPE: &str = "FlowForge-Event-Type";
/// Header carrying the global position.
pub const HEADER_POSITION: &str = "FlowForge-Position";
/// Header carrying the payload's schema version.
pub const HEADER_SCHEMA_VERSION: &str = "FlowForge-Schema-Version";
/// Header carrying the W3C trace context.
pub const HEADER_TRACEPARENT: &str = "traceparent";

/// A FlowForge event as a CloudEvents 1.0 JSON document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    /// Always `1.0`.
    pub specversion: String,
    /// The event id (also the JetStream de-duplication id).
    pub id: Uuid,
    /// Always `flowforge`.
    pub source: String,
    /// The event type, e.g. `WorkflowActivated`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `<aggregate_type>/<aggregate_id>`.
    pub subject: String,
    /// When the store committed it.
    pub time: DateTime<Utc>,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// The event's payload.
    pub data: Value,
    /// Extension: the global log position.
    pub position: u64,
    /// Extension: the version within its stream.
    pub streamversion: u64,
    /// Extension: the aggregate type.
    pub aggregatetype: String,
    /// Extension: the aggregate id.
    pub aggregateid: String,
    /// Extension: the payload's schema version.
    pub schemaversion: u32,
    /// Extension: the owning tenant.
    pub tenantid: String,
    /// Extension: who caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Extension: the correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlationid: Option<Uuid>,
    /// Extension: the causation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causationid: Option<Uuid>,
    /// Distributed Tracing extension: the W3C trace context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// Why a NATS message is not a FlowForge event.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The body is not a CloudEvents JSON document of ours.
    #[error("not a FlowForge CloudEvent: {0}")]
    Body(#[from] serde_json::Error),
    /// The envelope names an invalid stream.
    #[error("invalid stream in envelope: {0}")]
    Stream(#[from] crate::event_store::StreamIdError),
}

impl From<&RecordedEvent> for CloudEvent {
    fn from(event: &RecordedEvent) -> Self {
        Self {
            specversion: "1.0".to_owned(),
            id: event.event_id,
            source: SOURCE.to_owned(),
            event_type: event.event_type.clone(),
            subject: event.stream.to_string(),
            time: event.recorded_at,
            datacontenttype: "application/json".to_owned(),
            data: event.payload.clone(),
            position: event.position,
            streamversion: event.version,
            aggregatetype: event.stream.aggregate_type().to_owned(),
            aggregateid: event.stream.aggregate_id().to_owned(),
            schemaversion: event.schema_version,
            tenantid: event.metadata.tenant_id.clone(),
            actor: event.metadata.actor.clone(),
            correlationid: event.metadata.correlation_id,
            causationid: event.metadata.causation_id,
            traceparent: event.metadata.traceparent.clone(),
        }
    }
}

impl CloudEvent {
    /// Back to the event the store recorded.
    pub fn into_recorded(self) -> Result<RecordedEvent, WireError> {
        Ok(RecordedEvent {
            event_id: self.id,
            position: self.position,
            stream: StreamId::new(self.aggregatetype, self.aggregateid)?,
            version: self.streamversion,
            event_type: self.event_type,
            schema_version: self.schemaversion,
            payload: self.data,
            metadata: EventMetadata {
                tenant_id: if self.tenantid.is_empty() {
                    DEFAULT_TENANT.to_owned()
                } else {
                    self.tenantid
                },
                actor: self.actor,
                correlation_id: self.correlationid,
                causation_id: self.causationid,
                traceparent: self.traceparent,
            },
            recorded_at: self.time,
        })
    }
}

/// The body and headers of the NATS message for `event`.
pub fn encode(event: &RecordedEvent) -> (Vec<u8>, HeaderMap) {
    let body = serde_json::to_vec(&CloudEvent::from(event)).unwrap_or_default();
    let mut headers = HeaderMap::new();
    headers.insert("Content-Type", "application/cloudevents+json");
    headers.insert(HEADER_EVENT_TYPE, event.event_type.as_str());
    headers.insert(HEADER_POSITION, event.position.to_string().as_str());
    headers.insert(
        HEADER_SCHEMA_VERSION,
        event.schema_version.to_string().as_str(),
    );
    if let Some(traceparent) = &event.metadata.traceparent {
        headers.insert(HEADER_TRACEPARENT, traceparent.as_str());
    }
    (body, headers)
}

/// The event in a NATS message body.
pub fn decode(body: &[u8]) -> Result<RecordedEvent, WireError> {
    serde_json::from_slice::<CloudEvent>(body)?.into_recorded()
}
