//! Who does the work that only one instance may do at a time: publishing the log
//! to NATS, running each projection, orchestrating executions, managing sagas.
//! On PostgreSQL a lease is a session-level advisory lock held by a connection
//! of its own: it is released when the connection closes, so a killed instance
//! hands its work over within the time PostgreSQL takes to notice the dead
//! socket. The embedded store has one process, which always leads.
//!
//! Layout: `lease` hands out and checks leases; `terms` is the one loop every
//! leader runs (acquire the lease, lead one term, drain at shutdown, release,
//! retry a second later); `error` says why a term was interrupted.

mod error;
mod lease;
mod terms;
#[cfg(test)]
mod tests;

pub use error::{ErrorChain, TermError};
pub use lease::{LeaderLease, Leadership};
pub use terms::{lead_while_leader, TermLeader, Terms, RETRY_PAUSE};
