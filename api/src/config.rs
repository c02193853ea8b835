//! One typed configuration, from flags and environment variables, validated once
//! at start. A bad value stops the process with one line naming the setting.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::{Args, Parser, Subcommand, ValueEnum};
use flowforge_commands::accounts::Argon2Settings;
use flowforge_domain::{
    execution_tree::DEFAULT_MAX_DESCENDANTS,
    workflow::{WorkflowLimit, WorkflowLimits},
};
use flowforge_engine::{SubWorkflowLimits, DEFAULT_MAX_STARTS_PER_SEC_PER_WORKFLOW};
use flowforge_infra::bus::jetstream::JetStreamSettings;
use flowforge_monitoring::telemetry::TelemetrySettings;
use flowforge_nodes::DEFAULT_MAX_ITEMS_PER_NODE;
use flowforge_outbound::{CallLimitSettings, CircuitSettings, TlsTrust, TrustError};

/// The `flowforge` command line.
#[derive(Debug, Parser)]
#[command(
    name = "flowforge",
    version,
    about = "Event-sourced workflow automation"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API, the projections and everything else in one process.
    Serve(Box<ServeArgs>),
    /// Create or upgrade the database schema, then exit.
    Migrate(StorageArgs),
    /// Inspect and rebuild read models.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Read, follow, export and import the event log.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Inspect aggregates.
    #[command(subcommand)]
    Aggregate(AggregateCommand),
    /// Manage accounts from the command line.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage the master key.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// `flowforge keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-wrap every data key under a new master key. Instances may keep
    /// serving meanwhile if they were started with the new key as
    /// FLOWFORGE_ENCRYPTION_KEY and the old one as
    /// FLOWFORGE_ENCRYPTION_KEY_PREVIOUS. Without a configured key, the
    /// data directory's master.key is replaced by the new one.
    Rotate {
        /// A file holding the new master key (64 hex digits or base64 of
        /// 32 bytes, e.g. from `openssl rand -hex 32`).
        #[arg(long)]
        new_key_file: PathBuf,
        /// Storage settings, with the current master key.
        #[command(flatten)]
        storage: StorageArgs,
    },
}

/// `flowforge users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create the installation's first account, the owner of its first
    /// workspace, as the first registration through the API would (for
    /// scripted setups). Refused once the installation has an owner.
    CreateOwner {
        /// The owner's e-mail address.
        #[arg(long)]
        email: String,
        /// A file holding the password (a trailing newline is ignored), so
        /// it appears in no process list or shell history.
        #[arg(long)]
        password_file: PathBuf,
        /// The owner's display name.
        #[arg(long, default_value = "Owner")]
        name: String,
        /// Password hashing, as `serve` is configured.
        #[command(flatten)]
        auth: AuthArgs,
        /// Storage settings.
        #[command(flatten)]
        storage: StorageArgs,
    },
}

/// `flowforge projections …`
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Each projection's checkpoint and lag behind the log's head.
    List(StorageArgs),
    /// Replay the whole log into a fresh read model, then swap it in.
    Rebuild {
        /// The projection (see `projections list`).
        name: String,
        /// Storage settings.
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Row count and SHA-256 of a read model, to compare two of them.
    Checksum {
        /// The projection (see `projections list`).
        name: String,
        /// Storage settings.
        #[command(flatten)]
        storage: StorageArgs,
    },
}

