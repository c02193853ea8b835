//! The two-function shape every aggregate has: `handle` decides which events a
//! command produces, `apply` folds an event into state. Neither does I/O, so the
//! command layer can load, decide and append, and a replay reaches the same state.
//!
//! Events cross the store as `(event_type, schema_version, payload)`; the codec here
//! turns an event enum (serde adjacently tagged as `{"type", "data"}`) into that
//! triple and back, so no aggregate writes its own (de)serialisation glue.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

/// A fact an aggregate recorded. Implemented by each aggregate's event enum, which
/// must serialise with `#[serde(tag = "type", content = "data")]`.
pub trait DomainEvent:
    Serialize + DeserializeOwned + Clone + PartialEq + std::fmt::Debug + Send + Sync
{
    /// The stored event type name, e.g. `WorkflowActivated`: past tense, stable forever.
    fn event_type(&self) -> &'static str;

    /// The payload's schema version; bump it (and register an upcaster) when the
    /// shape of an event changes. History is never edited.
    fn schema_version(&self) -> u32 {
        1
    }
}

/// A consistency boundary: decides on commands against the state its own events built.
/// `Clone` lets the command layer keep a recently used state and bring it up
/// to date with the events appended since, instead of replaying the stream.
pub trait Aggregate: Default + Clone + Send + Sync + 'static {
    /// The aggregate type as it appears in stream names and NATS subjects (`workflow`).
    const TYPE: &'static str;
    /// What a caller asks this aggregate to do.
    type Command;
    /// What this aggregate records.
    type Event: DomainEvent;
    /// Why a command was refused.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Decides: the events this command produces, or why it is refused. No I/O, no mutation.
    fn handle(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Remembers: folds one event into the state. Never fails, never decides.
    fn apply(&mut self, event: Self::Event);

    /// Rebuilds state from a history, oldest event first.
    fn from_events(events: impl IntoIterator<Item = Self::Event>) -> Self {
        let mut state = Self::default();
        for event in events {
            state.apply(event);
        }
        state
    }
}

/// Why a stored payload could not become (or be made from) a domain event.
#[derive(Debug, thiserror::Error)]
pub enum EventCodecError {
    /// The event did not serialise as `{"type": .., "data": ..}`.
    #[error("event of type {event_type} is not adjacently tagged as {{\"type\", \"data\"}}")]
    NotAdjacentlyTagged {
        /// The event type that had the wrong shape.
        event_type: String,
    },
    /// The payload does not match the event type's current schema.
    #[error("cannot decode event {event_type}: {source}")]
    Payload {
        /// The stored event type.
        event_type: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
}

/// Splits an event into the `(event_type, schema_version, payload)` the store keeps.
pub fn encode_event<E: DomainEvent>(
    event: &E,
) -> Result<(&'static str, u32, Value), EventCodecError> {
    let event_type = event.event_type();
    let tagged = serde_json::to_value(event).map_err(|source| EventCodecError::Payload {
        event_type: event_type.to_owned(),
        source,
    })?;
    let payload = match tagged {
        Value::Object(mut map) => map.remove("data").unwrap_or(Value::Null),
        _ => {
            return Err(EventCodecError::NotAdjacentlyTagged {
                event_type: event_type.to_owned(),
            })
        }
    };
    Ok((event_type, event.schema_version(), payload))
}

/// Rebuilds an event from its stored type and (already upcast) payload.
pub fn decode_event<E: DomainEvent>(
    event_type: &str,
    payload: &Value,
) -> Result<E, EventCodecError> {
    let mut tagged = serde_json::Map::new();
    tagged.insert("type".into(), Value::String(event_type.to_owned()));
    if !payload.is_null() {
        tagged.insert("data".into(), payload.clone());
    }
    serde_json::from_value(Value::Object(tagged)).map_err(|source| EventCodecError::Payload {
        event_type: event_type.to_owned(),
        source,
    })
}
