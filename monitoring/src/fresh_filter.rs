//! A per-layer filter that is asked about every span and event, never cached
//! as "always": the workaround for tokio-rs/tracing#2519.
//!
//! A per-layer filter's decision reaches its layer through a thread-local
//! that `enabled()` writes just before the span is created. A callsite cached
//! as "always" skips `enabled()`, so the layer reads whatever an unrelated
//! check left there — sqlx asks `log_enabled!` after every query — and
//! silently drops the span. Seen here: with PostgreSQL, the webhook's HTTP
//! span and its node runs went missing from the exported trace.

use tracing::{span, subscriber::Interest, Event, Metadata, Subscriber};
use tracing_subscriber::{
    filter::LevelFilter,
    layer::{Context, Filter},
};

/// `F`, with "always" interest lowered to "sometimes".
pub(crate) struct Fresh<F>(pub(crate) F);

impl<S: Subscriber, F: Filter<S>> Filter<S> for Fresh<F> {
    fn enabled(&self, metadata: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        self.0.enabled(metadata, cx)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.0.callsite_enabled(metadata).is_never() {
            Interest::never()
        } else {
            Interest::sometimes()
        }
    }

    fn event_enabled(&self, event: &Event<'_>, cx: &Context<'_, S>) -> bool {
        self.0.event_enabled(event, cx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.0.max_level_hint()
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        self.0.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        self.0.on_record(id, values, ctx);
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.0.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.0.on_exit(id, ctx);
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        self.0.on_close(id, ctx);
    }
}
