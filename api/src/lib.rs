//! FlowForge's edge: the command/query HTTP API, its configuration, and the
//! server that wires the event store, the projections and the routes together.
//! The `flowforge` binary (`src/main.rs`) is a thin CLI over this library, so
//! integration tests start the very same server on a random port.
#![forbid(unsafe_code)]

pub mod backlog;
pub mod config;
pub mod error;
pub mod executions;
mod extract;
pub mod idempotency;
pub mod log_position;
mod paging;
pub mod routes;
pub mod server;
pub mod state;