/// `flowforge events …`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print events from the log, one per line.
    Tail {
        /// Keep printing new events as they are committed.
        #[arg(long)]
        follow: bool,
        /// Only this stream, as TYPE/ID (e.g. workflow/0195…).
        #[arg(long)]
        stream: Option<String>,
        /// Start after this position.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Print each event as a JSON line instead of a summary.
        #[arg(long)]
        json: bool,
        /// Storage settings.
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Write the whole log to an NDJSON file (one recorded event per line).
    Export {
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// Storage settings.
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Load an NDJSON export into an empty store, keeping positions and versions.
    Import {
        /// The file to read.
        file: PathBuf,
        /// Allow a non-empty store: events it already holds (same id at the same
        /// position) are skipped, the rest must continue its log.
        #[arg(long)]
        append: bool,
        /// Storage settings.
        #[command(flatten)]
        storage: StorageArgs,
    },
}

/// `flowforge aggregate …`
#[derive(Debug, Subcommand)]
pub enum AggregateCommand {
    /// An aggregate's state rebuilt from its events.
    Show {
        /// The aggregate type (`workflow`).
        aggregate_type: String,
        /// The aggregate id.
        id: String,
        /// Rebuild it as it was at this version.
        #[arg(long)]
        at_version: Option<u64>,
        /// Storage settings.
        #[command(flatten)]
        storage: StorageArgs,
    },
}

/// Where events and read models live.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// PostgreSQL connection URL; without it FlowForge uses the embedded SQLite store.
    #[arg(long, env = "DATABASE_URL", value_parser = parse_database_url)]
    pub database_url: Option<String>,

    /// Directory of the embedded store (used when no DATABASE_URL is given).
    #[arg(long, env = "FLOWFORGE_DATA_DIR", default_value = "./flowforge-data")]
    pub data_dir: PathBuf,

    /// PostgreSQL connections per instance.
    #[arg(long, env = "FLOWFORGE_DB_MAX_CONNECTIONS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,

    /// The master key that wraps the data keys secrets are sealed with: 32
    /// bytes as 64 hex digits or base64 (`openssl rand -hex 32`). Every
    /// instance on one database needs the same. Without it (or a key
    /// file), `master.key` in the data directory is used, made on first
    /// start.
    #[arg(long, env = "FLOWFORGE_ENCRYPTION_KEY", hide_env_values = true)]
    pub encryption_key: Option<String>,

    /// A file holding the master key (instead of FLOWFORGE_ENCRYPTION_KEY).
    #[arg(long, env = "FLOWFORGE_ENCRYPTION_KEY_FILE")]
    pub encryption_key_file: Option<PathBuf>,

    /// During a master-key rotation, the key being rotated away from: data
    /// keys still wrapped by it open too (see `flowforge keys rotate`).
    #[arg(
        long,
        env = "FLOWFORGE_ENCRYPTION_KEY_PREVIOUS",
        hide_env_values = true
    )]
    pub encryption_key_previous: Option<String>,
}

/// Settings of `flowforge serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the HTTP API listens on.
    #[arg(long, env = "FLOWFORGE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Storage settings.
    #[command(flatten)]
    pub storage: StorageArgs,

    /// The event bus.
    #[command(flatten)]
    pub bus: BusArgs,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "FLOWFORGE_MAX_BODY_BYTES", default_value_t = 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=1024 * 1024 * 1024))]
    pub max_body_bytes: u64,

    /// How long a query with `consistent_with` waits for the read model, in milliseconds.
    #[arg(long, env = "FLOWFORGE_CONSISTENCY_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub consistency_timeout_ms: u64,

    /// How long the NATS publisher may make no progress while events wait
    /// before `/health/ready` reports it stalled (503), in seconds.
    #[arg(long, env = "FLOWFORGE_PUBLISHER_STALL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub publisher_stall_secs: u64,

    /// Pending executions (requested, not ended, not waiting) the whole
    /// deployment may have before starts through the API answer 503.
    #[arg(long, env = "FLOWFORGE_MAX_PENDING_EXECUTIONS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_pending_executions: u64,

    /// Pending executions one workflow may have before its starts answer 429.
    #[arg(long, env = "FLOWFORGE_MAX_PENDING_PER_WORKFLOW", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_pending_per_workflow: u64,

    /// The percentage of each backlog bound that starts nobody waits for
    /// (webhooks answering immediately, executions started without `wait`)
    /// may fill, keeping the rest for callers that wait for the answer.
    #[arg(long, env = "FLOWFORGE_ASYNC_BACKLOG_PERCENT", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub async_backlog_percent: u64,

    /// Node attempts this instance runs at once; free slots go round-robin
    /// across the executions that wait for one.
    #[arg(long, env = "FLOWFORGE_MAX_CONCURRENT_ATTEMPTS", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_concurrent_attempts: u64,

    /// Node attempts one execution runs at once (a wide fan-out runs this
    /// many branches at a time).
    #[arg(long, env = "FLOWFORGE_MAX_ATTEMPTS_PER_EXECUTION", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_attempts_per_execution: u64,

    /// At shutdown (SIGTERM, Ctrl-C), how long node attempts already running
    /// may take to finish and record their outcome before the instance gives
    /// its leases up anyway (the next leader then runs them again), in seconds.
    #[arg(long, env = "FLOWFORGE_SHUTDOWN_GRACE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_secs: u64,
    /// Bounds on workflow size, node output and sub-workflow starts.
    #[command(flatten)]
    pub limits: LimitsArgs,

    /// TLS: serving HTTPS, and what outbound connections trust.
    #[command(flatten)]
    pub tls: TlsArgs,

    /// Accounts: password hashing and token lifetimes.
    #[command(flatten)]
    pub auth: AuthArgs,

    /// Rate limits on the API, webhooks and sign-in.
    #[command(flatten)]
    pub rate_limits: RateLimitArgs,

    /// What nodes may reach, and how much they may call out.
    #[command(flatten)]
    pub outbound: OutboundArgs,

    /// Names of environment variables expressions may read as `$env.<name>`,
    /// comma-separated. Unset, `$env` throws: the process environment holds
    /// the server's own secrets (database URL, master key), so only names
    /// listed here are ever visible, with the values they had at start.
    #[arg(long, env = "FLOWFORGE_ENV_ALLOW")]
    pub env_allow: Option<String>,

    /// Origins (`https://app.example.com`, comma-separated) whose pages may
    /// call the API from a browser; none by default (CORS off).
    #[arg(long, env = "FLOWFORGE_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// The URL users and other systems reach this deployment at
    /// (`https://flowforge.example.com`), for links it hands out: the
    /// redirect URI of OAuth 2.0 grants. Unset, the request's `Host` (and
    /// `X-Forwarded-Proto`) is used.
    #[arg(long, env = "FLOWFORGE_PUBLIC_URL", value_parser = parse_http_url)]
    pub public_url: Option<String>,

    /// Logs and traces.
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// What one workflow may hold and start: past a bound, a definition is
/// refused (422 `workflow_too_large`), a node fails (`too_many_items`), or a
/// sub-workflow start fails its node (`sub_workflow_descendants`,
/// `sub_workflow_rate`).
#[derive(Debug, Clone, Args)]
pub struct LimitsArgs {
    /// The most nodes a workflow definition may have.
    #[arg(long, env = "FLOWFORGE_MAX_WORKFLOW_NODES", default_value_t = WorkflowLimits::DEFAULT_MAX_NODES as u64, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_workflow_nodes: u64,

