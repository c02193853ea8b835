//! Prometheus metrics. Every layer records into the one registry here
//! ([`metrics`]); the API serves it as text at `GET /metrics`. Names follow
//! Prometheus conventions (`flowforge_` prefix, `_total` counters, base units
//! in `_seconds`), and every label has a bounded set of values — a route
//! template, a node type, an outcome — never an id.

use std::sync::LazyLock;

use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every FlowForge metric, registered in [`Metrics::registry`].
pub struct Metrics {
    /// Where everything is registered; gather it to serve `/metrics`.
    pub registry: Registry,
    /// HTTP requests by method, route template and status.
    pub http_requests: IntCounterVec,
    /// HTTP request latency by method and route template.
    pub http_duration: HistogramVec,
    /// Requests refused by a rate limit, by limit (`api`, `webhook`, `sign_in`).
    pub rate_limited: IntCounterVec,
    /// Commands by aggregate type and outcome (ok, rejected, conflict, error).
    pub commands: IntCounterVec,
    /// Command latency (load, decide, append) by aggregate type.
    pub command_duration: HistogramVec,
    /// Events written to the store by this process.
    pub events_appended: IntCounter,
    /// Duration of one group-commit transaction.
    pub append_duration: HistogramVec,
    /// Appends per group-commit transaction.
    pub appends_per_commit: HistogramVec,
    /// Executions started by trigger kind.
    pub executions_started: IntCounterVec,
    /// Executions seen ending by this process's orchestrator, by status.
    pub executions_finished: IntCounterVec,
    /// Execution duration (request to end) by status.
    pub execution_duration: HistogramVec,
    /// Node attempts by node type and outcome (succeeded, failed, waiting).
    pub node_runs: IntCounterVec,
    /// Node attempt duration by node type.
    pub node_duration: HistogramVec,
    /// Retries scheduled by node type.
    pub node_retries: IntCounterVec,
    /// Saga compensation attempts by outcome (compensated, failed, parked).
    pub compensations: IntCounterVec,
    /// Each projection's checkpoint, set when scraped.
    pub projection_position: IntGaugeVec,
    /// Each projection's distance behind the head, set when scraped.
    pub projection_lag: IntGaugeVec,
    /// Projection batches that failed, by projection.
    pub projection_errors: IntCounterVec,
    /// The store's head position, set when scraped.
    pub head_position: IntGauge,
    /// The NATS publisher's checkpoint, set when scraped (0 without NATS).
    pub publisher_position: IntGauge,
    /// The NATS publisher's distance behind the head, set when scraped.
    pub publisher_lag: IntGauge,
    /// Executions pending (requested, not ended, not waiting) as this
    /// instance's door counts them.
    pub execution_backlog: IntGauge,
    /// Starts refused because the backlog was full, by bound
    /// (`global_backlog`, `workflow_backlog`).
    pub executions_refused: IntCounterVec,
    /// Outbound calls nodes did not make, by reason (`circuit_open`,
    /// `destination_refused`, `execution_limit`, `workspace_limit`).
    pub outbound_refused: IntCounterVec,
    /// Outbound hosts whose circuit is open, set when scraped.
    pub outbound_circuits_open: IntGauge,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name} is well-formed: {e}"));
    register(registry, Box::new(counter.clone()));
    counter
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> HistogramVec {
    let histogram = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .unwrap_or_else(|e| panic!("metric {name} is well-formed: {e}"));
    register(registry, Box::new(histogram.clone()));
    histogram
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let gauge = IntGaugeVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name} is well-formed: {e}"));
    register(registry, Box::new(gauge.clone()));
    gauge
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let gauge =
        IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric {name} is well-formed: {e}"));
    register(registry, Box::new(gauge.clone()));
    gauge
}

fn register(registry: &Registry, collector: Box<dyn prometheus::core::Collector>) {
    // Names are fixed and unique here, so registering cannot fail.
    let _ = registry.register(collector);
}

