//! One node's record within an execution: each attempt (input, outputs, error,
//! when it started, waited and ended) and where the node stands by its latest
//! one. `apply` keeps these records; the decisions and the [`Plan`] read them.
//!
//! [`Plan`]: crate::execution::Plan

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::ResumeSecret;
use crate::execution::{Item, NodeError};

/// Where one node's run stands, by its latest attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRunStatus {
    /// The latest attempt is running.
    Running,
    /// The latest attempt is paused until a time or a resume.
    Waiting,
    /// The latest attempt succeeded (directly or by resuming); the node is done.
    Succeeded,
    /// The latest attempt failed and no retry is scheduled (yet).
    Failed,
    /// The latest attempt failed and the next one is scheduled.
    RetryScheduled,
}

/// One attempt of one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    attempt: u32,
    /// Shared, not copied, when the state is cloned (see `Execution`).
    pub(super) input: Arc<Vec<Vec<Item>>>,
    pub(super) started_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) waiting_since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) outputs: Option<Arc<Vec<Vec<Item>>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<NodeError>,
}

impl Attempt {
    /// The attempt number, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The input items, one list per input index.
    pub fn input(&self) -> &[Vec<Item>] {
        self.input.as_slice()
    }

    /// When the attempt started.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// When the attempt began to wait, if it waited.
    pub fn waiting_since(&self) -> Option<DateTime<Utc>> {
        self.waiting_since
    }

    /// When the attempt succeeded, failed or resumed; `None` while in progress.
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.finished_at
    }

    /// How long the attempt took, once finished.
    pub fn duration(&self) -> Option<TimeDelta> {
        self.finished_at.map(|end| end - self.started_at)
    }

    /// The output items (one list per output index), if the attempt succeeded.
    pub fn outputs(&self) -> Option<&[Vec<Item>]> {
        self.outputs.as_deref().map(Vec::as_slice)
    }

    /// The same outputs, shared rather than copied (for a later node's
    /// expressions).
    pub fn shared_outputs(&self) -> Option<&Arc<Vec<Vec<Item>>>> {
        self.outputs.as_ref()
    }

    /// Why the attempt failed, if it did.
    pub fn error(&self) -> Option<&NodeError> {
        self.error.as_ref()
    }
}

/// Everything that happened to one node in this execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeRun {
    node: String,
    pub(super) status: NodeRunStatus,
    attempts: Vec<Attempt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) next_retry_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) waiting_until: Option<DateTime<Utc>>,
    /// A secret: never serialised (whoever reads an execution must not learn
    /// how to resume it); `awaits_resume` says that it waits for a call.
    #[serde(skip)]
    pub(super) resume_token: Option<ResumeSecret>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    awaits_resume: bool,
}

impl NodeRun {
    pub(super) fn new(node: String) -> Self {
        Self {
            node,
            status: NodeRunStatus::Running,
            attempts: Vec::new(),
            next_retry_at: None,
            waiting_until: None,
            resume_token: None,
            awaits_resume: false,
        }
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Where the node stands, by its latest attempt.
    pub fn status(&self) -> NodeRunStatus {
        self.status
    }

    /// Every attempt, oldest first.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// The latest attempt.
    pub fn latest_attempt(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    /// The latest attempt's number; 0 if there is none.
    pub fn latest_attempt_number(&self) -> u32 {
        self.attempts.last().map_or(0, |attempt| attempt.attempt)
    }

    /// When the scheduled retry is due, while one is scheduled.
    pub fn next_retry_at(&self) -> Option<DateTime<Utc>> {
        self.next_retry_at
    }

    /// When the wait ends by itself, while the node waits with a deadline.
    pub fn waiting_until(&self) -> Option<DateTime<Utc>> {
        self.waiting_until
    }

    /// What the token of a resume call must match, while the node waits for
    /// one (a digest of it; the token itself only in old histories).
    pub fn resume_token(&self) -> Option<&ResumeSecret> {
        self.resume_token.as_ref()
    }

    pub(super) fn set_resume_token(&mut self, secret: Option<ResumeSecret>) {
        self.awaits_resume = secret.is_some();
        self.resume_token = secret;
    }

    pub(super) fn attempt_mut(&mut self, attempt: u32, at: DateTime<Utc>) -> &mut Attempt {
        // `apply` never fails: an event for an attempt that was never recorded as
        // started (impossible through `handle`) gets a record of its own.
        let index = match self.attempts.iter().position(|a| a.attempt == attempt) {
            Some(index) => index,
            None => {
                self.attempts.push(Attempt {
                    attempt,
                    input: Arc::default(),
                    started_at: at,
                    waiting_since: None,
                    finished_at: None,
                    outputs: None,
                    error: None,
                });
                self.attempts.len() - 1
            }
        };
        &mut self.attempts[index]
    }
}
