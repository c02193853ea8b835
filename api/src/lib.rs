//! FlowForge's edge: the command/query HTTP API, its configuration, and the
//! server that wires the event store, the projections and the routes together.
//! The `flowforge` binary (`src/main.rs`) is a thin CLI over this library, so
//! integration tests start the very same server on a random port.
//!
//! Layout: `routes` (one module per resource, the OpenAPI document),
//! `access_tokens` (the JWTs accounts sign in with), `authentication`
//! (credentials to a caller, its workspace and role), `cors` (browsers on
//! other origins, when configured),
//! `extract` (JSON bodies, path and query parameters, with this API's
//! errors), `error` (the one mapping of every failure to a status and code),
//! `execution_watch` (reading an execution and waiting on it for a caller),
//! `idempotency`, `log_position` and `paging` (request parameters),
//! `config` (command-line and environment settings), `state` (what handlers
//! share), `server` (the process wiring, step by step), `tls` (serving
//! HTTPS with a certificate that reloads), `webhook_auth` (the checks a
//! webhook makes of its caller) and `cli` (the
//! commands beside `serve`, in the binary).
#![forbid(unsafe_code)]

pub mod access_tokens;
pub mod authentication;
pub mod config;
pub mod cors;
pub mod error;
pub mod execution_watch;
mod extract;
pub mod idempotency;
pub mod log_position;
mod paging;
pub mod routes;
pub mod server;
pub mod state;
pub mod tls;
pub mod webhook_auth;
