//! How a process manager leads: take its lease, run one leadership term,
//! release, and try again a second later, until shutdown. Each term has a
//! token the term's timers and tasks stop on, so a leader that lost its lease
//! stops its work before the next leader runs the same work again.
//!
//! A term is not ended by shutdown itself: at shutdown the leader first
//! drains (lets work already running finish, within its grace period), and
//! only then is the term ended and the lease released, so the next leader
//! takes over at once without running the same work twice.

use std::{sync::Arc, sync::Mutex, time::Duration};

use super::{LeaderLease, Leadership};
use crate::bus::{EventSource, SubscriptionError};
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The leadership terms of one process manager.
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

/// A process manager that works only while it holds its lease.
#[async_trait]
pub trait TermLeader: Send + Sync + 'static {
    /// The lease's name (also its bus consumer's).
    const LEASE: &'static str;

    /// Its leadership terms.
    fn terms(&self) -> &Terms;

    /// Another instance holds the lease: this one stands by.
    fn standing_by(&self) {}

    /// Forgets what an earlier term claimed: another leader may since have
    /// left it in any state.
    fn start_term(&self);

    /// At shutdown, before the term ends and the lease is released: lets the
    /// work already running finish (within a grace period).
    async fn drain(&self) {}

    /// Leads one term, until the lease is lost, something fails, or shutdown.
    async fn lead_term(
        self: Arc<Self>,
        source: &dyn EventSource,
        lease: &mut LeaderLease,
    ) -> Result<(), SubscriptionError>;
}

/// Leads whenever it holds `L::LEASE`, until shutdown.
pub async fn lead_while_leader<L: TermLeader>(
    leader: Arc<L>,
    source: Arc<dyn EventSource>,
    leadership: Leadership,
) {
    let shutdown = leader.terms().shutdown().clone();
    while !shutdown.is_cancelled() {
        let outcome = match leadership.try_acquire(L::LEASE).await {
            Ok(Some(mut lease)) => {
                info!(lease = L::LEASE, "leading");
                let term = leader.terms().begin();
                leader.start_term();
                let outcome = leader.clone().lead_term(source.as_ref(), &mut lease).await;
                if shutdown.is_cancelled() {
                    leader.drain().await;
                }
                term.cancel();
                lease.release().await;
                outcome
            }
            Ok(None) => {
                leader.standing_by();
                Ok(())
            }
            Err(error) => Err(SubscriptionError::Nats(format!("leadership: {error}"))),
        };
        if let Err(error) = outcome {
            warn!(lease = L::LEASE, %error, "leadership term interrupted; resuming");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
