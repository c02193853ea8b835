//! How FlowForge is watched: Prometheus metrics every layer records into
//! ([`metrics`]), logs in text or JSON lines ([`telemetry`]), and OpenTelemetry
//! traces that follow one request across the API, the event store, the bus,
//! the projections and every node run ([`trace_context`]).
//!
//! Layout: `metrics` (the Prometheus registry and its families), `telemetry`
//! (subscriber setup, OTLP export), `trace_context` (W3C traceparent in and
//! out), `process_spans` (the process managers' spans), `log_fields` and
//! `fresh_filter` (log formatting helpers).
#![forbid(unsafe_code)]

mod fresh_filter;
mod log_fields;
mod metrics;
pub mod process_spans;
pub mod telemetry;
pub mod trace_context;

pub use metrics::{metrics, Metrics, CONTENT_TYPE};
