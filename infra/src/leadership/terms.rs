//! How a leader leads: take its lease, run one leadership term, release, and
//! try again a second later, until shutdown. The process managers, the
//! projections and the NATS publisher all lead through [`lead_while_leader`];
//! each supplies only its term (and, if it needs them, what it does while
//! another instance leads and how long it waits after a failure).
//!
//! Each term has a token the term's timers and tasks stop on, so a leader that
//! lost its lease stops its work before the next leader runs the same work
//! again. A term is not ended by shutdown itself: at shutdown the leader first
//! drains (lets work already running finish, within its grace period), and
//! only then is the term ended and the lease released, so the next leader
//! takes over at once without running the same work twice.

use std::{sync::Arc, sync::Mutex, time::Duration};

use super::{LeaderLease, Leadership, TermError};
use crate::bus::EventSource;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The pause before trying for the lease again: after a term, while another
/// instance leads, and (unless the leader says otherwise) after a failure.
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The leadership terms of one leader.
pub struct Terms {
    shutdown: CancellationToken,
    current: Mutex<CancellationToken>,
}

impl Terms {
    /// Terms of a leader that stops leading at `shutdown`.
    pub fn new(shutdown: CancellationToken) -> Self {
        Self {
            current: Mutex::new(CancellationToken::new()),
            shutdown,
        }
    }

    /// Cancelled at shutdown.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// The current term's token (the shutdown token if the lock is poisoned).
    pub fn current(&self) -> CancellationToken {
        self.current
            .lock()
            .map(|term| term.clone())
            .unwrap_or_else(|_| self.shutdown.clone())
    }

    /// Waits `pause`, or until shutdown if that comes first.
    pub async fn pause(&self, pause: Duration) {
        tokio::select! {
            () = self.shutdown.cancelled() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }

    /// Ends the current term and starts a new one.
    fn begin(&self) -> CancellationToken {
        let term = CancellationToken::new();
        if let Ok(mut current) = self.current.lock() {
            current.cancel();
            *current = term.clone();
        }
        term
    }
}

/// Work that only the holder of its lease may do. `Source` is what each term
/// works from: the bus for the process managers and projections; nothing
/// (`()`) for a leader that reads the store itself.
#[async_trait]
pub trait TermLeader<Source: ?Sized + Send + Sync = dyn EventSource>:
    Send + Sync + 'static
{
    /// The lease's name.
    fn lease(&self) -> &str;

    /// Its leadership terms.
    fn terms(&self) -> &Terms;

    /// Another instance holds the lease: this one stands by.
    fn standing_by(&self) {}

    /// What this instance does while another leads, until it is time to try
    /// for the lease again; by default it waits [`RETRY_PAUSE`].
    async fn follow(&self) -> Result<(), TermError> {
        self.terms().pause(RETRY_PAUSE).await;
        Ok(())
    }

    /// Forgets what an earlier term claimed: another leader may since have
    /// left it in any state.
    fn start_term(&self) {}

    /// At shutdown, before the term ends and the lease is released: lets the
    /// work already running finish (within a grace period).
    async fn drain(&self) {}

    /// Leads one term, until the lease is lost (`Ok`), shutdown (`Ok`), or
    /// something fails (`Err`).
    async fn lead_term(
        self: Arc<Self>,
        source: &Source,
        lease: &mut LeaderLease,
    ) -> Result<(), TermError>;

    /// A term or standing by failed, `failures` times in a row (the loop has
    /// logged it): counts it where it must be counted and says how long to
    /// wait before trying again; by default [`RETRY_PAUSE`].
    fn interrupted(&self, _error: &TermError, _failures: u32) -> Duration {
        RETRY_PAUSE
    }
}

/// Leads whenever it holds `leader`'s lease, until shutdown.
pub async fn lead_while_leader<Source, L>(
    leader: Arc<L>,
    source: Arc<Source>,
    leadership: Leadership,
) where
    Source: ?Sized + Send + Sync,
    L: TermLeader<Source>,
{
    let shutdown = leader.terms().shutdown().clone();
    let mut failures = 0;
    while !shutdown.is_cancelled() {
        let name = leader.lease();
        let acquired = tokio::select! {
            () = shutdown.cancelled() => return,
            acquired = leadership.try_acquire(name) => acquired,
        };
        let outcome = match acquired {
            Ok(Some(lease)) => lead_one_term(&leader, source.as_ref(), lease)
                .await
                .map(|()| RETRY_PAUSE),
            Ok(None) => {
                leader.standing_by();
                // Following took the pause: try again as soon as it is over.
                leader.follow().await.map(|()| Duration::ZERO)
            }
            Err(source) => Err(TermError::Lease {
                name: name.to_owned(),
                source,
            }),
        };
        let pause = match outcome {
            Ok(pause) => {
                failures = 0;
                pause
            }
            Err(error) => {
                failures += 1;
                warn!(lease = name, error = %error.chain(), "leadership term interrupted; resuming");
                leader.interrupted(&error, failures)
            }
        };
        leader.terms().pause(pause).await;
    }
}

/// One term on a held lease: begin it, lead, drain at shutdown, end it, and
/// only then release the lease.
async fn lead_one_term<Source, L>(
    leader: &Arc<L>,
    source: &Source,
    mut lease: LeaderLease,
) -> Result<(), TermError>
where
    Source: ?Sized + Send + Sync,
    L: TermLeader<Source>,
{
    info!(lease = leader.lease(), "leading");
    let term = leader.terms().begin();
    leader.start_term();
    let outcome = leader.clone().lead_term(source, &mut lease).await;
    if leader.terms().shutdown().is_cancelled() {
        leader.drain().await;
    }
    term.cancel();
    lease.release().await;
    outcome
}