    /// The most bytes a workflow definition may take as compact JSON.
    #[arg(long, env = "FLOWFORGE_MAX_WORKFLOW_BYTES", default_value_t = WorkflowLimits::DEFAULT_MAX_DEFINITION_BYTES as u64, value_parser = clap::value_parser!(u64).range(1..=1024 * 1024 * 1024))]
    pub max_workflow_bytes: u64,

    /// The most connections that may leave one node, over all its outputs.
    #[arg(long, env = "FLOWFORGE_MAX_NODE_FANOUT", default_value_t = WorkflowLimits::DEFAULT_MAX_FAN_OUT as u64, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_node_fanout: u64,

    /// The most items one node attempt may output, over all its outputs.
    #[arg(long, env = "FLOWFORGE_MAX_ITEMS_PER_NODE", default_value_t = DEFAULT_MAX_ITEMS_PER_NODE as u64, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub max_items_per_node: u64,

    /// The most executions that may be started under one root execution
    /// through Execute Workflow nodes, at any depth.
    #[arg(long, env = "FLOWFORGE_MAX_DESCENDANTS", default_value_t = DEFAULT_MAX_DESCENDANTS, value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub max_descendants: u32,

    /// The most sub-workflow executions one workflow may start per second
    /// (also the burst), per instance.
    #[arg(long, env = "FLOWFORGE_MAX_STARTS_PER_SEC_PER_WORKFLOW", default_value_t = DEFAULT_MAX_STARTS_PER_SEC_PER_WORKFLOW, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_starts_per_sec_per_workflow: u32,
}

impl Default for LimitsArgs {
    /// The same defaults as the flags (checked by a test).
    fn default() -> Self {
        let workflow = WorkflowLimits::default();
        let sub_workflows = SubWorkflowLimits::default();
        let wide = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Self {
            max_workflow_nodes: wide(workflow.max_nodes),
            max_workflow_bytes: wide(workflow.max_definition_bytes),
            max_node_fanout: wide(workflow.max_fan_out),
            max_items_per_node: wide(DEFAULT_MAX_ITEMS_PER_NODE),
            max_descendants: sub_workflows.max_descendants,
            max_starts_per_sec_per_workflow: sub_workflows.max_starts_per_sec_per_workflow,
        }
    }
}

