//! The saga's state, rebuilt from its events, and its decisions.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    commands::SagaCommand,
    errors::SagaError,
    events::{CompensationReason, SagaEvent},
};
use crate::{
    aggregate::Aggregate,
    execution::{ExecutionId, Item, NodeError},
    workflow::{Node, WorkflowId},
};

/// Where a saga stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaStatus {
    /// Steps are being recorded; the execution has not ended (or never
    /// recorded a step, see [`Saga::exists`]).
    #[default]
    Open,
    /// Completed steps are being undone.
    Compensating,
    /// A step could not be undone; waiting for an operator.
    Parked,
    /// Every completed step was undone or skipped.
    Compensated,
    /// The execution succeeded; nothing is undone.
    Closed,
}

impl SagaStatus {
    /// The status as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Compensating => "compensating",
            Self::Parked => "parked",
            Self::Compensated => "compensated",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for SagaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one step's undoing stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Done and not undone (yet).
    #[default]
    Done,
    /// Undone by its compensation.
    Compensated,
    /// Its compensation failed; retrying, or parked.
    Failed,
    /// Marked compensated by an operator.
    Skipped,
}

/// A failed attempt of a step's compensation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedAttempt {
    /// The attempt, from 1.
    pub attempt: u32,
    /// Why it failed.
    pub error: NodeError,
    /// When.
    pub failed_at: DateTime<Utc>,
    /// When the next attempt was due, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
}

/// One completed compensable step and its undoing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SagaStep {
    /// The node.
    pub step: String,
    /// The node that undoes it.
    pub compensation: Node,
    /// What the node received.
    pub input: Vec<Item>,
    /// What it produced.
    pub output: Vec<Item>,
    /// When it completed.
    pub completed_at: DateTime<Utc>,
    /// Where its undoing stands.
    pub status: StepStatus,
    /// Its compensation's failed attempts, oldest first.
    pub failed_attempts: Vec<FailedAttempt>,
    /// Failed attempts since compensation (re)started: what the retry policy counts.
    #[serde(skip)]
    pub tries_this_round: u32,
    /// When its compensation succeeded (or it was skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compensated_at: Option<DateTime<Utc>>,
    /// The compensation's output items, once it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compensation_output: Option<Vec<Item>>,
    /// Who skipped it, if an operator did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_by: Option<String>,
}

impl SagaStep {
    /// Whether nothing remains to undo for this step.
    pub fn is_settled(&self) -> bool {
        matches!(self.status, StepStatus::Compensated | StepStatus::Skipped)
    }

    /// The attempt number the next compensation attempt gets.
    pub fn next_attempt(&self) -> u32 {
        self.failed_attempts.len() as u32 + 1
    }

    /// When the next attempt is due, if the last one failed with a retry.
    pub fn retry_at(&self) -> Option<DateTime<Utc>> {
        self.failed_attempts.last().and_then(|a| a.retry_at)
    }
}

/// One execution's saga.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Saga {
    execution_id: Option<ExecutionId>,
    workflow_id: Option<WorkflowId>,
    status: SagaStatus,
    steps: Vec<SagaStep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<CompensationReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parked_step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compensation_started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<DateTime<Utc>>,
}

impl Saga {
    /// Whether any step was recorded.
    pub fn exists(&self) -> bool {
        self.execution_id.is_some()
    }

    /// The execution this saga belongs to (its id too).
    pub fn execution_id(&self) -> Option<ExecutionId> {
        self.execution_id
    }

    /// The execution's workflow.
    pub fn workflow_id(&self) -> Option<WorkflowId> {
        self.workflow_id
    }

    /// Where the saga stands.
    pub fn status(&self) -> SagaStatus {
        self.status
    }

    /// The completed steps, in order of completion.
    pub fn steps(&self) -> &[SagaStep] {
        &self.steps
    }

    /// The step recorded under `name`.
    pub fn step(&self, name: &str) -> Option<&SagaStep> {
        self.steps.iter().find(|s| s.step == name)
    }

    /// Why it compensates, once it does.
    pub fn reason(&self) -> Option<CompensationReason> {
        self.reason
    }

    /// The step it is parked on, while parked.
    pub fn parked_step(&self) -> Option<&str> {
        self.parked_step.as_deref()
    }

    /// When compensation started.
    pub fn compensation_started_at(&self) -> Option<DateTime<Utc>> {
        self.compensation_started_at
    }

