//! The spans of the process managers' work on an execution. Each continues
//! the trace of the event that prompted it, so the nodes an execution runs and
//! the compensations its saga runs belong to the trace of the request that
//! started it.

use flowforge_domain::execution::ExecutionId;
use flowforge_infra::event_store::EventMetadata;
use flowforge_monitoring::trace_context::continue_trace;
use tracing::{field::Empty, Span};

/// The span of one look at an execution by `manager` (the orchestrator, the
/// saga manager), in the trace of the event that prompted it.
pub(crate) fn advance_span(manager: &'static str, id: ExecutionId, cause: &EventMetadata) -> Span {
    let span = tracing::info_span!(
        "advance",
        otel.name = format!("{manager} advance"),
        manager,
        execution_id = %id,
        trace_id = Empty,
        correlation_id = %cause.correlation_id.unwrap_or_else(|| id.as_uuid()),
    );
    continue_trace(&span, cause.traceparent.as_deref());
    span
}
