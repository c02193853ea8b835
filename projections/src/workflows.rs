//! The `workflows` projection: one [`WorkflowView`] row per workflow, for the
//! list and detail queries.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use async_trait::async_trait;
use flowforge_domain::{
    decode_event,
    workflow::{Workflow, WorkflowEvent},
    Aggregate,
};
use flowforge_infra::{
    event_store::{Position, RecordedEvent},
    read_model::{WorkflowStatus, WorkflowView, WorkflowViewStore},
};
use uuid::Uuid;

use crate::{batch::apply_unapplied, Projection, ProjectionError};

/// Keeps the workflow read model.
pub struct WorkflowProjection {
    views: Arc<dyn WorkflowViewStore>,
}

impl WorkflowProjection {
    /// A projection writing to `views`.
    pub fn new(views: Arc<dyn WorkflowViewStore>) -> Self {
        Self { views }
    }
}

#[async_trait]
impl Projection for WorkflowProjection {
    fn name(&self) -> &'static str {
        flowforge_infra::read_model::WORKFLOWS_PROJECTION
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        Ok(self.views.checkpoint().await?)
    }

    async fn apply(&self, batch: &[RecordedEvent]) -> Result<(), ProjectionError> {
        apply_unapplied(
            self.name(),
            batch,
            || self.views.checkpoint(),
            |events, from, to| async move {
                let changed = self.fold_batch(events).await?;
                Ok(self.views.save(&changed, from, to).await?)
            },
        )
        .await
    }
}

impl WorkflowProjection {
    /// The rows `events` change, folded onto their stored versions.
    async fn fold_batch(
        &self,
        events: &[RecordedEvent],
    ) -> Result<Vec<WorkflowView>, ProjectionError> {
        let mut decoded = Vec::new();
        for event in events
            .iter()
            .filter(|e| e.stream.aggregate_type() == Workflow::TYPE)
        {
            let workflow_event = decode_event::<WorkflowEvent>(&event.event_type, &event.payload)
                .map_err(|source| ProjectionError::Decode {
                position: event.position,
                source,
            })?;
            decoded.push((event, workflow_event));
        }
        let ids: Vec<Uuid> = decoded
            .iter()
            .map(|(_, e)| e.workflow_id().as_uuid())
            .collect();
        let mut views: HashMap<Uuid, WorkflowView> = if ids.is_empty() {
            HashMap::new()
        } else {
            self.views
                .get_many(&ids)
                .await?
                .into_iter()
                .map(|view| (view.id, view))
                .collect()
        };
        let mut changed = HashSet::new();
        for (recorded, event) in decoded {
            let id = event.workflow_id().as_uuid();
            let view = views.remove(&id);
            if let Some(view) = fold(view, recorded, event) {
                views.insert(id, view);
                changed.insert(id);
            }
        }
        Ok(views
            .into_values()
            .filter(|view| changed.contains(&view.id))
            .collect())
    }
}

/// Folds one workflow event into its row; `None` only for an event that needs a
/// row that does not exist (which a valid history never has).
fn fold(
    view: Option<WorkflowView>,
    recorded: &RecordedEvent,
    event: WorkflowEvent,
) -> Option<WorkflowView> {
    if let Some(existing) = &view {
        // A replayed event the row already reflects changes nothing.
        if existing.position >= recorded.position {
            return view;
        }
    }
    let mut view = match (view, event) {
        (
            _,
            WorkflowEvent::Created {
                workflow_id,
                name,
                definition,
                tags,
                definition_version,
            },
        ) => WorkflowView {
            id: workflow_id.as_uuid(),
            name,
            status: WorkflowStatus::Inactive,
            tags,
            definition_version,
            version: recorded.version,
            definition: serde_json::to_value(&definition).unwrap_or_default(),
            created_at: recorded.recorded_at,
            updated_at: recorded.recorded_at,
            position: recorded.position,
            tenant_id: recorded.metadata.tenant_id.clone(),
        },
        (None, _) => return None,
        (
            Some(mut view),
            WorkflowEvent::DefinitionUpdated {
                name,
                definition,
                tags,
                definition_version,
                ..
            },
        ) => {
            view.name = name;
            view.definition = serde_json::to_value(&definition).unwrap_or_default();
            view.tags = tags;
            view.definition_version = definition_version;
            view
        }
        (Some(mut view), WorkflowEvent::Activated { .. }) => {
            view.status = WorkflowStatus::Active;
            view
        }
        (Some(mut view), WorkflowEvent::Deactivated { .. }) => {
            view.status = WorkflowStatus::Inactive;
            view
        }
        (Some(mut view), WorkflowEvent::Archived { .. }) => {
            view.status = WorkflowStatus::Archived;
            view
        }
    };
    view.version = recorded.version;
    view.updated_at = recorded.recorded_at;
    view.position = recorded.position;
    Some(view)
}
