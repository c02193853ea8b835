//! The spans of the process managers' work on an execution. Each continues
//! the trace of the event that prompted it, so the nodes an execution runs and
//! the compensations its saga runs belong to the trace of the request that
//! started it. Shared by the workflow runtime and the saga manager.

use std::fmt::Display;

use tracing::{field::Empty, Span};

use crate::trace_context::continue_trace;

/// The span of one look at execution `execution_id` by `manager` (the
/// orchestrator, the saga manager), in the trace named by the prompting
/// event's `traceparent`, tagged with its correlation id.
pub fn advance_span(
    manager: &'static str,
    execution_id: impl Display,
    correlation_id: impl Display,
    traceparent: Option<&str>,
) -> Span {
    let span = tracing::info_span!(
        "advance",
        otel.name = format!("{manager} advance"),
        manager,
        execution_id = %execution_id,
        trace_id = Empty,
        correlation_id = %correlation_id,
    );
    continue_trace(&span, traceparent);
    span
}
