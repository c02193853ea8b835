//! What an execution remembers: what was requested (the pinned definition,
//! trigger, input, caller, reused outputs), each node's [`NodeRun`], how the run
//! stands and how it ended, with the queries the API and the plan ask of it.
//! `apply` (in the parent module) writes these fields; the status is derived
//! from the node runs here so that every event keeps it consistent.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{NodeRun, NodeRunStatus};
use crate::execution::{ExecutionId, Item, NodeError, ParentExecution, Trigger};
use crate::workflow::{Node, WorkflowDefinition, WorkflowId};

/// Where an execution stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Requested and not finished, with a node running or about to. Also what an
    /// execution that was never requested reports (see [`Execution::exists`]).
    #[default]
    Running,
    /// Requested, and held back by its workflow's concurrency cap: no node
    /// has run yet.
    Queued,
    /// No node is running and at least one is waiting (for a time or a resume).
    Waiting,
    /// Ended: every node that was to run succeeded (or continued after failing).
    Succeeded,
    /// Ended: a node failed for good, or the run was failed from outside (timeout).
    Failed,
    /// Ended: stopped on request.
    Cancelled,
}

impl ExecutionStatus {
    /// The status as serialised: `running`, `queued`, `waiting`, `succeeded`,
    /// `failed`, `cancelled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Queued => "queued",
            Self::Waiting => "waiting",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the execution has ended; nothing happens to it afterwards.
    pub const fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a failed execution failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionFailure {
    /// The node whose failure ended the run, if a node's did.
    pub node: Option<String>,
    /// Why.
    pub error: NodeError,
}

/// Why and by whom an execution was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancellation {
    /// Why, as given.
    pub reason: String,
    /// Who asked.
    pub actor: String,
}

/// One execution's state, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Execution {
    pub(super) id: Option<ExecutionId>,
    pub(super) workflow_id: Option<WorkflowId>,
    pub(super) definition_version: u32,
    /// The pinned definition and the node items are shared between clones:
    /// the command layer keeps recently used executions and clones them on
    /// every load, which must not cost a copy of everything that ran.
    pub(super) definition: Option<Arc<WorkflowDefinition>>,
    pub(super) trigger: Option<Trigger>,
    pub(super) input: Vec<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) parent: Option<ParentExecution>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) reuse: BTreeMap<String, Vec<Vec<Item>>>,
    pub(super) status: ExecutionStatus,
    pub(super) requested_at: Option<DateTime<Utc>>,
    /// Held back by the concurrency cap at some point (see `ExecutionQueued`).
    #[serde(skip)]
    pub(super) queued: bool,
    pub(super) finished_at: Option<DateTime<Utc>>,
    pub(super) node_runs: Vec<NodeRun>,
    #[serde(skip)]
    pub(super) run_index: HashMap<String, usize>,
    /// Node names in the order their attempts finished (succeeded, resumed or
    /// failed), repeats included: history order decides which node was last.
    #[serde(skip)]
    pub(super) finish_order: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) last_node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) output: Option<Vec<Vec<Item>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) failure: Option<ExecutionFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cancellation: Option<Cancellation>,
}

impl Execution {
    /// The execution's id; `None` until it is requested.
    pub fn id(&self) -> Option<ExecutionId> {
        self.id
    }

    /// Whether the execution has been requested.
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// The workflow it runs; `None` until requested.
    pub fn workflow_id(&self) -> Option<WorkflowId> {
        self.workflow_id
    }

    /// The pinned definition version; 0 until requested.
    pub fn definition_version(&self) -> u32 {
        self.definition_version
    }

    /// The pinned definition; `None` until requested.
    pub fn definition(&self) -> Option<&WorkflowDefinition> {
        self.definition.as_deref()
    }

    /// What started it; `None` until requested.
    pub fn trigger(&self) -> Option<&Trigger> {
        self.trigger.as_ref()
    }

    /// The start node's input items.
    pub fn input(&self) -> &[Item] {
        &self.input
    }

