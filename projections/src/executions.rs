//! The `executions` projection: one row per execution for the execution list —
//! its status as it moves (running, waiting, and how it ended), its trigger and
//! its timings.

use async_trait::async_trait;
use flowforge_domain::{
    execution::{Execution, ExecutionEvent},
    Aggregate,
};
use flowforge_infra::{
    event_store::{Position, RecordedEvent},
    read_model::{ExecutionChange, ExecutionView, ExecutionViews, EXECUTIONS_PROJECTION},
};
use serde_json::Value;

use crate::{
    batch::{apply_unapplied, changes},
    Projection, ProjectionError,
};

/// Keeps the execution list.
pub struct ExecutionsProjection {
    views: ExecutionViews,
}

impl ExecutionsProjection {
    /// A projection writing to `views`.
    pub fn new(views: ExecutionViews) -> Self {
        Self { views }
    }
}

/// The list change one execution event makes, if any.
fn change(recorded: &RecordedEvent, event: ExecutionEvent) -> Option<ExecutionChange> {
    let status = |id: flowforge_domain::execution::ExecutionId,
                  status: &str,
                  finished_at,
                  failed_node| ExecutionChange::Status {
        id: id.as_uuid(),
        status: status.to_owned(),
        finished_at,
        failed_node,
        position: recorded.position,
    };
    Some(match event {
        ExecutionEvent::Requested {
            execution_id,
            workflow_id,
            trigger,
            requested_at,
            ..
        } => {
            let kind = serde_json::to_value(trigger.kind).ok();
            ExecutionChange::Requested(ExecutionView {
                id: execution_id.as_uuid(),
                workflow_id: workflow_id.as_uuid(),
                status: "running".to_owned(),
                trigger: kind
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_owned(),
                requested_at,
                finished_at: None,
                failed_node: None,
                position: recorded.position,
                tenant_id: recorded.metadata.tenant_id.clone(),
            })
        }
        ExecutionEvent::Queued { execution_id, .. } => status(execution_id, "queued", None, None),
        ExecutionEvent::NodeWaiting { execution_id, .. } => {
            status(execution_id, "waiting", None, None)
        }
        ExecutionEvent::NodeStarted { execution_id, .. }
        | ExecutionEvent::NodeResumed { execution_id, .. } => {
            status(execution_id, "running", None, None)
        }
        ExecutionEvent::Succeeded {
            execution_id,
            finished_at,
            ..
        } => status(execution_id, "succeeded", Some(finished_at), None),
        ExecutionEvent::Failed {
            execution_id,
            finished_at,
            failed_node,
            ..
        } => status(execution_id, "failed", Some(finished_at), failed_node),
        ExecutionEvent::Cancelled {
            execution_id,
            finished_at,
            ..
        } => status(execution_id, "cancelled", Some(finished_at), None),
        ExecutionEvent::NodeSucceeded { .. }
        | ExecutionEvent::NodeFailed { .. }
        | ExecutionEvent::NodeRetryScheduled { .. } => return None,
    })
}

#[async_trait]
impl Projection for ExecutionsProjection {
    fn name(&self) -> &'static str {
        EXECUTIONS_PROJECTION
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        Ok(self.views.checkpoint().await?)
    }

    async fn apply(&self, batch: &[RecordedEvent]) -> Result<(), ProjectionError> {
        let name = &self.views.target().checkpoint;
        apply_unapplied(
            name,
            batch,
            || self.views.checkpoint(),
            |events, from, to| async move {
                let changes = changes::<ExecutionEvent, _>(events, Execution::TYPE, change)?;
                Ok(self.views.apply(&changes, from, to).await?)
            },
        )
        .await
    }
}
