//! Keeps a [`Backlog`] in step with the log. On start it loads the open
//! executions from the executions read model, then follows the store from
//! that read model's checkpoint: requests, waits, resumptions and endings
//! move the counts. Every change is idempotent, so rows that are newer than
//! the checkpoint they were read at do no harm. The store is followed directly
//! (not through NATS) so the counts stay right while NATS is away.

use std::{sync::Arc, time::Duration};

use flowforge_domain::{
    execution::{Execution, ExecutionEvent},
    Aggregate,
};
use flowforge_infra::{
    bus::{store_tail::StoreTail, EventSubscription},
    event_store::{EventStore, RecordedEvent},
    read_model::{ExecutionQuery, ExecutionViews},
};
use tokio_util::sync::CancellationToken;
use tracing::warn;
use uuid::Uuid;

use super::{Backlog, Pending};

/// Events read per batch.
const BATCH: usize = 1000;
/// The pause after a failed read before trying again.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Follows the log into `backlog` until `shutdown`.
pub async fn follow(
    backlog: Arc<Backlog>,
    store: Arc<dyn EventStore>,
    executions: ExecutionViews,
    poll_interval: Duration,
    shutdown: CancellationToken,
) {
    let after = loop {
        match load_open(&backlog, &executions).await {
            Ok(after) => break after,
            Err(error) => {
                warn!(%error, "cannot load the open executions for the backlog; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(RETRY_PAUSE) => {}
                }
            }
        }
    };
    let mut tail = StoreTail::new(store, after, poll_interval);
    loop {
        let batch = tokio::select! {
            () = shutdown.cancelled() => return,
            batch = tail.next_batch(BATCH) => batch,
        };
        match batch {
            Ok(batch) => backlog.change(|pending| batch.iter().for_each(|e| pending.fold(e))),
            Err(error) => {
                warn!(%error, "cannot read the log for the backlog; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(RETRY_PAUSE) => {}
                }
            }
        }
    }
}

/// Counts the read model's running and queued executions; returns its checkpoint.
async fn load_open(
    backlog: &Backlog,
    executions: &ExecutionViews,
) -> Result<u64, flowforge_infra::read_model::ReadModelError> {
    let checkpoint = executions.checkpoint().await?;
    for status in ["running", "queued"] {
        let mut after = None;
        loop {
            let page = executions
                .list(&ExecutionQuery {
                    status: Some(status.to_owned()),
                    after,
                    limit: 1000,
                    ..ExecutionQuery::default()
                })
                .await?;
            backlog.change(|pending| {
                for view in &page {
                    pending.requested(view.id, view.workflow_id);
                }
            });
            match page.last() {
                Some(last) if page.len() == 1000 => after = Some(last.id),
                _ => break,
            }
        }
    }
    Ok(checkpoint)
}

impl Pending {
    /// Folds one event of the log in.
    fn fold(&mut self, event: &RecordedEvent) {
        if event.stream.aggregate_type() != Execution::TYPE {
            return;
        }
        let Ok(execution) = event.stream.aggregate_id().parse::<Uuid>() else {
            return;
        };
        match event.event_type.as_str() {
            "ExecutionRequested" => {
                let workflow = event.payload["workflow_id"]
                    .as_str()
                    .and_then(|id| id.parse::<Uuid>().ok());
                if let Some(workflow) = workflow {
                    self.requested(execution, workflow);
                }
            }
            "NodeWaiting" => self.waiting(execution, true),
            "NodeResumed" => self.waiting(execution, false),
            kind if ExecutionEvent::FINAL_TYPES.contains(&kind) => self.finished(execution),
            _ => {}
        }
    }
}
