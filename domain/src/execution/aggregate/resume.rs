//! Waits and how they end: `Wait` pauses the running attempt until a time or a
//! resume call (repeating it is a no-op), `Resume` ends the wait (the timer and
//! the resume webhook may both fire; the first wins), and `ResumeWithToken`
//! resumes a Wait node with its resume token (`resume: webhook`). The token is a
//! secret, so the execution keeps only what a presented token must match (its
//! SHA-256), never shows it, and lets it resume the node once. Which Wait node a
//! node's `$execution.resumeUrl` leads to is decided here too, from the graph
//! alone, so every process derives the same link.

use std::collections::{BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Execution, NodeRunStatus};
use crate::execution::{ExecutionError, ExecutionEvent, ExecutionId, Item};
use crate::workflow::{Node, NodeType, WorkflowDefinition};

/// What the token of a resume call must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeSecret {
    /// The SHA-256 of the token, lower-case hex.
    Sha256(String),
    /// The token itself, from a history recorded before tokens were kept
    /// secret.
    Clear(String),
}

/// The Wait node (`resume: webhook`) that a resume link handed out at node
/// `from` resumes: `from` itself if it is one, else the nearest one
/// downstream of it (breadth first, connections in order). `None` if no such
/// node follows.
pub fn resume_target<'a>(definition: &'a WorkflowDefinition, from: &str) -> Option<&'a str> {
    // Most workflows have no such node: then no search (it runs for every
    // node attempt, and a search downstream of every node of a long chain
    // adds up to a cost quadratic in its length).
    if !definition.nodes().iter().any(waits_for_call) {
        return None;
    }
    let start = definition.node(from)?.name();
    let mut seen = BTreeSet::from([start]);
    let mut queue = VecDeque::from([start]);
    while let Some(name) = queue.pop_front() {
        let node = definition.node(name)?;
        if waits_for_call(node) {
            return Some(node.name());
        }
        for next in definition.successors(name) {
            if seen.insert(next.to) {
                queue.push_back(next.to);
            }
        }
    }
    None
}

/// Whether `node` is a Wait node resumed by a call to its resume link.
fn waits_for_call(node: &Node) -> bool {
    node.node_type() == NodeType::Wait
        && node.parameters().get("resume").and_then(Value::as_str) == Some("webhook")
}

impl Execution {
    pub(super) fn wait_command(
        &self,
        execution_id: ExecutionId,
        node: String,
        until: Option<DateTime<Utc>>,
        resume_token_sha256: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        self.node_definition(&node)?;
        let Some(run) = self.node_run(&node) else {
            return Err(ExecutionError::NodeNotRunning { node });
        };
        match run.status {
            NodeRunStatus::Running => Ok(vec![ExecutionEvent::NodeWaiting {
                execution_id,
                attempt: run.latest_attempt_number(),
                node,
                until,
                resume_token: None,
                resume_token_sha256: resume_token_sha256.clone(),
                waiting_since: at,
            }]),
            NodeRunStatus::Waiting
                if run.waiting_until == until
                    && run.resume_token == resume_token_sha256.map(ResumeSecret::Sha256) =>
            {
                Ok(vec![])
            }
            NodeRunStatus::Waiting => Err(ExecutionError::NodeWaiting { node }),
            NodeRunStatus::Succeeded | NodeRunStatus::Failed | NodeRunStatus::RetryScheduled => {
                Err(ExecutionError::NodeNotRunning { node })
            }
        }
    }

    pub(super) fn resume_command(
        &self,
        execution_id: ExecutionId,
        node: String,
        outputs: Vec<Vec<Item>>,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        Self::check_outputs(self.node_definition(&node)?, &outputs)?;
        let Some(run) = self.node_run(&node) else {
            return Err(ExecutionError::NodeNotWaiting { node });
        };
        let resumed_before = run
            .latest_attempt()
            .is_some_and(|attempt| attempt.waiting_since.is_some());
        match run.status {
            NodeRunStatus::Waiting => Ok(vec![ExecutionEvent::NodeResumed {
                execution_id,
                attempt: run.latest_attempt_number(),
                node,
                outputs,
                resumed_by: None,
                resumed_at: at,
            }]),
            // The timer and the resume webhook may both fire; the first one wins.
            NodeRunStatus::Succeeded if resumed_before => Ok(vec![]),
            NodeRunStatus::Running
            | NodeRunStatus::Succeeded
            | NodeRunStatus::Failed
            | NodeRunStatus::RetryScheduled => Err(ExecutionError::NodeNotWaiting { node }),
        }
    }

    /// `ResumeWithToken`: only a node waiting for a resume call resumes, so
    /// a token that was used (or whose wait ended otherwise) resumes nothing.
    pub(super) fn resume_with_token_command(
        &self,
        execution_id: ExecutionId,
        node: String,
        outputs: Vec<Vec<Item>>,
        actor: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        Self::check_outputs(self.node_definition(&node)?, &outputs)?;
        match self.node_run(&node) {
            Some(run) if run.status == NodeRunStatus::Waiting && run.resume_token.is_some() => {
                Ok(vec![ExecutionEvent::NodeResumed {
                    execution_id,
                    attempt: run.latest_attempt_number(),
                    node,
                    outputs,
                    resumed_by: Some(actor),
                    resumed_at: at,
                }])
            }
            _ => Err(ExecutionError::NodeNotWaiting { node }),
        }
    }
}
