//! What a caller may ask of a workflow. Commands carry domain types that are
//! already valid — a [`WorkflowDefinition`] exists only if it parsed — so the
//! aggregate decides on state alone, and bad JSON is refused at the edge.

use super::definition::WorkflowDefinition;
use super::id::WorkflowId;

/// A request to the [`Workflow`](super::Workflow) aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkflowCommand {
    /// Creates the workflow, inactive, at definition version 1.
    Create {
        /// The id the edge generated for the new workflow.
        workflow_id: WorkflowId,
        /// The first definition.
        definition: WorkflowDefinition,
        /// Labels for finding the workflow; trimmed, at most 20 of at most 32 characters.
        tags: Vec<String>,
    },
    /// Replaces the definition, making a new definition version. Runs already
    /// started keep the version they started with.
    UpdateDefinition {
        /// The new definition.
        definition: WorkflowDefinition,
        /// The new tags, or `None` to keep the current ones.
        tags: Option<Vec<String>>,
    },
    /// Turns the workflow's triggers on.
    Activate,
    /// Turns the workflow's triggers off.
    Deactivate,
    /// Retires the workflow for good; it can no longer be changed or activated.
    Archive,
}
