//! What starts executions besides a direct call: schedules, NATS subjects and
//! webhooks. Each keeps its view of the active workflows' trigger nodes fresh
//! from the workflows read model.
//!
//! Layout: `schedule` (cron ticks, one firing per tick across instances),
//! `nats` (one queue-group subscription per `nats_trigger` node), `webhooks`
//! (the route cache webhook calls are matched against), `refresh` (when a
//! trigger re-reads the active workflows).

pub mod nats;
pub(crate) mod refresh;
pub mod schedule;
pub mod webhooks;
