//! FlowForge's adapters to the outside world: the event store (PostgreSQL for
//! production, an embedded SQLite file for zero-setup use), read-model storage,
//! and the event feed that carries committed events to the read side.
//! Everything above this crate talks to these through the traits defined here.
#![forbid(unsafe_code)]

pub mod database;
pub mod event_feed;
pub mod event_store;
pub mod read_model;
#[cfg(feature = "test-support")]
pub mod test_support;
