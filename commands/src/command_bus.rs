//! Load → decide → append, with a retry when another writer got there first.
//!
//! A stream belongs to the tenant (workspace) of its first event for good:
//! whatever tenant a later command's metadata names, its events record the
//! stream's, so a process manager acting on an execution, or an operator
//! acting from anywhere, never moves an aggregate's events to another
//! workspace.
//!
//! A caller that names the version it saw (an HTTP `If-Match`) gets a conflict
//! back when the stream has moved: its decision was made on stale data. A caller
//! that does not gets its command decided again on the fresh state, a few times,
//! since the aggregate may well still accept it.

use std::{sync::Arc, time::Duration};

use flowforge_domain::{decode_event, encode_event, Aggregate, EventCodecError};
use flowforge_infra::event_store::{
    EventMetadata, EventStore, EventStoreError, ExpectedVersion, NewEvent, Position, StreamId,
    StreamIdError,
};
use flowforge_monitoring::trace_context::current_traceparent;
use tracing::{debug, instrument};

use crate::aggregate_cache::{AggregateCache, Snapshot};

/// How often a command without an expected version is decided again after a conflict.
const MAX_ATTEMPTS: u32 = 12;

/// The first pause after a conflict; each further conflict doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(1);

/// The longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// What a handled command left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The stream version after the command (unchanged if it produced no events).
    pub stream_version: u64,
    /// The global position of the last event written (or, if the command produced
    /// none, of the stream's last event): a read model at this position reflects it.
    pub position: Position,
    /// How many events the command recorded.
    pub events_recorded: usize,
}

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error + 'static> {
    /// The aggregate refused the command.
    #[error(transparent)]
    Rejected(E),
    /// The stream is not at the version the caller expected.
    #[error("the aggregate is at version {actual}, not {expected}")]
    Conflict {
        /// What the caller expected.
        expected: ExpectedVersion,
        /// Where the stream is.
        actual: u64,
    },
    /// The aggregate id cannot name a stream.
    #[error(transparent)]
    InvalidId(#[from] StreamIdError),
    /// A stored event does not decode into the aggregate's events.
    #[error(transparent)]
    Codec(#[from] EventCodecError),
    /// The event store failed.
    #[error(transparent)]
    Store(EventStoreError),
}

/// A random pause before deciding again: anywhere up to an exponentially
/// growing ceiling ("full jitter"), so writers racing for the same stream
/// spread out further after every collision instead of colliding in lock
/// step. A linear backoff let one writer lose ten times in a row when four
/// contended on a loaded machine.
fn conflict_backoff(attempt: u32) -> Duration {
    let ceiling = FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let ceiling_us = u64::try_from(ceiling.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    let random = uuid::Uuid::new_v4().as_u64_pair().0;
    Duration::from_micros(random % ceiling_us)
}

/// Runs commands against aggregates stored in the event store.
#[derive(Clone)]
pub struct CommandBus {
    store: Arc<dyn EventStore>,
    /// Recently used aggregates (clones of the bus share it), if any.
    cache: Option<AggregateCache>,
}

impl CommandBus {
    /// A bus appending to `store`, reading each aggregate's whole stream every
    /// time it is loaded.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self { store, cache: None }
    }

    /// A bus appending to `store` that keeps the `capacity` most recently
    /// used aggregates in memory, so loading one again reads only the events
    /// appended since (see [`crate::aggregate_cache`]).
    pub fn with_cache(store: Arc<dyn EventStore>, capacity: usize) -> Self {
        Self {
            store,
            cache: Some(AggregateCache::new(capacity)),
        }
    }

    /// The event store this bus writes to.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The tenant (workspace) aggregate `A` with id `id` belongs to: its
    /// first event's; `None` if the stream has no events.
    ///
    /// # Errors
    /// An invalid id, or what the store fails with.
    pub async fn tenant_of<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<Option<String>, CommandError<A::Error>> {
        let stream = StreamId::new(A::TYPE, id)?;
        Ok(self.load_stream::<A>(&stream).await?.tenant)
    }

    /// Loads aggregate `A` with id `id`, returns its state, stream version
    /// and tenant (see [`tenant_of`](Self::tenant_of)).
    ///
    /// # Errors
    /// An invalid id, an undecodable event, or what the store fails with.
    pub async fn load_with_tenant<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<(A, u64, Option<String>), CommandError<A::Error>> {
        let stream = StreamId::new(A::TYPE, id)?;
        let loaded = self.load_stream::<A>(&stream).await?;
        Ok((loaded.state, loaded.version, loaded.tenant))
    }

    /// Loads aggregate `A` with id `id`, returns its state and stream version.
    pub async fn load<A: Aggregate>(&self, id: &str) -> Result<(A, u64), CommandError<A::Error>> {
        let stream = StreamId::new(A::TYPE, id)?;
        let loaded = self.load_stream::<A>(&stream).await?;
        Ok((loaded.state, loaded.version))
    }

    /// The aggregate as of the stream's last event: the cached state (if
    /// any) brought up to date with the events appended since, or the whole
    /// stream replayed.
    async fn load_stream<A: Aggregate>(
        &self,
        stream: &StreamId,
    ) -> Result<Snapshot<A>, CommandError<A::Error>> {
        let mut loaded = self
            .cache
            .as_ref()
            .and_then(|cache| cache.get::<A>(stream))
            .unwrap_or_else(|| Snapshot {
                state: A::default(),
                version: 0,
                position: 0,
                tenant: None,
            });
        let recorded = self
            .store
            .read_stream(stream, loaded.version)
            .await
            .map_err(CommandError::Store)?;
        let Some(last) = recorded.last() else {
            return Ok(loaded);
        };
        let (version, position) = (last.version, last.position);
        if loaded.tenant.is_none() {
            loaded.tenant = recorded
                .first()
                .filter(|first| first.version == 1)
                .map(|first| first.metadata.tenant_id.clone());
        }
        for event in &recorded {
            loaded
                .state
                .apply(decode_event::<A::Event>(&event.event_type, &event.payload)?);
        }
        loaded.version = version;
        loaded.position = position;
        self.remember(stream, &loaded);
        Ok(loaded)
    }

    /// Caches `loaded` (when this bus caches).
    fn remember<A: Aggregate>(&self, stream: &StreamId, loaded: &Snapshot<A>) {
        if let Some(cache) = &self.cache {
            cache.put(stream, loaded.clone());
        }
    }

    /// Handles `command` on aggregate `A` with id `id`.
    ///
    /// With `expected` set, the stream must be at that version or the command is
    /// refused with [`CommandError::Conflict`]; without it, a conflict makes the
    /// aggregate decide again on fresh state (up to a few times).
    /// Each command is counted by aggregate type and outcome, and timed. Its
    /// span's trace context, when traces are exported, is what its events
    /// record as their `traceparent`, so whatever handles them continues the
    /// trace.
    #[instrument(name = "command", skip_all, fields(
        otel.name = format!("command {}", A::TYPE),
        aggregate = A::TYPE,
        id = %id,
        outcome = tracing::field::Empty,
    ))]
    pub async fn execute<A>(
        &self,
        id: &str,
        command: A::Command,
        expected: Option<u64>,
        metadata: &EventMetadata,
    ) -> Result<CommandOutcome, CommandError<A::Error>>
    where
        A: Aggregate,
        A::Command: Clone,
    {
        let started = std::time::Instant::now();
        let traced;
        let metadata = match current_traceparent() {
            Some(traceparent) => {
                traced = EventMetadata {
                    traceparent: Some(traceparent),
                    ..metadata.clone()
                };
                &traced
            }
            None => metadata,
        };
        let result = self
            .decide_and_append::<A>(id, command, expected, metadata)
            .await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(CommandError::Rejected(_)) => "rejected",
            Err(CommandError::Conflict { .. }) => "conflict",
            Err(_) => "error",
        };
        tracing::Span::current().record("outcome", outcome);
        let metrics = flowforge_monitoring::metrics();
        metrics
            .commands
            .with_label_values(&[A::TYPE, outcome])
            .inc();
        metrics
            .command_duration
            .with_label_values(&[A::TYPE])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    async fn decide_and_append<A>(
        &self,
        id: &str,
        command: A::Command,
        expected: Option<u64>,
        metadata: &EventMetadata,
    ) -> Result<CommandOutcome, CommandError<A::Error>>
    where
        A: Aggregate,
        A::Command: Clone,
    {
        let stream = StreamId::new(A::TYPE, id)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Snapshot {
                mut state,
                version: actual,
                position,
                tenant,
            } = self.load_stream::<A>(&stream).await?;
            if let Some(expected) = expected.filter(|v| *v != actual) {
                return Err(CommandError::Conflict {
                    expected: ExpectedVersion::Exact(expected),
                    actual,
                });
            }
            let events = state
                .handle(command.clone())
                .map_err(CommandError::Rejected)?;
            if events.is_empty() {
                return Ok(CommandOutcome {
                    stream_version: actual,
                    position,
                    events_recorded: 0,
                });
            }
            let stamped = EventMetadata {
                tenant_id: tenant.clone().unwrap_or_else(|| metadata.tenant_id.clone()),
                ..metadata.clone()
            };
            let new_events = events
                .iter()
                .map(|event| {
                    let (event_type, schema_version, payload) = encode_event(event)?;
                    Ok(NewEvent::new(
                        event_type,
                        schema_version,
                        payload,
                        stamped.clone(),
                    ))
                })
                .collect::<Result<Vec<_>, EventCodecError>>()?;
            let count = new_events.len();
            let expected_now = if actual == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Exact(actual)
            };
            match self.store.append(&stream, expected_now, new_events).await {
                Ok(outcome) => {
                    if self.cache.is_some() {
                        for event in events {
                            state.apply(event);
                        }
                        let appended = Snapshot {
                            state,
                            version: outcome.stream_version,
                            position: outcome.last_position,
                            tenant: Some(stamped.tenant_id),
                        };
                        self.remember(&stream, &appended);
                    }
                    return Ok(CommandOutcome {
                        stream_version: outcome.stream_version,
                        position: outcome.last_position,
                        events_recorded: count,
                    });
                }
                Err(EventStoreError::Conflict { actual, .. }) => {
                    if expected.is_some() || attempt >= MAX_ATTEMPTS {
                        return Err(CommandError::Conflict {
                            expected: expected_now,
                            actual,
                        });
                    }
                    debug!(attempt, "conflict, deciding again on fresh state");
                    tokio::time::sleep(conflict_backoff(attempt)).await;
                }
                Err(other) => return Err(CommandError::Store(other)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_ceiling_doubles_up_to_its_cap() {
        for attempt in 1..=40 {
            let ceiling = FIRST_BACKOFF
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(MAX_BACKOFF);
            for _ in 0..50 {
                assert!(conflict_backoff(attempt) < ceiling.max(Duration::from_micros(1)));
            }
        }
        let late: Vec<Duration> = (0..200).map(|_| conflict_backoff(12)).collect();
        assert!(
            late.iter().any(|pause| *pause > Duration::from_millis(10)),
            "late attempts wait long enough to let the winner finish"
        );
    }
}