impl LimitsArgs {
    /// The bounds a workflow definition must fit.
    pub fn workflow_limits(&self) -> WorkflowLimits {
        WorkflowLimits {
            max_nodes: size(self.max_workflow_nodes),
            max_definition_bytes: size(self.max_workflow_bytes),
            max_fan_out: size(self.max_node_fanout),
        }
    }

    /// The most items one node attempt may output.
    pub fn max_items_per_node(&self) -> usize {
        size(self.max_items_per_node)
    }

    /// The bounds on sub-workflow starts.
    pub fn sub_workflow_limits(&self) -> SubWorkflowLimits {
        SubWorkflowLimits {
            max_descendants: self.max_descendants,
            max_starts_per_sec_per_workflow: self.max_starts_per_sec_per_workflow,
        }
    }
}

/// The environment variable that sets `limit`, for errors that tell the user
/// what to raise.
pub const fn workflow_limit_setting(limit: WorkflowLimit) -> &'static str {
    match limit {
        WorkflowLimit::Nodes => "FLOWFORGE_MAX_WORKFLOW_NODES",
        WorkflowLimit::DefinitionBytes => "FLOWFORGE_MAX_WORKFLOW_BYTES",
        WorkflowLimit::FanOut => "FLOWFORGE_MAX_NODE_FANOUT",
    }
}

/// A configured count as a size; past the platform's range it is unbounded.
fn size(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// How accounts sign in: Argon2id's cost and how long tokens live.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// Argon2id memory per password hash, in KiB.
    #[arg(long, env = "FLOWFORGE_ARGON2_MEMORY_KIB", default_value_t = 19 * 1024, value_parser = clap::value_parser!(u32).range(8..=4 * 1024 * 1024))]
    pub argon2_memory_kib: u32,

    /// Argon2id passes over that memory.
    #[arg(long, env = "FLOWFORGE_ARGON2_ITERATIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub argon2_iterations: u32,

    /// How long an access token (JWT) is valid, in seconds.
    #[arg(long, env = "FLOWFORGE_ACCESS_TOKEN_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub access_token_secs: u64,

    /// How long a session lasts without a refresh, in days.
    #[arg(long, env = "FLOWFORGE_SESSION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub session_days: u32,

    /// Let anyone register an account (without a workspace) once the
    /// installation has its first owner; by default only invitees can.
    #[arg(long, env = "FLOWFORGE_OPEN_REGISTRATION")]
    pub open_registration: bool,

    /// How long an invitation to a workspace stays valid, in days.
    #[arg(long, env = "FLOWFORGE_INVITATION_DAYS", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub invitation_days: u32,
}

impl Default for AuthArgs {
    fn default() -> Self {
        Self {
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            access_token_secs: 900,
            session_days: 30,
            open_registration: false,
            invitation_days: 7,
        }
    }
}

impl AuthArgs {
    /// Argon2id's parameters (one lane).
    pub fn argon2(&self) -> Argon2Settings {
        Argon2Settings {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: 1,
        }
    }
}

/// Rate limits (token buckets): per caller (account or API key) on the API,
/// per path on webhooks, per source address on sign-in and registration.
/// A request over its limit answers 429 `rate_limited` with `Retry-After`.
/// A rate of 0 turns that limit off.
#[derive(Debug, Clone, Args)]
pub struct RateLimitArgs {
    /// API requests per second per caller (refilled continuously).
    #[arg(long, env = "FLOWFORGE_API_RATE", default_value_t = 200)]
    pub api_rate: u32,
    /// How many API requests a caller may make at once before the rate applies.
    #[arg(long, env = "FLOWFORGE_API_BURST", default_value_t = 400)]
    pub api_burst: u32,
    /// Webhook calls per second per webhook path.
    #[arg(long, env = "FLOWFORGE_WEBHOOK_RATE", default_value_t = 5000)]
    pub webhook_rate: u32,
    /// How many webhook calls a path takes at once before the rate applies.
    #[arg(long, env = "FLOWFORGE_WEBHOOK_BURST", default_value_t = 10000)]
    pub webhook_burst: u32,
    /// Sign-in, registration and refresh attempts per minute per source address.
    #[arg(long, env = "FLOWFORGE_SIGN_IN_RATE", default_value_t = 30)]
    pub sign_in_per_minute: u32,
    /// How many such attempts an address may make at once.
    #[arg(long, env = "FLOWFORGE_SIGN_IN_BURST", default_value_t = 10)]
    pub sign_in_burst: u32,
}

