//! The `sagas` projection: one row per saga for the saga list — its status as
//! it moves (open, compensating, parked, compensated, closed), why it
//! compensates and where it is parked.

use async_trait::async_trait;
use flowforge_domain::{
    saga::{Saga, SagaEvent},
    Aggregate,
};
use flowforge_infra::{
    event_store::{Position, RecordedEvent},
    read_model::{SagaChange, SagaViews, SAGAS_PROJECTION},
};

use crate::{
    batch::{apply_unapplied, changes},
    Projection, ProjectionError,
};

/// Keeps the saga list.
pub struct SagasProjection {
    views: SagaViews,
}

impl SagasProjection {
    /// A projection writing to `views`.
    pub fn new(views: SagaViews) -> Self {
        Self { views }
    }
}

/// The list change one saga event makes.
fn change(recorded: &RecordedEvent, event: SagaEvent) -> Option<SagaChange> {
    let id = event_saga(&event).as_uuid();
    let position = recorded.position;
    let status = |status: &str, reason: Option<String>, parked_step, at| SagaChange::Status {
        id,
        status: status.to_owned(),
        reason,
        parked_step,
        at,
        position,
    };
    Some(match event {
        SagaEvent::StepCompleted {
            workflow_id,
            completed_at,
            ..
        } => SagaChange::StepCompleted {
            id,
            workflow_id: workflow_id.as_uuid(),
            at: completed_at,
            position,
            tenant_id: recorded.metadata.tenant_id.clone(),
        },
        SagaEvent::CompensationStarted {
            reason, started_at, ..
        } => {
            let reason = serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            status("compensating", reason, None, started_at)
        }
        SagaEvent::CompensationParked {
            step, parked_at, ..
        } => status("parked", None, Some(step), parked_at),
        SagaEvent::CompensationResumed { resumed_at, .. } => {
            status("compensating", None, None, resumed_at)
        }
        SagaEvent::Compensated { compensated_at, .. } => {
            status("compensated", None, None, compensated_at)
        }
        SagaEvent::Closed { closed_at, .. } => status("closed", None, None, closed_at),
        SagaEvent::StepCompensated { .. }
        | SagaEvent::StepCompensationFailed { .. }
        | SagaEvent::StepSkipped { .. } => return None,
    })
}

fn event_saga(event: &SagaEvent) -> flowforge_domain::execution::ExecutionId {
    match event {
        SagaEvent::StepCompleted { execution_id, .. }
        | SagaEvent::CompensationStarted { execution_id, .. }
        | SagaEvent::StepCompensated { execution_id, .. }
        | SagaEvent::StepCompensationFailed { execution_id, .. }
        | SagaEvent::CompensationParked { execution_id, .. }
        | SagaEvent::CompensationResumed { execution_id, .. }
        | SagaEvent::StepSkipped { execution_id, .. }
        | SagaEvent::Compensated { execution_id, .. }
        | SagaEvent::Closed { execution_id, .. } => *execution_id,
    }
}

#[async_trait]
impl Projection for SagasProjection {
    fn name(&self) -> &'static str {
        SAGAS_PROJECTION
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
                let changes = changes::<SagaEvent, _>(events, Saga::TYPE, change)?;
                Ok(self.views.apply(&changes, from, to).await?)
            },
        )
        .await
    }
}
