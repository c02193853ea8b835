//! What happened to a workflow, as stored forever. Each event carries the
//! workflow id and everything a projection needs (the whole definition, not a
//! diff), so a reader never has to look anything else up.

use serde::{Deserialize, Serialize};

use super::definition::WorkflowDefinition;
use super::id::WorkflowId;
use crate::aggregate::DomainEvent;

/// A fact about one workflow. Stored as `{"type": "WorkflowCreated", "data": {…}}`;
/// the type names are stable forever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum WorkflowEvent {
    /// The workflow was created, inactive, at definition version 1.
    #[serde(rename = "WorkflowCreated")]
    Created {
        /// The workflow.
        workflow_id: WorkflowId,
        /// The definition's name, repeated for readers that skip the definition.
        name: String,
        /// The first definition.
        definition: WorkflowDefinition,
        /// The workflow's tags, trimmed and without duplicates.
        #[serde(default)]
        tags: Vec<String>,
        /// Always 1.
        definition_version: u32,
    },
    /// The definition was replaced; this is its new version.
    #[serde(rename = "WorkflowDefinitionUpdated")]
    DefinitionUpdated {
        /// The workflow.
        workflow_id: WorkflowId,
        /// The new definition's name.
        name: String,
        /// The new definition.
        definition: WorkflowDefinition,
        /// The tags from now on (unchanged ones repeated).
        #[serde(default)]
        tags: Vec<String>,
        /// The new version: one more than the previous.
        definition_version: u32,
    },
    /// The workflow's triggers were turned on.
    #[serde(rename = "WorkflowActivated")]
    Activated {
        /// The workflow.
        workflow_id: WorkflowId,
        /// The definition version that was current when it was activated.
        definition_version: u32,
    },
    /// The workflow's triggers were turned off.
    #[serde(rename = "WorkflowDeactivated")]
    Deactivated {
        /// The workflow.
        workflow_id: WorkflowId,
    },
    /// The workflow was retired for good (and its triggers, if on, turned off).
    #[serde(rename = "WorkflowArchived")]
    Archived {
        /// The workflow.
        workflow_id: WorkflowId,
    },
}

impl WorkflowEvent {
    /// The workflow this event belongs to.
    pub fn workflow_id(&self) -> WorkflowId {
        match self {
            Self::Created { workflow_id, .. }
            | Self::DefinitionUpdated { workflow_id, .. }
            | Self::Activated { workflow_id, .. }
            | Self::Deactivated { workflow_id }
            | Self::Archived { workflow_id } => *workflow_id,
        }
    }
}

impl DomainEvent for WorkflowEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => "WorkflowCreated",
            Self::DefinitionUpdated { .. } => "WorkflowDefinitionUpdated",
            Self::Activated { .. } => "WorkflowActivated",
            Self::Deactivated { .. } => "WorkflowDeactivated",
            Self::Archived { .. } => "WorkflowArchived",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{decode_event, encode_event};
    use crate::workflow::{RawNode, RawWorkflowDefinition};
    use serde_json::json;

    fn definition() -> WorkflowDefinition {
        let raw = RawWorkflowDefinition {
            name: "hello".into(),
            nodes: vec![
                RawNode::new("Start", "n8n-nodes-base.manualTrigger"),
                RawNode::new("Done", "noop"),
            ],
            connections: serde_json::from_value(json!({"Start": {"main": [[{"node": "Done"}]]}}))
                .expect("connections are well-formed"),
            ..RawWorkflowDefinition::default()
        };
        WorkflowDefinition::parse(raw).expect("the definition is valid")
    }

    fn every_variant() -> Vec<WorkflowEvent> {
        let workflow_id = WorkflowId::from_uuid(uuid::Uuid::from_u128(42));
        vec![
            WorkflowEvent::Created {
                workflow_id,
                name: "hello".into(),
                definition: definition(),
                tags: vec!["ops".into()],
                definition_version: 1,
            },
            WorkflowEvent::DefinitionUpdated {
                workflow_id,
                name: "hello".into(),
                definition: definition(),
                tags: vec![],
                definition_version: 2,
            },
            WorkflowEvent::Activated {
                workflow_id,
                definition_version: 2,
            },
            WorkflowEvent::Deactivated { workflow_id },
            WorkflowEvent::Archived { workflow_id },
        ]
    }

    #[test]
    fn every_variant_round_trips_through_the_event_codec() {
        for event in every_variant() {
            let (event_type, schema_version, payload) =
                encode_event(&event).expect("the event encodes");
            assert_eq!(event_type, event.event_type());
            assert_eq!(schema_version, 1);
            assert_eq!(payload["workflow_id"], json!(event.workflow_id()));
            let decoded: WorkflowEvent =
                decode_event(event_type, &payload).expect("the event decodes");
            assert_eq!(decoded, event, "{event_type}");
        }
    }

    #[test]
    fn the_stored_definition_uses_canonical_type_names() {
        let (_, _, payload) = encode_event(&every_variant()[0]).expect("the event encodes");
        assert_eq!(
            payload["definition"]["nodes"][0]["type"],
            json!("manual_trigger")
        );
        assert_eq!(
            payload["definition"]["connections"]["Start"]["main"][0][0],
            json!({"node": "Done", "type": "main", "index": 0})
        );
    }
}