impl Default for RateLimitArgs {
    fn default() -> Self {
        Self {
            api_rate: 200,
            api_burst: 400,
            webhook_rate: 5000,
            webhook_burst: 10000,
            sign_in_per_minute: 30,
            sign_in_burst: 10,
        }
    }
}

impl RateLimitArgs {
    /// No limits at all (tests about other things).
    pub fn off() -> Self {
        Self {
            api_rate: 0,
            webhook_rate: 0,
            sign_in_per_minute: 0,
            ..Self::default()
        }
    }
}

/// TLS on both sides: the certificate `serve` terminates HTTPS with (when
/// given), and the extra CA bundle every outbound connection trusts beside
/// the public webpki roots.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// PEM file of the certificate chain to serve HTTPS with (leaf first).
    /// Re-read on SIGHUP and when the file changes; with it, every response
    /// carries `Strict-Transport-Security`.
    #[arg(long, env = "FLOWFORGE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM file of the private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, env = "FLOWFORGE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM bundle of CA certificates that outbound TLS (the HTTP Request
    /// node, OTLP export) trusts in addition to the public webpki roots, for
    /// services behind a private CA.
    #[arg(long, env = "FLOWFORGE_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

impl TlsArgs {
    /// What outbound TLS trusts: the public roots, plus `--ca-file`.
    ///
    /// # Errors
    /// [`TrustError`] when the CA file cannot be read or holds no usable
    /// certificate.
    pub fn outbound_trust(&self) -> Result<TlsTrust, TrustError> {
        match &self.ca_file {
            Some(path) => TlsTrust::with_ca_file(path),
            None => Ok(TlsTrust::public_roots()),
        }
    }

    /// The certificate and key files to serve HTTPS with, if both are set.
    pub fn server_files(&self) -> Option<(&Path, &Path)> {
        Some((self.tls_cert.as_deref()?, self.tls_key.as_deref()?))
    }
}

/// What nodes may connect to and how often: the guard against server-side
/// request forgery, the circuit breakers, and the call limits.
#[derive(Debug, Clone, Args)]
pub struct OutboundArgs {
    /// Destinations nodes may reach beyond public addresses: CIDRs
    /// (`10.0.0.0/8`), addresses, host names and `*.suffix` patterns,
    /// comma-separated. Loopback, private, link-local (cloud metadata) and
    /// other non-public addresses are refused unless listed here.
    #[arg(long = "outbound-allow", env = "FLOWFORGE_OUTBOUND_ALLOW")]
    pub allow: Option<String>,

    /// Failures in a row (no answer, or a 5xx) after which calls to an
    /// outbound host fail at once for the cool-down; 0 turns breakers off.
    #[arg(long, env = "FLOWFORGE_CIRCUIT_FAILURES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub circuit_failures: u32,

    /// How long an open circuit refuses calls before one probe, in seconds.
    #[arg(long, env = "FLOWFORGE_CIRCUIT_COOLDOWN_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub circuit_cooldown_secs: u64,

    /// Outbound calls one execution may make over its whole run; past it a
    /// node's call fails with `outbound_limit`. 0: unbounded.
    #[arg(
        long,
        env = "FLOWFORGE_OUTBOUND_MAX_CALLS_PER_EXECUTION",
        default_value_t = 10_000
    )]
    pub max_calls_per_execution: u32,

    /// Outbound calls one workspace's executions may make per minute (on
    /// each instance); past it a node's call fails with `outbound_limit`
    /// (retry policies apply). 0: unbounded.
    #[arg(
        long,
        env = "FLOWFORGE_OUTBOUND_MAX_CALLS_PER_WORKSPACE_PER_MINUTE",
        default_value_t = 60_000
    )]
    pub max_calls_per_workspace_per_minute: u32,
}

impl Default for OutboundArgs {
    /// The same defaults as the flags (checked by a test).
    fn default() -> Self {
        let calls = CallLimitSettings::default();
        let circuits = CircuitSettings::default();
        Self {
            allow: None,
            circuit_failures: circuits.failures,
            circuit_cooldown_secs: circuits.cool_down.as_secs(),
            max_calls_per_execution: calls.per_execution,
            max_calls_per_workspace_per_minute: calls.per_workspace_per_minute,
        }
    }
}

