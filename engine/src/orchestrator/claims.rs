//! What this process has claimed to do for each execution (so a decision seen
//! twice does not start the same work twice) and the tokens that stop an
//! execution's timers and node runs when it ends or when the term does.

use chrono::{DateTime, Utc};
use flowforge_domain::execution::ExecutionId;
use tokio_util::sync::CancellationToken;

use super::{ExecutionOrchestrator, Work};

impl ExecutionOrchestrator {
    /// The current leadership term's token.
    fn term(&self) -> CancellationToken {
        self.terms.current()
    }

    /// The token that stops the execution's timers and node runs: cancelled
    /// when it ends or when the term does.
    pub(super) fn stop_token(&self, id: ExecutionId) -> CancellationToken {
        let term = self.term();
        self.stops
            .lock()
            .map(|mut stops| {
                stops
                    .entry(id)
                    .or_insert_with(|| term.child_token())
                    .clone()
            })
            .unwrap_or(term)
    }

    /// Sleeps until `at` (or until `stop`, or shutdown); true if the time came.
    pub(super) async fn sleep_until(&self, at: DateTime<Utc>, stop: &CancellationToken) -> bool {
        tokio::select! {
            () = stop.cancelled() => false,
            () = self.shutdown.cancelled() => false,
            () = self.clock.sleep_until(at) => true,
        }
    }

    pub(super) fn claim(&self, work: &Work) -> bool {
        self.in_progress
            .lock()
            .map(|mut set| set.insert(work.clone()))
            .unwrap_or(false)
    }

    /// Stops the work of a finished execution and drops its claims; true the
    /// first time (this term) an execution this process drove is forgotten.
    pub(super) fn forget(&self, id: ExecutionId) -> bool {
        let stop = self.stops.lock().ok().and_then(|mut s| s.remove(&id));
        let drove = stop.is_some();
        if let Some(stop) = stop {
            stop.cancel();
        }
        if let Ok(mut set) = self.in_progress.lock() {
            set.retain(|work| match work {
                Work::Attempt(of, ..) | Work::WaitTimer(of, ..) | Work::Deadline(of) => *of != id,
            });
        }
        drove
    }

    /// Gives up a claim whose work did not happen (refused, or shut down).
    pub(super) fn release(&self, work: &Work) {
        if let Ok(mut set) = self.in_progress.lock() {
            set.remove(work);
        }
    }
}
