//! The `Workflow` aggregate: the lifecycle of one workflow — created, its
//! definition replaced version by version, activated and deactivated, archived
//! for good. `handle` decides from the state its own events built; retries of a
//! command that already took effect produce no events rather than an error.

use serde::{Deserialize, Serialize};

use super::commands::WorkflowCommand;
use super::definition::WorkflowDefinition;
use super::errors::{InvalidTagReason, WorkflowError};
use super::events::WorkflowEvent;
use super::id::WorkflowId;
use crate::aggregate::Aggregate;

/// The most tags a workflow may carry.
pub const MAX_TAGS: usize = 20;

/// The most characters (Unicode scalar values) a tag may have after trimming.
pub const MAX_TAG_CHARS: usize = 32;

/// Whether a workflow's triggers are on, or it is retired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    /// Triggers off; runs can still be started by hand. Where every workflow starts.
    #[default]
    Inactive,
    /// Triggers on.
    Active,
    /// Retired; no further command is accepted.
    Archived,
}

/// One workflow's state, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Workflow {
    id: Option<WorkflowId>,
    name: String,
    tags: Vec<String>,
    definition: Option<WorkflowDefinition>,
    definition_version: u32,
    status: WorkflowStatus,
}

impl Workflow {
    /// The workflow's id; `None` until it is created.
    pub fn id(&self) -> Option<WorkflowId> {
        self.id
    }

    /// Whether the workflow has been created.
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// The current definition's name; empty until the workflow is created.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current tags, trimmed and without duplicates.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The current definition; `None` until the workflow is created.
    pub fn definition(&self) -> Option<&WorkflowDefinition> {
        self.definition.as_ref()
    }

    /// The current definition version: 1 at creation, one more per update; 0 until
    /// the workflow is created.
    pub fn definition_version(&self) -> u32 {
        self.definition_version
    }

    /// The workflow's status; `Inactive` until it is created (see [`Workflow::exists`]).
    pub fn status(&self) -> WorkflowStatus {
        self.status
    }

    fn update_definition(
        &self,
        workflow_id: WorkflowId,
        definition: WorkflowDefinition,
        tags: Option<Vec<String>>,
    ) -> Result<Vec<WorkflowEvent>, WorkflowError> {
        let tags = match tags {
            Some(tags) => normalize_tags(tags)?,
            None => self.tags.clone(),
        };
        if self.definition.as_ref() == Some(&definition) && tags == self.tags {
            // A retried update that already took effect.
            return Ok(vec![]);
        }
        Ok(vec![WorkflowEvent::DefinitionUpdated {
            workflow_id,
            name: definition.name().to_owned(),
            definition,
            tags,
            definition_version: self.definition_version + 1,
        }])
    }
}

impl Aggregate for Workflow {
    const TYPE: &'static str = "workflow";
    type Command = WorkflowCommand;
    type Event = WorkflowEvent;
    type Error = WorkflowError;

    fn handle(&self, command: WorkflowCommand) -> Result<Vec<WorkflowEvent>, WorkflowError> {
        let Some(workflow_id) = self.id else {
            return match command {
                WorkflowCommand::Create {
                    workflow_id,
                    definition,
                    tags,
                } => Ok(vec![WorkflowEvent::Created {
                    workflow_id,
                    name: definition.name().to_owned(),
                    definition,
                    tags: normalize_tags(tags)?,
                    definition_version: 1,
                }]),
                _ => Err(WorkflowError::NotFound),
            };
        };
        if self.status == WorkflowStatus::Archived {
            return Err(WorkflowError::Archived { workflow_id });
        }
        match command {
            WorkflowCommand::Create { .. } => Err(WorkflowError::AlreadyExists { workflow_id }),
            WorkflowCommand::UpdateDefinition { definition, tags } => {
                self.update_definition(workflow_id, definition, tags)
            }
            WorkflowCommand::Activate => Ok(match self.status {
                WorkflowStatus::Active => vec![],
                _ => vec![WorkflowEvent::Activated {
                    workflow_id,
                    definition_version: self.definition_version,
                }],
            }),
            WorkflowCommand::Deactivate => Ok(match self.status {
                WorkflowStatus::Active => vec![WorkflowEvent::Deactivated { workflow_id }],
                _ => vec![],
            }),
            // Archiving an active workflow needs no separate deactivation: the
            // archived status means its triggers are off.
            WorkflowCommand::Archive => Ok(vec![WorkflowEvent::Archived { workflow_id }]),
        }
    }

    fn apply(&mut self, event: WorkflowEvent) {
        match event {
            WorkflowEvent::Created {
                workflow_id,
                name,
                definition,
                tags,
                definition_version,
            } => {
                *self = Self {
                    id: Some(workflow_id),
                    name,
                    tags,
                    definition: Some(definition),
                    definition_version,
                    status: WorkflowStatus::Inactive,
                };
            }
            WorkflowEvent::DefinitionUpdated {
                name,
                definition,
                tags,
                definition_version,
                ..
            } => {
                self.name = name;
                self.definition = Some(definition);
                self.tags = tags;
                self.definition_version = definition_version;
            }
            WorkflowEvent::Activated { .. } => self.status = WorkflowStatus::Active,
            WorkflowEvent::Deactivated { .. } => self.status = WorkflowStatus::Inactive,
            WorkflowEvent::Archived { .. } => self.status = WorkflowStatus::Archived,
        }
    }
}

/// Trims each tag and drops repeats (keeping the first), then checks the limits:
/// no empty tag, none over [`MAX_TAG_CHARS`] characters, at most [`MAX_TAGS`].
fn normalize_tags(tags: Vec<String>) -> Result<Vec<String>, WorkflowError> {
    let mut normalized: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let trimmed = tag.trim();
        let reason = if trimmed.is_empty() {
            Some(InvalidTagReason::Empty)
        } else if trimmed.chars().count() > MAX_TAG_CHARS {
            Some(InvalidTagReason::TooLong)
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(WorkflowError::InvalidTag { tag, reason });
        }
        if !normalized.iter().any(|seen| seen == trimmed) {
            normalized.push(trimmed.to_owned());
        }
    }
    if normalized.len() > MAX_TAGS {
        return Err(WorkflowError::TooManyTags {
            count: normalized.len(),
        });
    }
    Ok(normalized)
}