    /// When it was compensated or closed.
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.finished_at
    }

    /// The next step to undo: the latest-completed step not yet settled.
    /// Reverse order of completion is a reverse topological order, since a
    /// node completes only after the nodes it depends on.
    pub fn next_step(&self) -> Option<&SagaStep> {
        self.steps.iter().rev().find(|s| !s.is_settled())
    }

    fn step_mut(&mut self, name: &str) -> Option<&mut SagaStep> {
        self.steps.iter_mut().find(|s| s.step == name)
    }

    fn require_next(&self, step: &str) -> Result<&SagaStep, SagaError> {
        match self.next_step() {
            Some(next) if next.step == step => Ok(next),
            next => Err(SagaError::NotNextStep {
                step: step.to_owned(),
                next: next.map(|s| s.step.clone()),
            }),
        }
    }

    /// `step` must be the next to undo and `attempt` its next attempt.
    fn require_next_attempt(&self, step: &str, attempt: u32) -> Result<(), SagaError> {
        let expected = self.require_next(step)?.next_attempt();
        if attempt == expected {
            Ok(())
        } else {
            Err(SagaError::AttemptOutOfSequence {
                step: step.to_owned(),
                attempt,
                expected,
            })
        }
    }

    fn require_status(&self, status: SagaStatus, what: &'static str) -> Result<(), SagaError> {
        if !self.exists() {
            return Err(SagaError::NotFound);
        }
        if self.status != status {
            return Err(SagaError::WrongStatus {
                status: self.status,
                what,
            });
        }
        Ok(())
    }

    /// The `SagaCompensated` event if settling `step` leaves nothing to undo.
    fn finished_after(&self, step: &str, id: ExecutionId, at: DateTime<Utc>) -> Option<SagaEvent> {
        let remaining = self
            .steps
            .iter()
            .filter(|s| !s.is_settled() && s.step != step)
            .count();
        (remaining == 0).then_some(SagaEvent::Compensated {
            execution_id: id,
            compensated_at: at,
        })
    }
}

impl Aggregate for Saga {
    const TYPE: &'static str = "saga";
    type Command = SagaCommand;
    type Event = SagaEvent;
    type Error = SagaError;

    fn handle(&self, command: SagaCommand) -> Result<Vec<SagaEvent>, SagaError> {
        match command {
            SagaCommand::RecordStep {
                execution_id,
                workflow_id,
                step,
                compensation,
                input,
                output,
                at,
            } => {
                if self.step(&step).is_some() {
                    return Err(SagaError::StepAlreadyRecorded { step });
                }
                if self.status != SagaStatus::Open {
                    return Err(SagaError::WrongStatus {
                        status: self.status,
                        what: "steps are recorded only while the execution runs",
                    });
                }
                Ok(vec![SagaEvent::StepCompleted {
                    execution_id,
                    workflow_id,
                    step,
                    compensation,
                    input,
                    output,
                    completed_at: at,
                }])
            }
            SagaCommand::StartCompensation { reason, detail, at } => {
                self.require_status(SagaStatus::Open, "compensation has started already")?;
                let id = self.execution_id.ok_or(SagaError::NotFound)?;
                Ok(vec![SagaEvent::CompensationStarted {
                    execution_id: id,
                    reason,
                    detail,
                    started_at: at,
                }])
            }
            SagaCommand::RecordCompensated {
                step,
                attempt,
                output,
                at,
            } => {
                self.require_status(SagaStatus::Compensating, "it is not compensating")?;
                let id = self.execution_id.ok_or(SagaError::NotFound)?;
                self.require_next_attempt(&step, attempt)?;
                let finished = self.finished_after(&step, id, at);
                Ok([SagaEvent::StepCompensated {
                    execution_id: id,
                    step,
                    attempt,
                    output,
                    compensated_at: at,
                }]
                .into_iter()
                .chain(finished)
                .collect())
            }
            SagaCommand::RecordCompensationFailed {
                step,
                attempt,
                error,
                retry_at,
                at,
            } => {
                self.require_status(SagaStatus::Compensating, "it is not compensating")?;
                let id = self.execution_id.ok_or(SagaError::NotFound)?;
                self.require_next_attempt(&step, attempt)?;
                let failed = SagaEvent::StepCompensationFailed {
                    execution_id: id,
                    step: step.clone(),
                    attempt,
                    error: error.clone(),
                    retry_at,
                    failed_at: at,
                };
                let parked = retry_at.is_none().then_some(SagaEvent::CompensationParked {
                    execution_id: id,
                    step,
                    error,
                    parked_at: at,
                });
                Ok([failed].into_iter().chain(parked).collect())
            }
            SagaCommand::Resume { actor, at } => {
                self.require_status(SagaStatus::Parked, "only a parked saga is resumed")?;
                let id = self.execution_id.ok_or(SagaError::NotFound)?;
                Ok(vec![SagaEvent::CompensationResumed {
                    execution_id: id,
                    actor,
                    resumed_at: at,
                }])
            }
            SagaCommand::SkipStep {
                step,
                actor,
                reason,
                at,
            } => {
                self.require_status(SagaStatus::Parked, "only a parked saga's step is skipped")?;
                let id = self.execution_id.ok_or(SagaError::NotFound)?;
                self.require_next(&step)?;
                let follow = match self.finished_after(&step, id, at) {
                    Some(done) => done,
                    None => SagaEvent::CompensationResumed {
                        execution_id: id,
                        actor: actor.clone(),
                        resumed_at: at,
                    },
                };
                Ok(vec![
                    SagaEvent::StepSkipped {
                        execution_id: id,
                        step,
                        actor,
                        reason,
                        skipped_at: at,
                    },
                    follow,
                ])
            }
            SagaCommand::Close { at } => {
                self.require_status(SagaStatus::Open, "only an open saga is closed")?;
                let id = self.execution_id.ok_or(SagaError::NotFound)?;
                Ok(vec![SagaEvent::Closed {
                    execution_id: id,
                    closed_at: at,
                }])
            }
        }
    }

