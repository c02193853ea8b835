//! Upcasters turn an old payload schema into the current one as events are read,
//! so history is never rewritten and aggregates only know the newest shape.
//! Each upcaster lifts one event type from version `n` to `n + 1`; they chain.

use std::{collections::HashMap, sync::Arc};

use serde_json::Value;

use super::{EventStoreError, RecordedEvent};

type UpcastFn = Arc<dyn Fn(Value) -> Result<Value, String> + Send + Sync>;

/// The registered upcasters, keyed by (event type, schema version they read).
#[derive(Clone, Default)]
pub struct Upcasters {
    steps: HashMap<(String, u32), UpcastFn>,
}

impl std::fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upcasters")
            .field("steps", &self.steps.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Upcasters {
    /// Registers a step that turns `event_type` payloads at `from_version` into
    /// `from_version + 1`.
    pub fn register(
        mut self,
        event_type: impl Into<String>,
        from_version: u32,
        step: impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Self {
        self.steps
            .insert((event_type.into(), from_version), Arc::new(step));
        self
    }

    /// Lifts `event` through every registered step that applies to it.
    pub fn upcast(&self, event: &mut RecordedEvent) -> Result<(), EventStoreError> {
        while let Some(step) = self
            .steps
            .get(&(event.event_type.clone(), event.schema_version))
        {
            let payload = std::mem::take(&mut event.payload);
            event.payload = step(payload).map_err(|reason| EventStoreError::Upcast {
                position: event.position,
                event_type: event.event_type.clone(),
                reason,
            })?;
            event.schema_version += 1;
        }
        Ok(())
    }
}
