//! What the process reports about itself, set up once at start: logs (text for people, JSON lines for machines, each line with the trace
//! id and correlation id of the work it belongs to) and, when an OTLP endpoint
//! is configured, OpenTelemetry traces exported over OTLP/HTTP. Without an
//! endpoint no tracer exists, so spans cost what `tracing` spans cost.

use std::{io::IsTerminal, time::Duration};

use flowforge_outbound::TlsTrust;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
use tracing_subscriber::{
    filter::{filter_fn, FilterExt},
    fmt::writer::BoxMakeWriter,
    layer::SubscriberExt,
    util::SubscriberInitExt,
    EnvFilter, Layer,
};

use crate::fresh_filter::Fresh;
use crate::log_fields::{nearest, LogFieldsLayer, CORRELATION_ID, TRACE_ID};

/// The service name traces carry unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE_NAME: &str = "flowforge";
/// The only OTLP protocol this build speaks.
const HTTP_PROTOBUF: &str = "http/protobuf";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with `trace_id` and `correlation_id`.
    Json,
}

/// What [`init`] sets up.
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    /// How log lines are written.
    pub log_format: LogFormat,
    /// The log filter used when `RUST_LOG` is not set (`EnvFilter` syntax).
    pub default_filter: String,
    /// Logs go to stderr (a tool whose stdout is its output) instead of stdout.
    pub log_to_stderr: bool,
    /// The OTLP/HTTP collector's base URL (`http://host:4318`, or
    /// `https://…`); traces go to its `/v1/traces`. `None` exports nothing.
    pub otlp_endpoint: Option<String>,
    /// What an `https://` collector's certificate is verified against.
    pub tls_trust: TlsTrust,
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The configured OTLP protocol is one this build does not speak.
    #[error("OTEL_EXPORTER_OTLP_PROTOCOL={0:?} is not supported: FlowForge exports OTLP over HTTP with protobuf (`http/protobuf`, usually port 4318)")]
    UnsupportedProtocol(String),
    /// The OTLP exporter could not be built.
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(String),
    /// A global logger was installed before.
    #[error("logging is already set up: {0}")]
    AlreadyInstalled(String),
}

/// The running telemetry; [`Telemetry::shutdown`] sends the spans still queued.
#[must_use = "dropping it without shutdown loses the last spans"]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported over OTLP.
    pub fn exports_traces(&self) -> bool {
        self.tracer_provider.is_some()
    }

    /// Exports the spans still queued and stops the exporter. Blocks (for at
    /// most the exporter's timeout), so async callers run it with
    /// `spawn_blocking`.
    pub fn shutdown(self) {
        if let Some(provider) = self.tracer_provider {
            if let Err(error) = provider.shutdown() {
                eprintln!("warning: exporting the last spans failed: {error}");
            }
        }
    }
}

/// Installs the process's logger and, with an OTLP endpoint, its tracer.
pub fn init(settings: &TelemetrySettings) -> Result<Telemetry, TelemetryError> {
    let tracer_provider = settings
        .otlp_endpoint
        .as_deref()
        .map(|endpoint| tracer_provider(endpoint, &settings.tls_trust))
        .transpose()?;
    let traces = tracer_provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(SERVICE_NAME))
            .with_tracked_inactivity(false)
            .with_filter(Fresh(filter_fn(is_flowforge_span)))
    });
    let (writer, terminal) = if settings.log_to_stderr {
        (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        )
    } else {
        (
            BoxMakeWriter::new(std::io::stdout),
            std::io::stdout().is_terminal(),
        )
    };
    // Log lines follow `RUST_LOG`; FlowForge's spans are always seen, so a
    // line logged inside one finds its trace and correlation ids.
    let log_filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(&settings.default_filter))
        .or(filter_fn(is_flowforge_span));
    let logs = match settings.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(terminal)
            .with_filter(Fresh(log_filter))
            .boxed(),
        LogFormat::Json => LogFieldsLayer
            .and_then(json_lines(writer))
            .with_filter(Fresh(log_filter))
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(traces)
        .with(logs)
        .try_init()
        .map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    Ok(Telemetry { tracer_provider })
}

