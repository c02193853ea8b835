//! The orchestrator as a leader: one term under the `orchestrator` lease finds
//! the executions left open, resumes them, then follows the bus and advances
//! every execution a batch touches until the lease is lost or shutdown; at the
//! end of a term running node attempts get a grace period to finish.

use std::{sync::Arc, time::Duration};

use flowforge_domain::{
    execution::{Execution, ExecutionEvent, ExecutionId},
    Aggregate,
};
use flowforge_infra::{
    bus::EventSource,
    event_store::RecordedEvent,
    leadership::{LeaderLease, TermError, TermLeader, Terms},
    read_model::ExecutionQuery,
};
use flowforge_monitoring::process_spans::advance_span;
use tracing::{info, warn, Instrument};

use super::{admission::Admission, ExecutionOrchestrator, ORCHESTRATOR_NAME};

/// How often the leader confirms its lease.
const LEASE_CHECK: Duration = Duration::from_secs(2);
/// Events per bus batch.
const BATCH: usize = 500;

impl ExecutionOrchestrator {
    async fn lead_one_term(
        self: Arc<Self>,
        source: &dyn EventSource,
        lease: &mut LeaderLease,
    ) -> Result<(), TermError> {
        let mut woken = self.woken.lock().await;
        while woken.try_recv().is_ok() {}
        let head = self.store.head().await?;
        let mut subscription = source.subscribe(ORCHESTRATOR_NAME, head).await?;
        let open = self.open_executions().await?;
        info!(open = open.len(), "resuming unfinished executions");
        self.resume_open(open).await;
        self.resumed.send_replace(true);
        let mut lease_checked = tokio::time::Instant::now();
        loop {
            let batch = tokio::select! {
                () = self.shutdown.cancelled() => return Ok(()),
                Some(id) = woken.recv() => {
                    self.advance(id).await;
                    continue;
                }
                batch = subscription.next_batch(BATCH) => batch?,
            };
            for (id, latest) in touched_executions(&batch) {
                self.advance(id)
                    .instrument(advance_span(
                        ORCHESTRATOR_NAME,
                        id,
                        latest
                            .metadata
                            .correlation_id
                            .unwrap_or_else(|| id.as_uuid()),
                        latest.metadata.traceparent.as_deref(),
                    ))
                    .await;
            }
            // Checked on a clock, busy or idle: a leader that lost its lease
            // must stop before a second one runs the same nodes.
            if lease_checked.elapsed() >= LEASE_CHECK {
                if !lease.is_held().await {
                    warn!("orchestrator lease lost; standing by");
                    return Ok(());
                }
                lease_checked = tokio::time::Instant::now();
            }
        }
    }

    /// Every execution whose history has no ending yet: the executions read
    /// model's running and waiting rows, plus whatever the log holds after
    /// that read model's checkpoint.
    async fn open_executions(&self) -> Result<Vec<ExecutionId>, TermError> {
        let mut after = self.executions.checkpoint().await?;
        let mut open: Vec<ExecutionId> = Vec::new();
        for status in ["running", "queued", "waiting"] {
            let mut page_after = None;
            loop {
                let page = self
                    .executions
                    .list(&ExecutionQuery {
                        status: Some(status.to_owned()),
                        after: page_after,
                        limit: 1000,
                        ..Default::default()
                    })
                    .await?;
                let Some(last) = page.last().map(|v| v.id) else {
                    break;
                };
                open.extend(page.iter().map(|v| ExecutionId::from_uuid(v.id)));
                page_after = Some(last);
            }
        }
        loop {
            let page = self.store.read_all(after, 1000).await?;
            let Some(last) = page.last().map(|e| e.position) else {
                break;
            };
            for event in page
                .iter()
                .filter(|e| e.stream.aggregate_type() == Execution::TYPE)
            {
                let Ok(id) = event.stream.aggregate_id().parse::<ExecutionId>() else {
                    continue;
                };
                match event.event_type.as_str() {
                    "ExecutionRequested" if !open.contains(&id) => open.push(id),
                    ended if ExecutionEvent::FINAL_TYPES.contains(&ended) => {
                        open.retain(|o| *o != id)
                    }
                    _ => {}
                }
            }
            after = last;
        }
        Ok(open)
    }
}

#[async_trait::async_trait]
impl TermLeader for ExecutionOrchestrator {
    fn lease(&self) -> &str {
        ORCHESTRATOR_NAME
    }

    fn terms(&self) -> &Terms {
        &self.terms
    }

    fn standing_by(&self) {
        self.resumed.send_replace(true);
    }

    fn start_term(&self) {
        if let Ok(mut claims) = self.in_progress.lock() {
            claims.clear();
        }
        if let Ok(mut stops) = self.stops.lock() {
            stops.clear();
        }
        if let Ok(mut admission) = self.admission.lock() {
            *admission = Admission::default();
        }
    }

    async fn drain(&self) {
        self.attempts.close();
        let running = self.attempts.len();
        if running > 0 {
            info!(
                running,
                grace_secs = self.grace.as_secs_f64(),
                "letting running node attempts finish before giving the lease up"
            );
        }
        if tokio::time::timeout(self.grace, self.attempts.wait())
            .await
            .is_err()
        {
            warn!(
                abandoned = self.attempts.len(),
                "shutdown grace period over; the next leader runs the unfinished node attempts again"
            );
        }
    }

    async fn lead_term(
        self: Arc<Self>,
        source: &dyn EventSource,
        lease: &mut LeaderLease,
    ) -> Result<(), TermError> {
        self.lead_one_term(source, lease).await
    }
}

/// Every execution a batch of events touched, in order of first touch, with
/// its latest event in the batch.
fn touched_executions(batch: &[RecordedEvent]) -> Vec<(ExecutionId, &RecordedEvent)> {
    let mut touched: Vec<(ExecutionId, &RecordedEvent)> = Vec::new();
    for event in batch
        .iter()
        .filter(|e| e.stream.aggregate_type() == Execution::TYPE)
    {
        let Ok(id) = event.stream.aggregate_id().parse::<ExecutionId>() else {
            continue;
        };
        match touched.iter_mut().find(|(seen, _)| *seen == id) {
            Some(entry) => entry.1 = event,
            None => touched.push((id, event)),
        }
    }
    touched
}
