//! Whether a JetStream stream holds this store's log. Two deployments can share
//! a NATS server and, by mistake, a stream name (staging beside production, a
//! restored backup, an imported log next to its old stream). Event ids are
//! random, so a stream that carries the same event id at a position as the
//! store does is this store's; once two logs part, every later position
//! differs. Checking the last message of the stream, and the last event of
//! every batch a subscriber receives, is therefore enough to refuse a foreign
//! log before any of it is applied.

use std::sync::Arc;

use async_nats::jetstream::stream;

use super::{publisher::position_header, JetStreamBus};
use crate::{
    bus::SubscriptionError,
    event_store::{EventStore, Position},
};

/// Fails with [`SubscriptionError::ForeignStream`] unless the store holds
/// `event_id` at `position`.
pub async fn check_event(
    store: &Arc<dyn EventStore>,
    stream: &str,
    position: Position,
    event_id: &str,
) -> Result<(), SubscriptionError> {
    let in_store = store
        .read_all(position.saturating_sub(1), 1)
        .await?
        .into_iter()
        .next()
        .filter(|e| e.position == position)
        .map(|e| e.event_id.to_string());
    if in_store.as_deref() == Some(event_id) {
        return Ok(());
    }
    Err(SubscriptionError::ForeignStream {
        stream: stream.to_owned(),
        position,
        on_stream: event_id.to_owned(),
        in_store,
    })
}

/// The position of the stream's last message (`None` when it is empty or its
/// last message is not a FlowForge event), after checking that the message is
/// this store's event at that position, and the stream's last sequence.
pub async fn checked_tip(
    bus: &JetStreamBus,
    stream: &mut stream::Stream,
    store: &Arc<dyn EventStore>,
) -> Result<(u64, Option<Position>), SubscriptionError> {
    let info = stream
        .info()
        .await
        .map_err(|e| SubscriptionError::Nats(format!("stream info: {e}")))?;
    let last_sequence = info.state.last_sequence;
    if info.state.messages == 0 {
        return Ok((last_sequence, None));
    }
    let last = stream
        .get_raw_message(last_sequence)
        .await
        .map_err(|e| SubscriptionError::Nats(format!("last message: {e}")))?;
    let Some(position) = position_header(&last.headers) else {
        return Ok((last_sequence, None));
    };
    let event_id = last
        .headers
        .get("Nats-Msg-Id")
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default();
    check_event(store, &bus.settings().stream, position, &event_id).await?;
    Ok((last_sequence, Some(position)))
}

/// Checks the configured stream against the store: what readiness and start-up
/// ask. `Ok` when the stream is empty or holds this store's log.
pub async fn check_stream(
    bus: &JetStreamBus,
    store: &Arc<dyn EventStore>,
) -> Result<Option<Position>, SubscriptionError> {
    let mut stream = bus.stream().await?;
    checked_tip(bus, &mut stream, store)
        .await
        .map(|(_, tip)| tip)
}