/// FlowForge's own spans at `info` and above: what traces are made of.
fn is_flowforge_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span()
        && metadata.target().starts_with("flowforge")
        && *metadata.level() <= tracing::Level::INFO
}

/// JSON lines: time, level, target, the event's fields, the current span,
/// and the nearest `trace_id` and `correlation_id`.
fn json_lines<S>(writer: BoxMakeWriter) -> json_subscriber::JsonLayer<S, BoxMakeWriter>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let mut layer = json_subscriber::JsonLayer::new(writer);
    layer
        .with_timer("timestamp", tracing_subscriber::fmt::time::SystemTime)
        .with_level("level")
        .with_target("target")
        .with_flattened_event()
        .with_current_span("span");
    layer.add_from_span(TRACE_ID, |span| nearest(span, |f| f.trace_id.as_ref()));
    layer.add_from_span(CORRELATION_ID, |span| {
        nearest(span, |f| f.correlation_id.as_ref())
    });
    layer
}

/// Refuses an OTLP protocol setting (traces-specific, then general) other
/// than the one this build speaks; unset or empty means the default.
fn check_protocol(traces: Option<String>, general: Option<String>) -> Result<(), TelemetryError> {
    match traces.into_iter().chain(general).find(|p| !p.is_empty()) {
        Some(protocol) if protocol != HTTP_PROTOBUF => {
            Err(TelemetryError::UnsupportedProtocol(protocol))
        }
        _ => Ok(()),
    }
}

/// A tracer provider that batches spans to `{endpoint}/v1/traces`.
fn tracer_provider(endpoint: &str, trust: &TlsTrust) -> Result<SdkTracerProvider, TelemetryError> {
    check_protocol(
        std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").ok(),
        std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").ok(),
    )?;
    let exporter = SpanExporter::builder()
        .with_http()
        .with_http_client(otlp_http_client(trust)?)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// The blocking HTTP client spans are exported with: TLS verified against
/// `trust`, the OTLP timeout from the environment. reqwest's blocking client
/// runs a runtime of its own, so it is built off the caller's (possibly
/// async) thread, as the OTLP crate builds its default one.
fn otlp_http_client(trust: &TlsTrust) -> Result<otlp_reqwest::blocking::Client, TelemetryError> {
    let tls = trust
        .client_config()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let timeout = otlp_timeout(
        std::env::var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT").ok(),
        std::env::var("OTEL_EXPORTER_OTLP_TIMEOUT").ok(),
    );
    std::thread::spawn(move || {
        otlp_reqwest::blocking::Client::builder()
            .timeout(timeout)
            .tls_backend_preconfigured(tls)
            .build()
    })
    .join()
    .map_err(|_| TelemetryError::Exporter("building the OTLP HTTP client panicked".to_owned()))?
    .map_err(|e| TelemetryError::Exporter(e.to_string()))
}

/// The export timeout: the traces-specific setting, then the general one
/// (milliseconds), else the OTLP default of 10 s.
fn otlp_timeout(traces: Option<String>, general: Option<String>) -> Duration {
    traces
        .into_iter()
        .chain(general)
        .find_map(|ms| ms.trim().parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_timeout_wins_over_the_general_one_and_ten_seconds_is_the_default() {
        let ms = |v: &str| Some(v.to_owned());
        assert_eq!(
            otlp_timeout(ms("250"), ms("900")),
            Duration::from_millis(250)
        );
        assert_eq!(otlp_timeout(None, ms("900")), Duration::from_millis(900));
        assert_eq!(otlp_timeout(ms("soon"), None), Duration::from_secs(10));
        assert_eq!(otlp_timeout(None, None), Duration::from_secs(10));
    }

    #[test]
    fn only_http_protobuf_is_accepted() {
        let set = |v: &str| Some(v.to_owned());
        assert!(check_protocol(None, None).is_ok());
        assert!(check_protocol(set(""), set("http/protobuf")).is_ok());
        assert!(check_protocol(set("http/protobuf"), set("grpc")).is_ok());
        for refused in ["grpc", "http/json"] {
            let error = check_protocol(None, set(refused)).expect_err(refused);
            assert!(error.to_string().contains(refused), "{error}");
            assert!(check_protocol(set(refused), None).is_err());
        }
    }
}
