//! The W3C trace context across FlowForge's seams. An HTTP request's
//! `traceparent` becomes its span's parent; the command span's context is
//! stored in each event's metadata; the NATS publisher copies it into message
//! headers; and whatever handles an event later (a projection, the
//! orchestrator, a node run, the saga manager) continues that trace. So a
//! webhook call, its events, its projection updates and its node runs share
//! one trace id.
//!
//! When no traces are exported, spans carry no OpenTelemetry context: the
//! helpers here then cost a lookup and keep whatever trace id the caller sent,
//! for the logs.

use std::collections::HashMap;

use opentelemetry::{
    propagation::{Extractor, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::log_fields::TRACE_ID;

const TRACEPARENT: &str = "traceparent";

/// One `traceparent` value, read as a carrier of the W3C propagator.
struct Traceparent<'a>(&'a str);

impl Extractor for Traceparent<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == TRACEPARENT).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT]
    }
}

/// Makes `span` continue the trace that `traceparent` names (a span with none
/// starts a trace of its own), and records the trace id in the span's
/// `trace_id` field, if it declares one, for the logs. Call it before the span
/// is first entered.
pub fn continue_trace(span: &Span, traceparent: Option<&str>) {
    if let Some(traceparent) = traceparent {
        let parent = TraceContextPropagator::new().extract(&Traceparent(traceparent));
        if parent.span().span_context().is_valid() {
            // Refused only once the span has started, which callers avoid.
            let _ = span.set_parent(parent);
        }
    }
    let own = span.context().span().span_context().clone();
    let trace_id = if own.is_valid() {
        Some(own.trace_id().to_string())
    } else {
        traceparent.and_then(trace_id_of)
    };
    if let Some(trace_id) = trace_id {
        span.record(TRACE_ID, trace_id);
    }
}

/// The current span's context as a W3C `traceparent`, to store with the
/// events it causes; `None` when traces are not exported.
pub fn current_traceparent() -> Option<String> {
    let context = Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// The trace id of a well-formed `traceparent`
/// (`version-traceid-parentid-flags`, lowercase hex).
pub fn trace_id_of(traceparent: &str) -> Option<String> {
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let mut parts = traceparent.split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let well_formed = parts.next().is_none()
        && hex(version, 2)
        && hex(trace_id, 32)
        && hex(parent_id, 16)
        && hex(flags, 2)
        && trace_id.bytes().any(|b| b != b'0');
    well_formed.then(|| trace_id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_traceparent_yields_its_trace_id() {
        assert_eq!(
            trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }

    #[test]
    fn malformed_traceparents_yield_nothing() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
        ] {
            assert_eq!(trace_id_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn without_an_exporter_there_is_no_context_to_pass_on() {
        let span = tracing::info_span!("test");
        let _entered = span.enter();
        assert_eq!(current_traceparent(), None);
    }
}
