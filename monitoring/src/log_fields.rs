//! The trace id and correlation id a span was given, kept on the span where
//! the JSON log formatter finds them for every line logged inside it.

use std::fmt::Debug;

use tracing::{
    field::{Field, Visit},
    span::{Attributes, Record},
    Id, Subscriber,
};
use tracing_subscriber::{
    layer::Context,
    registry::{LookupSpan, SpanRef},
    Layer,
};

/// The span field that names the trace a span belongs to.
pub const TRACE_ID: &str = "trace_id";
/// The span field that names the request or execution a span works for.
pub const CORRELATION_ID: &str = "correlation_id";

/// The two ids of one span, as recorded so far.
#[derive(Debug, Default)]
pub(crate) struct LogFields {
    pub(crate) trace_id: Option<String>,
    pub(crate) correlation_id: Option<String>,
}

impl LogFields {
    fn set(&mut self, field: &Field, value: String) {
        match field.name() {
            TRACE_ID => self.trace_id = Some(value),
            CORRELATION_ID => self.correlation_id = Some(value),
            _ => {}
        }
    }
}

impl Visit for LogFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.set(field, format!("{value:?}"));
    }
}

/// Keeps [`LogFields`] on every span that declares either field.
pub(crate) struct LogFieldsLayer;

impl<S> Layer<S> for LogFieldsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let declared = attrs.metadata().fields();
        if declared.field(TRACE_ID).is_none() && declared.field(CORRELATION_ID).is_none() {
            return;
        }
        let mut fields = LogFields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<LogFields>() {
            values.record(fields);
        }
    }
}

/// The nearest value `pick` finds, from `span` up to its root.
pub(crate) fn nearest<S>(
    span: &SpanRef<'_, S>,
    pick: fn(&LogFields) -> Option<&String>,
) -> Option<String>
where
    S: for<'a> LookupSpan<'a>,
{
    span.scope().find_map(|ancestor| {
        let extensions = ancestor.extensions();
        extensions.get::<LogFields>().and_then(pick).cloned()
    })
}