    /// The calling execution, for a sub-workflow.
    pub fn parent(&self) -> Option<&ParentExecution> {
        self.parent.as_ref()
    }

    /// How many sub-workflow calls deep this execution runs (0 when nothing
    /// called it).
    pub fn depth(&self) -> u32 {
        self.parent.as_ref().map_or(0, |p| p.depth)
    }

    /// The execution at the top of this one's call tree: itself when nothing
    /// called it, else its caller's root (the caller itself for a child
    /// recorded before roots were kept). `None` until requested.
    pub fn root_id(&self) -> Option<ExecutionId> {
        match &self.parent {
            Some(parent) => Some(parent.root.unwrap_or(parent.execution_id)),
            None => self.id,
        }
    }

    /// Outputs taken over from an earlier execution, by node name.
    pub fn reuse(&self) -> &BTreeMap<String, Vec<Vec<Item>>> {
        &self.reuse
    }

    /// Where the execution stands; `Running` until requested (see [`Execution::exists`]).
    pub fn status(&self) -> ExecutionStatus {
        self.status
    }

    /// Whether the execution has ended.
    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }

    /// When it was requested.
    pub fn requested_at(&self) -> Option<DateTime<Utc>> {
        self.requested_at
    }

    /// When it ended.
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.finished_at
    }

    /// From request to end, once ended.
    pub fn duration(&self) -> Option<TimeDelta> {
        Some(self.finished_at? - self.requested_at?)
    }

    /// The node that fired: the trigger's node, or else the definition's first
    /// trigger node in list order. `None` until requested.
    pub fn start_node(&self) -> Option<&str> {
        let trigger_node = self.trigger.as_ref()?.node.as_deref();
        match trigger_node {
            Some(node) => Some(node),
            None => self
                .definition
                .as_ref()?
                .trigger_nodes()
                .next()
                .map(Node::name),
        }
    }

    /// Every node that has run or is running, in the order they first started.
    pub fn node_runs(&self) -> &[NodeRun] {
        &self.node_runs
    }

    /// The run record of one node, if it has started.
    pub fn node_run(&self, node: &str) -> Option<&NodeRun> {
        self.run_index
            .get(node)
            .map(|&index| &self.node_runs[index])
    }

    /// Node names in the order their attempts finished, repeats included.
    pub(crate) fn finish_order(&self) -> &[String] {
        &self.finish_order
    }

    /// The node whose outputs became the execution's output, once it succeeded.
    pub fn last_node(&self) -> Option<&str> {
        self.last_node.as_deref()
    }

    /// The execution's output (the last node's outputs), once it succeeded.
    pub fn output(&self) -> Option<&[Vec<Item>]> {
        self.output.as_deref()
    }

    /// How it failed, once it failed.
    pub fn failure(&self) -> Option<&ExecutionFailure> {
        self.failure.as_ref()
    }

    /// Why it was cancelled, once it was.
    pub fn cancellation(&self) -> Option<&Cancellation> {
        self.cancellation.as_ref()
    }

    /// Derives the status of an unfinished run from its node runs, after every
    /// event, so no event has to set it by hand.
    pub(super) fn refresh_status(&mut self) {
        if self.status.is_finished() {
            return;
        }
        let running = self
            .node_runs
            .iter()
            .any(|run| run.status == NodeRunStatus::Running);
        let waiting = self
            .node_runs
            .iter()
            .any(|run| run.status == NodeRunStatus::Waiting);
        self.status = if self.queued && self.node_runs.is_empty() {
            ExecutionStatus::Queued
        } else if waiting && !running {
            ExecutionStatus::Waiting
        } else {
            ExecutionStatus::Running
        };
    }

    /// The run record of `node`, created (and indexed) on first use.
    pub(super) fn run_mut(&mut self, node: &str) -> &mut NodeRun {
        let index = match self.run_index.get(node) {
            Some(&index) => index,
            None => {
                self.node_runs.push(NodeRun::new(node.to_owned()));
                let index = self.node_runs.len() - 1;
                self.run_index.insert(node.to_owned(), index);
                index
            }
        };
        &mut self.node_runs[index]
    }
}
