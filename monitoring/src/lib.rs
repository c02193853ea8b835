//! How FlowForge is watched: Prometheus metrics every layer records into
//! ([`metrics`]), logs in text or JSON lines ([`telemetry`]), and OpenTelemetry
//! traces that follow one request across the API, the event store, the bus,
//! the projections and every node run ([`trace_context`]).
#![forbid(unsafe_code)]

mod fresh_filter;
mod log_fields;
mod metrics;
pub mod telemetry;
pub mod trace_context;

pub use metrics::{metrics, Metrics, CONTENT_TYPE};