    fn apply(&mut self, event: SagaEvent) {
        match event {
            SagaEvent::StepCompleted {
                execution_id,
                workflow_id,
                step,
                compensation,
                input,
                output,
                completed_at,
            } => {
                self.execution_id = Some(execution_id);
                self.workflow_id = Some(workflow_id);
                self.steps.push(SagaStep {
                    step,
                    compensation,
                    input,
                    output,
                    completed_at,
                    status: StepStatus::Done,
                    failed_attempts: Vec::new(),
                    tries_this_round: 0,
                    compensated_at: None,
                    compensation_output: None,
                    skipped_by: None,
                });
            }
            SagaEvent::CompensationStarted {
                reason,
                detail,
                started_at,
                ..
            } => {
                self.status = SagaStatus::Compensating;
                self.reason = Some(reason);
                self.detail = Some(detail);
                self.compensation_started_at = Some(started_at);
            }
            SagaEvent::StepCompensated {
                step,
                output,
                compensated_at,
                ..
            } => {
                if let Some(s) = self.step_mut(&step) {
                    s.status = StepStatus::Compensated;
                    s.compensated_at = Some(compensated_at);
                    s.compensation_output = Some(output);
                }
            }
            SagaEvent::StepCompensationFailed {
                step,
                attempt,
                error,
                retry_at,
                failed_at,
                ..
            } => {
                if let Some(s) = self.step_mut(&step) {
                    s.status = StepStatus::Failed;
                    s.tries_this_round += 1;
                    s.failed_attempts.push(FailedAttempt {
                        attempt,
                        error,
                        failed_at,
                        retry_at,
                    });
                }
            }
            SagaEvent::CompensationParked { step, .. } => {
                self.status = SagaStatus::Parked;
                self.parked_step = Some(step);
            }
            SagaEvent::CompensationResumed { .. } => {
                self.status = SagaStatus::Compensating;
                self.parked_step = None;
                for step in &mut self.steps {
                    step.tries_this_round = 0;
                }
            }
            SagaEvent::StepSkipped {
                step,
                actor,
                skipped_at,
                ..
            } => {
                if let Some(s) = self.step_mut(&step) {
                    s.status = StepStatus::Skipped;
                    s.compensated_at = Some(skipped_at);
                    s.skipped_by = Some(actor);
                }
            }
            SagaEvent::Compensated { compensated_at, .. } => {
                self.status = SagaStatus::Compensated;
                self.parked_step = None;
                self.finished_at = Some(compensated_at);
            }
            SagaEvent::Closed { closed_at, .. } => {
                self.status = SagaStatus::Closed;
                self.finished_at = Some(closed_at);
            }
        }
    }
}