impl OutboundArgs {
    /// The circuit breakers' settings.
    pub fn circuit_settings(&self) -> CircuitSettings {
        CircuitSettings {
            failures: self.circuit_failures,
            cool_down: Duration::from_secs(self.circuit_cooldown_secs),
        }
    }

    /// The call limits' settings.
    pub fn call_limits(&self) -> CallLimitSettings {
        CallLimitSettings {
            per_execution: self.max_calls_per_execution,
            per_workspace_per_minute: self.max_calls_per_workspace_per_minute,
        }
    }
}

/// What the server reports about itself besides `/metrics`.
#[derive(Debug, Clone, Args)]
pub struct TelemetryArgs {
    /// Log format: `text` for people, `json` for one object per line with
    /// `trace_id` and `correlation_id`.
    #[arg(long, env = "FLOWFORGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Base URL of an OTLP/HTTP collector (`http://localhost:4318`, or
    /// `https://…`, verified against the public roots and `--ca-file`): traces are
    /// exported to its `/v1/traces` as protobuf. Without it no traces are
    /// recorded. `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER` and the
    /// `OTEL_BSP_*` batch settings are honoured.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = parse_http_url)]
    pub otlp_endpoint: Option<String>,
}

impl TelemetryArgs {
    /// The settings for [`flowforge_monitoring::telemetry::init`], with an
    /// `https://` collector verified against `tls_trust`.
    pub fn settings(&self, tls_trust: TlsTrust) -> TelemetrySettings {
        TelemetrySettings {
            tls_trust,
            log_format: match self.log_format {
                LogFormat::Text => flowforge_monitoring::telemetry::LogFormat::Text,
                LogFormat::Json => flowforge_monitoring::telemetry::LogFormat::Json,
            },
            default_filter: "info,sqlx=warn".to_owned(),
            log_to_stderr: false,
            otlp_endpoint: self.otlp_endpoint.clone(),
        }
    }
}

impl ServeArgs {
    /// The bounds of the execution backlog.
    pub fn backlog_limits(&self) -> flowforge_engine::backlog::BacklogLimits {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        flowforge_engine::backlog::BacklogLimits {
            global: size(self.max_pending_executions),
            per_workflow: size(self.max_pending_per_workflow),
            async_share_percent: size(self.async_backlog_percent),
        }
    }

    /// How long running node attempts may take to finish at shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// How the orchestrator runs node attempts.
    pub fn orchestrator_settings(&self) -> flowforge_engine::OrchestratorSettings {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        flowforge_engine::OrchestratorSettings {
            attempts: flowforge_engine::AttemptLimits {
                total: size(self.max_concurrent_attempts),
                per_execution: size(self.max_attempts_per_execution),
            },
            shutdown_grace: self.shutdown_grace(),
        }
    }

    /// The read-your-writes wait bound.
    pub fn consistency_timeout(&self) -> Duration {
        Duration::from_millis(self.consistency_timeout_ms)
    }
}

/// Where events are fanned out.
#[derive(Debug, Clone, Args)]
pub struct BusArgs {
    /// NATS server URL: events are published to JetStream and projections read
    /// them from there. Without it, an in-process bus follows the store.
    #[arg(long, env = "NATS_URL", value_parser = parse_nats_url)]
    pub nats_url: Option<String>,

    /// The JetStream stream holding FlowForge's events.
    #[arg(long, env = "FLOWFORGE_NATS_STREAM", default_value = "FLOWFORGE_EVENTS", value_parser = parse_stream_name)]
    pub nats_stream: String,

    /// The subject prefix of FlowForge's events (`<prefix>.<aggregate_type>.<id>`).
    #[arg(long, env = "FLOWFORGE_NATS_SUBJECT_PREFIX", default_value = "flowforge.events", value_parser = parse_subject_prefix)]
    pub nats_subject_prefix: String,
}

impl BusArgs {
    /// The JetStream settings, when a NATS URL is configured.
    pub fn jetstream(&self) -> Option<JetStreamSettings> {
        self.nats_url.as_ref().map(|url| JetStreamSettings {
            url: url.clone(),
            stream: self.nats_stream.clone(),
            subject_prefix: self.nats_subject_prefix.clone(),
        })
    }
}

