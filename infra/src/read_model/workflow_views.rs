//! The workflow read model: one row per workflow with what list and detail
//! queries need, kept by the `workflows` projection.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{ReadModelError, ReadModelTarget};
use crate::event_store::Position;

/// Where a workflow is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    /// Created or deactivated: its triggers do not fire.
    Inactive,
    /// Its triggers fire.
    Active,
    /// Deleted by its owner; kept for history, refuses every command.
    Archived,
}

impl WorkflowStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Inactive => "inactive",
            WorkflowStatus::Active => "active",
            WorkflowStatus::Archived => "archived",
        }
    }

    /// Reads the stored spelling back.
    pub fn parse(value: &str) -> Result<Self, ReadModelError> {
        match value {
            "inactive" => Ok(WorkflowStatus::Inactive),
            "active" => Ok(WorkflowStatus::Active),
            "archived" => Ok(WorkflowStatus::Archived),
            other => Err(ReadModelError::Corrupt(format!(
                "unknown workflow status {other:?}"
            ))),
        }
    }
}

/// One workflow as queries see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowView {
    /// The workflow's id.
    pub id: Uuid,
    /// Its current name.
    pub name: String,
    /// Inactive, active or archived.
    pub status: WorkflowStatus,
    /// Free labels for filtering.
    pub tags: Vec<String>,
    /// The definition's revision (1 at creation); executions pin it.
    pub definition_version: u32,
    /// The stream version: the optimistic-concurrency token for the next command.
    pub version: u64,
    /// The current definition as JSON.
    pub definition: Value,
    /// When the workflow was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The global position of the last event folded into this row.
    pub position: Position,
}

/// A page request for the workflow list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowListQuery {
    /// Only active (`true`) or only inactive (`false`) workflows.
    pub active: Option<bool>,
    /// Only workflows carrying this tag.
    pub tag: Option<String>,
    /// Whether archived workflows are listed too.
    pub include_archived: bool,
    /// Only workflows whose id sorts after this one (keyset paging; ids are UUIDv7).
    pub after: Option<Uuid>,
    /// At most this many rows.
    pub limit: u32,
}

impl WorkflowListQuery {
    /// The stored status the `active` filter selects, if any.
    pub fn status_filter(&self) -> Option<&'static str> {
        self.active.map(|active| {
            if active {
                WorkflowStatus::Active.as_str()
            } else {
                WorkflowStatus::Inactive.as_str()
            }
        })
    }
}

/// Storage for [`WorkflowView`]s and the `workflows` projection's checkpoint.
#[async_trait]
pub trait WorkflowViewStore: Send + Sync + 'static {
    /// How far the projection has read (0 before its first event).
    async fn checkpoint(&self) -> Result<Position, ReadModelError>;

    /// The rows for these ids that exist.
    async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<WorkflowView>, ReadModelError>;

    /// Writes `views` and moves the checkpoint from `from` to `to` in one
    /// transaction. Does nothing if the checkpoint is already at `to` or beyond
    /// (a replayed batch); refuses with [`ReadModelError::CheckpointMoved`] if it
    /// is anywhere but `from` (the read model was rebuilt meanwhile).
    async fn save(
        &self,
        views: &[WorkflowView],
        from: Position,
        to: Position,
    ) -> Result<(), ReadModelError>;

    /// One workflow, if it exists.
    async fn get(&self, id: Uuid) -> Result<Option<WorkflowView>, ReadModelError>;

    /// One page of workflows in id order.
    async fn list(&self, query: &WorkflowListQuery) -> Result<Vec<WorkflowView>, ReadModelError>;
}

/// The projection's name, also its checkpoint row's name.
pub const WORKFLOWS_PROJECTION: &str = "workflows";

/// The live read model's table and checkpoint.
pub fn live_workflow_views() -> ReadModelTarget {
    ReadModelTarget::new("workflow_views", WORKFLOWS_PROJECTION)
}

/// Every active workflow, paging through the read model; for the trigger
/// registries (webhooks, schedules) that scan definitions.
pub async fn active_workflows(
    views: &dyn WorkflowViewStore,
) -> Result<Vec<WorkflowView>, ReadModelError> {
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = views
            .list(&WorkflowListQuery {
                active: Some(true),
                after,
                limit: 500,
                ..Default::default()
            })
            .await?;
        let Some(last) = page.last().map(|v| v.id) else {
            return Ok(found);
        };
        found.extend(page);
        after = Some(last);
    }
}
