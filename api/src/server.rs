//! Wires one FlowForge process: opens the database and migrates it, starts the
//! projections, and serves the API until the shutdown token is cancelled. The
//! binary and the integration tests both start FlowForge through [`start`].

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use flowforge_commands::{
    accounts::{Accounts, PasswordError, Passwords, SecondFactorError, SecondFactorKey},
    credentials::Vault,
    variables::WorkspaceVariables,
    workspaces::Workspaces,
    CommandBus,
};
use flowforge_engine::{
    backlog::{follower, Backlog},
    triggers::webhooks::WebhookRegistry,
    ExecutionOrchestrator, ExecutionWorkspace, NatsPublisher, NatsTriggers, Scheduler,
    StoredVariables, SubWorkflowStarter, VaultCredentials, WorkspaceCallBudget,
};
use flowforge_infra::{
    bus::{
        failover::FailoverSource,
        jetstream::{publisher::EventPublisher, JetStreamBus},
        store_tail::StoreTailSource,
        EventSource, SubscriptionError,
    },
    checkpoints::Checkpoints,
    database::{redact, Database, DatabaseError},
    event_store::{upcasting::Upcasters, EventStore, Position},
    keys::{Keyring, KeyringError, MasterKey, MasterKeyError, MasterKeyOrigin, DEFAULT_KEY_FILE},
    leadership::Leadership,
    read_model::{
        live_execution_views, live_saga_views, AuditLog, ExecutionViews, SagaViews,
        WORKFLOWS_PROJECTION,
    },
    secrets::{SecretError, RESUME_LINK_KEY, SECOND_FACTOR_KEY},
};
use flowforge_nodes::{resume::ResumeLinks, NodeRegistry};
use flowforge_outbound::{
    CallLimits, CircuitBreakers, InvalidAllowEntry, OutboundPolicy, TlsTrust, TrustError,
};
use flowforge_projections::{catalog, ProjectionProgress, ProjectionRunner};
use flowforge_sagas::SagaManager;
use flowforge_script::ExpressionEngine;
use tokio::{net::TcpListener, sync::watch, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::{
    access_tokens::AccessTokens,
    config::{ServeArgs, StorageArgs},
    routes,
    state::AppState,
    tls::{ServerTls, ServerTlsError},
};

/// How often a follower of the store reads it without being told of an
/// append: a safety net, as appends wake followers at once (other instances'
/// too, through PostgreSQL notifications).
const STORE_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// The name of the access-token signing key among the deployment's secrets.
const ACCESS_TOKEN_KEY: &str = "access_token_key_1";
/// How many recently used aggregates the process keeps in memory, so the
/// next step of a running execution reads only its newest events.
const AGGREGATE_CACHE_CAPACITY: usize = 512;

/// Why FlowForge could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// NATS could not be set up.
    #[error(transparent)]
    Bus(#[from] SubscriptionError),
    /// The deployment's secrets could not be read or created.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The CA bundle for outbound TLS (`--ca-file`) is unusable.
    #[error(transparent)]
    OutboundTrust(#[from] TrustError),
    /// The master key is missing, malformed, or not this database's.
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    /// The data keys could not be read, or the master key does not open them.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The password hashing parameters are out of range.
    #[error(transparent)]
    Passwords(#[from] PasswordError),
    /// The key authenticator secrets are sealed with is unusable.
    #[error(transparent)]
    SecondFactor(#[from] SecondFactorError),
    /// The certificate or key to serve HTTPS with is unusable.
    #[error(transparent)]
    ServerTls(#[from] ServerTlsError),
    /// An entry of `--outbound-allow` is not one.
    #[error(transparent)]
    OutboundAllow(#[from] InvalidAllowEntry),
    /// A configured CORS origin is not one.
    #[error(transparent)]
    Cors(#[from] crate::cors::InvalidOrigin),
    /// `FLOWFORGE_ENV_ALLOW` lists a variable that holds the server's own
    /// secrets.
    #[error("FLOWFORGE_ENV_ALLOW lists {0}, which holds the server's own configuration or secrets; expressions may not read it")]
    EnvAllow(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The configured address.
        address: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// A started FlowForge process.
pub struct RunningServer {
    /// Where the API listens (the real port when 0 was configured).
    pub local_addr: SocketAddr,
    tasks: JoinSet<()>,
    database: Database,
    shutdown: CancellationToken,
    /// How long shutdown may take before the tasks still running are aborted.
    stop_within: Duration,
}

/// How long shutdown may take beyond the node attempts' grace period (for
/// the last outcomes and checkpoints to be written) before tasks are aborted.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(10);

impl RunningServer {
    /// Waits until every task has finished (after the shutdown token is
    /// cancelled; tasks still running after the grace period and some slack
    /// are aborted), then closes the database.
    pub async fn wait(mut self) {
        let mut give_up_at: Option<tokio::time::Instant> = None;
        loop {
            let give_up = async {
                match give_up_at {
                    None => self.shutdown.cancelled().await,
                    Some(at) => tokio::time::sleep_until(at).await,
                }
            };
            tokio::select! {
                joined = self.tasks.join_next() => match joined {
                    None => break,
                    Some(Err(failed)) if failed.is_panic() => {
                        error!(panic = %failed, "a FlowForge task ended abnormally");
                    }
                    Some(_) => {}
                },
                () = give_up => {
                    if give_up_at.is_some() {
                        warn!(left = self.tasks.len(), "shutdown took too long; stopping the remaining tasks");
                        self.tasks.abort_all();
                    }
                    give_up_at = Some(tokio::time::Instant::now() + self.stop_within);
                }
            }
        }
        self.database.close().await;
    }
}

/// Opens and migrates the configured database.
pub async fn open_database(storage: &StorageArgs) -> Result<Database, DatabaseError> {
    let database = match &storage.database_url {
        Some(url) => {
            info!(database = %redact(url), "using PostgreSQL");
            Database::connect_postgres(url, storage.db_max_connections).await?
        }
        None => {
            info!(data_dir = %storage.data_dir.display(), "using the embedded SQLite store");
            Database::open_sqlite(&storage.data_dir).await?
        }
    };
    database.migrate().await?;
    Ok(database)
}

/// Starts FlowForge; it runs until `shutdown` is cancelled. Each step is
/// one of the functions below, in the order the process needs them.
pub async fn start(
    args: &ServeArgs,
    shutdown: CancellationToken,
) -> Result<RunningServer, StartError> {
    let trust = args.tls.outbound_trust()?;
    let server_tls = match args.tls.server_files() {
        Some((cert, key)) => Some(ServerTls::load(cert, key)?),
        None => None,
    };
    let mut process = open_write_side(args, &trust, shutdown).await?;
    let feed = start_event_feed(&mut process, args).await?;
    let progress = start_projections(&mut process, &feed);
    let runtime = start_process_managers(&mut process, args, &trust, &feed, &progress).await?;
    let backlog = start_backlog(&mut process, args);
    let identity = open_accounts(&process, args).await?;
    let state = app_state(&process, args, feed, progress, runtime, backlog, identity);
    serve(process, args, server_tls, state).await
}

/// What every later step shares: the write side, the process's tasks and
/// its shutdown token.
struct Process {
    database: Database,
    vault: Vault,
    destinations: OutboundPolicy,
    circuits: Arc<CircuitBreakers>,
    store: Arc<dyn EventStore>,
    commands: CommandBus,
    leadership: Leadership,
    checkpoints: Checkpoints,
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

/// Where the readers of the log get events from: NATS JetStream (with the
/// publisher that feeds it, falling back to the store), or the store itself.
struct EventFeed {
    source: Arc<dyn EventSource>,
    publisher: Option<watch::Receiver<Position>>,
    nats: Option<JetStreamBus>,
}

/// What the process managers tell the API: whether executions left open
/// have been resumed, and when this instance runs no more node attempts.
struct Runtime {
    resumed: watch::Receiver<bool>,
    stopped: CancellationToken,
}

/// Opens and migrates the database, builds the event store and the command
/// bus over it, and follows other writers' appends.
async fn open_write_side(
    args: &ServeArgs,
    trust: &TlsTrust,
    shutdown: CancellationToken,
) -> Result<Process, StartError> {
    let database = open_database(&args.storage).await?;
    let keyring = Arc::new(open_keyring(&args.storage, &database).await?);
    let store: Arc<dyn EventStore> = database.event_store(Upcasters::default());
    let mut tasks = JoinSet::new();
    {
        let (store, shutdown) = (store.clone(), shutdown.clone());
        tasks.spawn(async move { store.follow_other_writers(shutdown).await });
    }
    let commands = CommandBus::with_cache(store.clone(), AGGREGATE_CACHE_CAPACITY);
    let destinations = destinations(args)?;
    Ok(Process {
        vault: Vault::new(commands.clone(), keyring.clone())
            .with_outbound(trust, destinations.clone())?,
        commands,
        leadership: Leadership::for_database(&database),
        checkpoints: Checkpoints::new(database.clone()),
        database,
        destinations,
        circuits: Arc::new(CircuitBreakers::new(args.outbound.circuit_settings())),
        store,
        tasks,
        shutdown,
    })
}

/// The data keys under the configured master key (or the one in the data
/// directory, made on first start with a warning to back it up); a master
/// key that does not open this database's keys stops the start.
pub async fn open_keyring(
    storage: &StorageArgs,
    database: &Database,
) -> Result<Keyring, StartError> {
    let (master, origin) = MasterKey::load(
        storage.encryption_key.as_deref(),
        storage.encryption_key_file.as_deref(),
        &storage.data_dir.join(DEFAULT_KEY_FILE),
    )?;
    match &origin {
        MasterKeyOrigin::Generated(path) => warn!(
            path = %path.display(),
            "created a new master key: BACK IT UP. Without this file every credential sealed \
             under it is lost; every instance on this database needs the same key \
             (FLOWFORGE_ENCRYPTION_KEY or FLOWFORGE_ENCRYPTION_KEY_FILE)"
        ),
        MasterKeyOrigin::File(path) => info!(path = %path.display(), "master key read from file"),
        MasterKeyOrigin::Configured => info!("master key from FLOWFORGE_ENCRYPTION_KEY"),
    }
    let previous = storage
        .encryption_key_previous
        .as_deref()
        .map(|text| MasterKey::parse(text, "FLOWFORGE_ENCRYPTION_KEY_PREVIOUS"))
        .transpose()?;
    if previous.is_some() {
        info!("a master-key rotation is under way: keys under the previous key open too");
    }
    Ok(Keyring::open(database.clone(), master, previous).await?)
}

/// Connects to NATS and starts the publisher when NATS is configured;
/// otherwise readers tail the store.
async fn start_event_feed(
    process: &mut Process,
    args: &ServeArgs,
) -> Result<EventFeed, StartError> {
    let Some(settings) = args.bus.jetstream() else {
        let tail = StoreTailSource::new(process.store.clone(), STORE_POLL_INTERVAL);
        return Ok(EventFeed {
            source: Arc::new(tail),
            publisher: None,
            nats: None,
        });
    };
    info!(url = %settings.url, stream = %settings.stream, "using NATS JetStream");
    let bus = JetStreamBus::connect(settings).await?;
    let publisher = EventPublisher::new(
        process.store.clone(),
        bus.clone(),
        process.checkpoints.clone(),
        process.leadership.clone(),
        STORE_POLL_INTERVAL,
    );
    let published = publisher.published();
    process.tasks.spawn(publisher.run(process.shutdown.clone()));
    let source = FailoverSource::new(bus.clone(), process.store.clone(), STORE_POLL_INTERVAL);
    Ok(EventFeed {
        source: Arc::new(source),
        publisher: Some(published),
        nats: Some(bus),
    })
}

/// Starts every live projection; returns each one's progress by name.
fn start_projections(
    process: &mut Process,
    feed: &EventFeed,
) -> HashMap<&'static str, ProjectionProgress> {
    let mut progress = HashMap::new();
    for projection in catalog::live_projections(&process.database) {
        let name = projection.name();
        let runner = ProjectionRunner::new(projection);
        progress.insert(name, runner.progress());
        process.tasks.spawn(runner.run(
            feed.source.clone(),
            process.leadership.clone(),
            process.shutdown.clone(),
        ));
    }
    progress
}

/// Builds the node library and starts what runs workflows: the NATS
/// triggers, the orchestrator, the saga manager and the scheduler.
async fn start_process_managers(
    process: &mut Process,
    args: &ServeArgs,
    trust: &TlsTrust,
    feed: &EventFeed,
    progress: &HashMap<&'static str, ProjectionProgress>,
) -> Result<Runtime, StartError> {
    let Process {
        database,
        vault,
        destinations,
        circuits,
        commands,
        leadership,
        checkpoints,
        tasks,
        shutdown,
        ..
    } = process;
    let workflow_views = database.workflow_views();
    let workflow_changes = progress
        .get(WORKFLOWS_PROJECTION)
        .map(ProjectionProgress::changes);
    let resume_key = database.secret(RESUME_LINK_KEY).await?;
    let execution_workspace = ExecutionWorkspace::new(commands.clone(), workspaces(commands, args));
    let mut registry = NodeRegistry::new(ExpressionEngine::new())
        .with_sub_workflows(Arc::new(SubWorkflowStarter::with_limits(
            commands.clone(),
            args.limits.sub_workflow_limits(),
        )))
        .with_resume_links(ResumeLinks::new(resume_key.into_bytes()))
        .with_max_items_per_node(args.limits.max_items_per_node())
        .with_credentials(Arc::new(VaultCredentials::new(
            vault.clone(),
            execution_workspace.clone(),
        )))
        .with_variables(Arc::new(StoredVariables::new(
            WorkspaceVariables::new(commands.clone()),
            execution_workspace.clone(),
        )))
        .with_call_budget(Arc::new(WorkspaceCallBudget::new(
            CallLimits::new(args.outbound.call_limits()),
            execution_workspace,
        )))
        .with_circuit_breakers(circuits.clone())
        .with_outbound(trust, destinations.clone())?
        .with_oauth2_tokens(vault.oauth2_tokens().clone());
    if let Some(ca) = trust.ca_source() {
        info!(%ca, roots = trust.extra_roots(), "outbound TLS also trusts a CA bundle");
    }
    if let Some(names) = &args.env_allow {
        let env = allowed_env(names)?;
        info!(names = ?env.keys().collect::<Vec<_>>(), "expressions may read these environment variables as $env");
        registry = registry.with_env(env);
    }
    if let Some(bus) = &feed.nats {
        registry = registry.with_publisher(Arc::new(NatsPublisher::new(bus.client().clone())));
        let triggers = NatsTriggers::new(
            bus.client().clone(),
            commands.clone(),
            workflow_views.clone(),
            shutdown.clone(),
        )
        .with_workflow_changes(workflow_changes.clone());
        tasks.spawn(triggers.run());
    }
    let executor = Arc::new(registry);
    let orchestrator = ExecutionOrchestrator::new(
        commands.clone(),
        executor.clone(),
        ExecutionViews::at(database.clone(), live_execution_views()),
        shutdown.clone(),
        args.orchestrator_settings(),
    );
    let resumed = orchestrator.resumed();
    let stopped = CancellationToken::new();
    {
        let (source, leadership, stopped) =
            (feed.source.clone(), leadership.clone(), stopped.clone());
        tasks.spawn(async move {
            orchestrator.run(source, leadership).await;
            stopped.cancel();
        });
    }
    let saga_manager = SagaManager::new(
        commands.clone(),
        executor,
        SagaViews::at(database.clone(), live_saga_views()),
        checkpoints.clone(),
        shutdown.clone(),
    );
    tasks.spawn(saga_manager.run(feed.source.clone(), leadership.clone()));
    let scheduler = Scheduler::new(commands.clone(), workflow_views, shutdown.clone())
        .with_workflow_changes(workflow_changes);
    tasks.spawn(scheduler.run());
    Ok(Runtime { resumed, stopped })
}

/// The bound on pending executions, kept current from the log.
fn start_backlog(process: &mut Process, args: &ServeArgs) -> Arc<Backlog> {
    let backlog = Arc::new(Backlog::new(args.backlog_limits()));
    process.tasks.spawn(follower::follow(
        backlog.clone(),
        process.store.clone(),
        ExecutionViews::at(process.database.clone(), live_execution_views()),
        STORE_POLL_INTERVAL,
        process.shutdown.clone(),
    ));
    backlog
}

/// The account use cases and the access-token keys (kept among the
/// deployment's secrets, so every instance signs and verifies alike).
async fn open_accounts(
    process: &Process,
    args: &ServeArgs,
) -> Result<(Accounts, AccessTokens), StartError> {
    let passwords = Passwords::new(args.auth.argon2())?;
    let session_lifetime = chrono::Duration::days(i64::from(args.auth.session_days));
    let second_factor =
        SecondFactorKey::from_hex(&process.database.secret(SECOND_FACTOR_KEY).await?)?;
    let accounts = Accounts::new(
        process.commands.clone(),
        passwords,
        session_lifetime,
        second_factor,
    );
    let key = process.database.secret(ACCESS_TOKEN_KEY).await?;
    let lifetime = Duration::from_secs(args.auth.access_token_secs);
    Ok((accounts, AccessTokens::new("1", key.as_bytes(), lifetime)))
}

/// Where nodes may connect: public addresses, and what `--outbound-allow`
/// adds.
fn destinations(args: &ServeArgs) -> Result<OutboundPolicy, InvalidAllowEntry> {
    let policy = OutboundPolicy::allowing(args.outbound.allow.as_deref().unwrap_or_default())?;
    if args.outbound.allow.is_some() {
        info!(
            allowed = args.outbound.allow.as_deref(),
            "nodes may also reach these destinations"
        );
    }
    Ok(policy)
}

/// The environment variables `names` (comma-separated) lists, with their
/// values now; a listed name the environment lacks is left out.
///
/// # Errors
/// [`StartError::EnvAllow`] for a name that configures the server itself
/// (`FLOWFORGE_*`, `OTEL_*`, `DATABASE_URL`, `NATS_URL`): its value would be
/// one expression away from every workspace.
fn allowed_env(names: &str) -> Result<std::collections::BTreeMap<String, String>, StartError> {
    let mut env = std::collections::BTreeMap::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let own = name.starts_with("FLOWFORGE_")
            || name.starts_with("OTEL_")
            || matches!(name, "DATABASE_URL" | "NATS_URL");
        if own {
            return Err(StartError::EnvAllow(name.to_owned()));
        }
        if let Ok(value) = std::env::var(name) {
            env.insert(name.to_owned(), value);
        }
    }
    Ok(env)
}

/// The workspace use cases, with invitations valid as configured.
fn workspaces(commands: &CommandBus, args: &ServeArgs) -> Workspaces {
    Workspaces::new(
        commands.clone(),
        chrono::Duration::days(i64::from(args.auth.invitation_days)),
    )
}

/// What every handler receives.
fn app_state(
    process: &Process,
    args: &ServeArgs,
    feed: EventFeed,
    progress: HashMap<&'static str, ProjectionProgress>,
    runtime: Runtime,
    backlog: Arc<Backlog>,
    (accounts, access_tokens): (Accounts, AccessTokens),
) -> AppState {
    let database = &process.database;
    AppState {
        accounts,
        vault: process.vault.clone(),
        public_url: args
            .public_url
            .as_deref()
            .map(|url| url.trim_end_matches('/').to_owned()),
        serves_tls: args.tls.server_files().is_some(),
        variables: WorkspaceVariables::new(process.commands.clone()),
        circuits: process.circuits.clone(),
        workspaces: workspaces(&process.commands, args),
        open_registration: args.auth.open_registration,
        rate_limits: Arc::new(crate::routes::rate_limit::RateLimits::new(
            &args.rate_limits,
        )),
        access_tokens: Arc::new(access_tokens),
        commands: process.commands.clone(),
        store: process.store.clone(),
        workflows: database.workflow_views(),
        audit_log: AuditLog::new(database.clone()),
        executions: ExecutionViews::at(database.clone(), live_execution_views()),
        sagas: SagaViews::at(database.clone(), live_saga_views()),
        checkpoints: process.checkpoints.clone(),
        progress: Arc::new(progress),
        publisher: feed.publisher,
        nats: feed.nats,
        backlog,
        resumed: runtime.resumed,
        webhooks: Arc::new(WebhookRegistry::default()),
        consistency_timeout: args.consistency_timeout(),
        publisher_stall: Duration::from_secs(args.publisher_stall_secs),
        publisher_seen: Arc::default(),
        stopped: runtime.stopped,
        max_body_bytes: args.max_body_bytes,
        workflow_limits: args.limits.workflow_limits(),
    }
}

/// Binds the listen address and serves the routes until shutdown, over
/// HTTPS when a certificate is configured.
async fn serve(
    mut process: Process,
    args: &ServeArgs,
    tls: Option<ServerTls>,
    state: AppState,
) -> Result<RunningServer, StartError> {
    let bind_error = |source| StartError::Bind {
        address: args.listen,
        source,
    };
    let listener = TcpListener::bind(args.listen).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let app = routes::router(state);
    let app = match crate::cors::layer(&args.cors_origins)? {
        Some(cors) => app.layer(cors),
        None => app,
    };
    let stop_serving = process.shutdown.clone();
    match tls {
        None => {
            process.tasks.spawn(async move {
                let served = axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                )
                .with_graceful_shutdown(stop_serving.cancelled_owned())
                .await;
                if let Err(error) = served {
                    error!(%error, "HTTP server failed");
                }
            });
        }
        Some(tls) => {
            let app = app.layer(axum::middleware::map_response(
                crate::tls::strict_transport_security,
            ));
            let listener = listener.into_std().map_err(bind_error)?;
            let server =
                axum_server::from_tcp_rustls(listener, tls.config()).map_err(bind_error)?;
            let handle = axum_server::Handle::new();
            process.tasks.spawn(tls.watch(stop_serving.clone()));
            {
                let handle = handle.clone();
                process.tasks.spawn(async move {
                    stop_serving.cancelled().await;
                    handle.graceful_shutdown(None);
                });
            }
            process.tasks.spawn(async move {
                if let Err(error) = server
                    .handle(handle)
                    .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                    .await
                {
                    error!(%error, "HTTPS server failed");
                }
            });
        }
    }
    info!(%local_addr, backend = process.database.backend_name(), "FlowForge is listening");
    Ok(RunningServer {
        local_addr,
        tasks: process.tasks,
        database: process.database,
        shutdown: process.shutdown,
        stop_within: args.shutdown_grace() + SHUTDOWN_SLACK,
    })
}

#[cfg(test)]
mod tests {
    use super::{allowed_env, StartError};

    #[test]
    fn the_server_s_own_variables_cannot_be_opened_to_expressions() {
        for own in [
            "FLOWFORGE_ENCRYPTION_KEY",
            "DATABASE_URL",
            "NATS_URL",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ] {
            let refused = allowed_env(&format!("PATH, {own}"));
            assert!(
                matches!(&refused, Err(StartError::EnvAllow(name)) if name == own),
                "{own}: {refused:?}"
            );
        }
        let opened = allowed_env(" PATH ,, NOT_SET_ANYWHERE_5B3C").expect("allowed");
        assert_eq!(opened.keys().collect::<Vec<_>>(), ["PATH"]);
    }
}