fn parse_stream_name(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err("use 1-64 characters of A-Z, a-z, 0-9, '-' and '_'".to_owned())
    }
}

fn parse_subject_prefix(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.split('.').all(|token| {
            !token.is_empty()
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(value.to_owned())
    } else {
        Err("use dot-separated tokens of A-Z, a-z, 0-9, '-' and '_' (no wildcards)".to_owned())
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn parse_database_url(value: &str) -> Result<String, String> {
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        Ok(value.to_owned())
    } else {
        Err("expected a postgres:// or postgresql:// URL".to_owned())
    }
}

/// An OTLP collector's URL; plain HTTP only (a collector beside the server
/// or a sidecar), since the exporter is built without TLS.
fn parse_http_url(value: &str) -> Result<String, String> {
    match value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
    {
        Some(host) if !host.is_empty() => Ok(value.to_owned()),
        _ => Err("expected an http://host:port or https://host:port URL".to_owned()),
    }
}

fn parse_nats_url(value: &str) -> Result<String, String> {
    let rest = ["nats://", "tls://", "ws://", "wss://"]
        .iter()
        .find_map(|scheme| value.strip_prefix(scheme));
    match rest {
        Some(host) if !host.is_empty() => Ok(value.to_owned()),
        _ => Err("expected a nats://host:port URL".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let argv = ["flowforge", "serve"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Serve(serve) => Ok(*serve),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn the_limit_flags_default_to_the_documented_values() {
        let args = serve(&[]).expect("defaults parse");
        let defaults = LimitsArgs::default();
        assert_eq!(args.limits.max_workflow_nodes, defaults.max_workflow_nodes);
        assert_eq!(args.limits.max_workflow_bytes, defaults.max_workflow_bytes);
        assert_eq!(args.limits.max_node_fanout, defaults.max_node_fanout);
        assert_eq!(args.limits.max_items_per_node, defaults.max_items_per_node);
        assert_eq!(args.limits.max_descendants, defaults.max_descendants);
        assert_eq!(
            args.limits.max_starts_per_sec_per_workflow,
            defaults.max_starts_per_sec_per_workflow
        );
        assert_eq!(args.limits.workflow_limits(), WorkflowLimits::default());
        assert_eq!(args.limits.max_descendants, 1_000);
    }

    #[test]
    fn the_outbound_flags_default_to_the_documented_values() {
        let args = serve(&[]).expect("defaults parse");
        let defaults = OutboundArgs::default();
        assert_eq!(args.outbound.call_limits(), defaults.call_limits());
        assert_eq!(
            args.outbound.circuit_settings(),
            defaults.circuit_settings()
        );
        assert_eq!(args.outbound.allow, None);
    }

    #[test]
    fn a_certificate_needs_its_key_and_the_key_its_certificate() {
        assert!(serve(&["--tls-cert", "cert.pem"]).is_err());
        assert!(serve(&["--tls-key", "key.pem"]).is_err());
        let args = serve(&["--tls-cert", "cert.pem", "--tls-key", "key.pem"]).expect("a pair");
        assert!(args.tls.server_files().is_some());
    }

    #[test]
    fn a_zero_limit_is_refused_naming_the_flag() {
        let error = serve(&["--max-descendants", "0"])
            .expect_err("0 is out of range")
            .to_string();
        assert!(error.contains("--max-descendants"), "{error}");
    }

    #[test]
    fn traces_are_off_without_an_endpoint() {
        let args = serve(&[]).expect("defaults parse");
        assert_eq!(args.telemetry.otlp_endpoint, None);
        assert_eq!(
            args.telemetry
                .settings(TlsTrust::public_roots())
                .otlp_endpoint,
            None
        );
    }

    #[test]
    fn an_otlp_endpoint_is_an_http_or_https_url() {
        for good in ["http://collector:4318", "https://collector:4318"] {
            let args = serve(&["--otlp-endpoint", good]).expect(good);
            assert_eq!(args.telemetry.otlp_endpoint.as_deref(), Some(good));
        }
        for bad in ["collector:4318", "http://", "ftp://collector"] {
            let error = serve(&["--otlp-endpoint", bad]).expect_err(bad).to_string();
            assert!(error.contains("--otlp-endpoint"), "{error}");
        }
    }
}