/// Latency buckets from 0.5 ms to about 33 s.
fn latency() -> Vec<f64> {
    exponential_buckets(0.0005, 2.0, 17).unwrap_or_default()
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        register(
            &registry,
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        );
        let r = &registry;
        Self {
            http_requests: counter(
                r,
                "flowforge_http_requests_total",
                "HTTP requests by method, route template and status.",
                &["method", "route", "status"],
            ),
            rate_limited: counter(
                r,
                "flowforge_rate_limited_total",
                "Requests refused with 429 by a rate limit, by limit (api, webhook, sign_in).",
                &["limit"],
            ),
            http_duration: histogram(
                r,
                "flowforge_http_request_duration_seconds",
                "HTTP request latency by method and route template.",
                &["method", "route"],
                latency(),
            ),
            commands: counter(
                r,
                "flowforge_commands_total",
                "Commands by aggregate type and outcome (ok, rejected, conflict, error).",
                &["aggregate", "outcome"],
            ),
            command_duration: histogram(
                r,
                "flowforge_command_duration_seconds",
                "Command latency (load, decide, append) by aggregate type.",
                &["aggregate"],
                latency(),
            ),
            events_appended: {
                let c = IntCounter::new(
                    "flowforge_events_appended_total",
                    "Events written to the event store by this process.",
                )
                .unwrap_or_else(|e| panic!("metric is well-formed: {e}"));
                register(r, Box::new(c.clone()));
                c
            },
            append_duration: histogram(
                r,
                "flowforge_event_store_commit_duration_seconds",
                "Duration of one group-commit transaction of the event store, by backend.",
                &["backend"],
                latency(),
            ),
            appends_per_commit: histogram(
                r,
                "flowforge_event_store_appends_per_commit",
                "Appends written by one group-commit transaction, by backend.",
                &["backend"],
                exponential_buckets(1.0, 2.0, 9).unwrap_or_default(),
            ),
            executions_started: counter(
                r,
                "flowforge_executions_started_total",
                "Executions started, by trigger kind.",
                &["trigger"],
            ),
            executions_finished: counter(
                r,
                "flowforge_executions_finished_total",
                "Executions that ended, by status (succeeded, failed, cancelled).",
                &["status"],
            ),
            execution_duration: histogram(
                r,
                "flowforge_execution_duration_seconds",
                "Execution duration from request to end, by status.",
                &["status"],
                latency(),
            ),
            node_runs: counter(
                r,
                "flowforge_node_runs_total",
                "Node attempts by node type and outcome (succeeded, failed, waiting).",
                &["node_type", "outcome"],
            ),
            node_duration: histogram(
                r,
                "flowforge_node_duration_seconds",
                "Node attempt duration by node type.",
                &["node_type"],
                latency(),
            ),
            node_retries: counter(
                r,
                "flowforge_node_retries_total",
                "Node retries scheduled, by node type.",
                &["node_type"],
            ),
            compensations: counter(
                r,
                "flowforge_saga_compensations_total",
                "Saga compensation attempts by outcome (compensated, failed, parked).",
                &["outcome"],
            ),
            projection_position: gauge_vec(
                r,
                "flowforge_projection_position",
                "Each projection's checkpoint (a log position).",
                &["projection"],
            ),
            projection_lag: gauge_vec(
                r,
                "flowforge_projection_lag_events",
                "How many events each projection is behind the head.",
                &["projection"],
            ),
            projection_errors: counter(
                r,
                "flowforge_projection_errors_total",
                "Projection batches that failed and will be retried, by projection.",
                &["projection"],
            ),
            head_position: gauge(
                r,
                "flowforge_event_store_head_position",
                "The event store's last committed position.",
            ),
            publisher_position: gauge(
                r,
                "flowforge_publisher_position",
                "The last position the NATS publisher published (0 without NATS).",
            ),
            publisher_lag: gauge(
                r,
                "flowforge_publisher_lag_events",
                "How many events the NATS publisher is behind the head.",
            ),
            execution_backlog: gauge(
                r,
                "flowforge_execution_backlog",
                "Executions requested and not yet ended, not counting waiting ones.",
            ),
            executions_refused: {
                let refused = counter(
                    r,
                    "flowforge_executions_refused_total",
                    "Execution starts refused because the backlog was full, by bound.",
                    &["reason"],
                );
                for reason in ["global_backlog", "workflow_backlog"] {
                    refused.with_label_values(&[reason]).inc_by(0);
                }
                refused
            },
            outbound_refused: {
                let refused = counter(
                    r,
                    "flowforge_outbound_refused_total",
                    "Outbound calls nodes did not make, by reason (circuit_open, destination_refused, execution_limit, workspace_limit).",
                    &["reason"],
                );
                for reason in [
                    "circuit_open",
                    "destination_refused",
                    "execution_limit",
                    "workspace_limit",
                ] {
                    refused.with_label_values(&[reason]).inc_by(0);
                }
                refused
            },
            outbound_circuits_open: gauge(
                r,
                "flowforge_outbound_circuits_open",
                "Outbound hosts whose circuit breaker is open, set when scraped.",
            ),
            registry,
        }
    }

    /// The name of every metric family FlowForge exports, including families
    /// that have no sample yet, and the process metrics.
    pub fn family_names(&self) -> Vec<String> {
        use prometheus::core::Collector;
        let collectors: [&dyn Collector; 25] = [
            &self.http_requests,
            &self.rate_limited,
            &self.http_duration,
            &self.commands,
            &self.command_duration,
            &self.events_appended,
            &self.append_duration,
            &self.appends_per_commit,
            &self.executions_started,
            &self.executions_finished,
            &self.execution_duration,
            &self.node_runs,
            &self.node_duration,
            &self.node_retries,
            &self.compensations,
            &self.projection_position,
            &self.projection_lag,
            &self.projection_errors,
            &self.head_position,
            &self.publisher_position,
            &self.publisher_lag,
            &self.outbound_refused,
            &self.outbound_circuits_open,
            &self.execution_backlog,
            &self.executions_refused,
        ];
        let mut names: Vec<String> = collectors
            .iter()
            .flat_map(|c| c.desc().into_iter().map(|d| d.fq_name.clone()))
            .chain(
                self.registry
                    .gather()
                    .iter()
                    .map(|family| family.name().to_owned()),
            )
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Everything registered, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The text format's content type, for the `/metrics` response.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
