//! FlowForge's adapters to the outside world: the event store (PostgreSQL for
//! production, an embedded SQLite file for zero-setup use), read-model storage,
//! checkpoints, leadership leases, and the bus that carries committed events to
//! their consumers (in process, or over NATS JetStream), and the secrets a
//! deployment keeps beside (never in) its log.
//! Everything above this crate talks to these through the traits defined here.
//!
//! Layout: `event_store` (the trait, PostgreSQL, SQLite, group commit,
//! upcasting), `bus` (the in-process store tail, JetStream publisher and
//! consumers, failover between them), `read_model` (read-model storage),
//! `checkpoints`, `leadership` (leases and the one leadership loop),
//! `database` (opening and migrating either database), `secrets`, `keys`
//! (encryption at rest: the master key and the data keys it wraps) and, for
//! tests, `test_support`.
#![forbid(unsafe_code)]

pub mod bus;
pub mod checkpoints;
pub mod database;
pub mod event_store;
pub mod keys;
pub mod leadership;
pub mod read_model;
pub mod secrets;
#[cfg(feature = "test-support")]
pub mod test_support;
