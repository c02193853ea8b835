//! The one shared state every handler receives through axum's `State`.

use std::{collections::HashMap, sync::Arc, time::Duration};

use flowforge_commands::{accounts::Accounts, workspaces::Workspaces, CommandBus};
use flowforge_engine::triggers::webhooks::WorkflowCatchUp;
use flowforge_infra::{
    bus::jetstream::JetStreamBus,
    checkpoints::Checkpoints,
    event_store::{EventStore, Position},
    read_model::{AuditLog, ExecutionViews, SagaViews, WorkflowViewStore, WORKFLOWS_PROJECTION},
};
use flowforge_projections::ProjectionProgress;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{access_tokens::AccessTokens, error::ApiError};

/// What handlers need: the write side, the read side, and how far it has got.
#[derive(Clone)]
pub struct AppState {
    /// Runs commands against aggregates.
    pub commands: CommandBus,
    /// The event log, for history queries.
    pub store: Arc<dyn EventStore>,
    /// The workflow read model.
    pub workflows: Arc<dyn WorkflowViewStore>,
    /// The audit log read model.
    pub audit_log: AuditLog,
    /// The execution list read model.
    pub executions: ExecutionViews,
    /// The saga list read model.
    pub sagas: SagaViews,
    /// Every worker's checkpoint, for the projections overview.
    pub checkpoints: Checkpoints,
    /// Each projection's position in this instance, by projection name.
    pub progress: Arc<HashMap<&'static str, ProjectionProgress>>,
    /// The NATS publisher's position in this instance (none without NATS).
    pub publisher: Option<watch::Receiver<Position>>,
    /// The NATS connection (none without NATS), for readiness.
    pub nats: Option<JetStreamBus>,
    /// The pending executions, which bound starts through the API.
    pub backlog: Arc<flowforge_engine::backlog::Backlog>,
    /// Whether the executions left open by earlier processes have been resumed.
    pub resumed: watch::Receiver<bool>,
    /// Which active workflow answers which webhook.
    pub webhooks: Arc<flowforge_engine::triggers::webhooks::WebhookRegistry>,
    /// How long a `consistent_with` query waits for a position the log has
    /// before answering 503.
    pub consistency_timeout: Duration,
    /// The request body limit, repeated in 413 errors.
    pub max_body_bytes: u64,
    /// The bounds a workflow definition must fit to be created or updated.
    pub workflow_limits: flowforge_domain::workflow::WorkflowLimits,
    /// How long the publisher may stand still while events wait before
    /// readiness fails.
    pub publisher_stall: Duration,
    /// The publisher position readiness last saw, and since when.
    pub publisher_seen: Arc<std::sync::Mutex<Option<(Position, std::time::Instant)>>>,
    /// Register, sign in, refresh, sign out.
    pub accounts: Accounts,
    /// Workspaces, members, invitations and API keys.
    pub workspaces: Workspaces,
    /// The credentials vault.
    pub vault: flowforge_commands::credentials::Vault,
    /// The URL this deployment is reached at, if configured.
    pub public_url: Option<String>,
    /// Whether this instance serves HTTPS itself.
    pub serves_tls: bool,
    /// The workspace variables (`$vars`).
    pub variables: flowforge_commands::variables::WorkspaceVariables,
    /// The circuit breakers of outbound hosts, for readiness and metrics.
    pub circuits: Arc<flowforge_outbound::CircuitBreakers>,
    /// The rate limits requests pass through.
    pub rate_limits: Arc<crate::routes::rate_limit::RateLimits>,
    /// Whether anyone may register once the installation has an owner.
    pub open_registration: bool,
    /// Issues and verifies access tokens.
    pub access_tokens: Arc<AccessTokens>,
    /// Cancelled at shutdown once this instance runs no more node attempts:
    /// requests still waiting for an execution answer at once (503) instead
    /// of holding the connection, and the process can exit.
    pub stopped: CancellationToken,
}

impl AppState {
    /// Waits until the read model of `projection` reflects `position` (if
    /// given). A position beyond the log's head is refused at once: no write
    /// has been given it, so no wait would see it reached.
    pub async fn consistent_with(
        &self,
        projection: &str,
        position: Option<Position>,
    ) -> Result<(), ApiError> {
        let Some(position) = position else {
            return Ok(());
        };
        let Some(progress) = self.progress.get(projection) else {
            return Err(ApiError::Internal(format!("no projection {projection}")));
        };
        if progress.current() < position {
            let head = self.store.head().await?;
            if position > head {
                return Err(ApiError::PositionBeyondHead { position, head });
            }
        }
        if progress.wait_for(position, self.consistency_timeout).await {
            Ok(())
        } else {
            Err(ApiError::NotCaughtUp {
                position,
                current: progress.current(),
            })
        }
    }
}

/// Webhook routing catches the workflows read model up through this
/// instance's projection progress and the log's head.
impl WorkflowCatchUp for AppState {
    type Error = ApiError;

    async fn head(&self) -> Result<u64, ApiError> {
        Ok(self.store.head().await?)
    }

    async fn reach(&self, position: u64) -> Result<(), ApiError> {
        self.consistent_with(WORKFLOWS_PROJECTION, Some(position))
            .await
    }
}
