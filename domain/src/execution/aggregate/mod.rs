//! The `Execution` aggregate: one run of a workflow, pinned to the definition
//! version it was requested with. It records each node attempt (input, outputs,
//! error, waits, retries) and how the run ended. `handle` guards the life cycle —
//! nothing after the end, a node runs once, attempts only go up — and asks the
//! [`Plan`] whether a node is ready or the run complete, so the orchestrator and
//! the aggregate can never disagree about the graph.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::commands::{ExecutionCommand, RunOutcome};
use super::errors::ExecutionError;
use super::events::{ExecutionEvent, NodeError, ParentExecution, Trigger};
use super::id::ExecutionId;
use super::item::Item;
use super::plan::{Finish, NodeState, Plan};
use crate::aggregate::Aggregate;
use crate::workflow::{Node, WorkflowDefinition, WorkflowId};

mod resume;

pub use resume::{resume_target, ResumeSecret};

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
    input: Arc<Vec<Vec<Item>>>,
    started_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting_since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outputs: Option<Arc<Vec<Vec<Item>>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<NodeError>,
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
    status: NodeRunStatus,
    attempts: Vec<Attempt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_retry_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting_until: Option<DateTime<Utc>>,
    /// A secret: never serialised (whoever reads an execution must not learn
    /// how to resume it); `awaits_resume` says that it waits for a call.
    #[serde(skip)]
    resume_token: Option<ResumeSecret>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    awaits_resume: bool,
}

impl NodeRun {
    fn new(node: String) -> Self {
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

    fn set_resume_token(&mut self, secret: Option<ResumeSecret>) {
        self.awaits_resume = secret.is_some();
        self.resume_token = secret;
    }

    fn attempt_mut(&mut self, attempt: u32, at: DateTime<Utc>) -> &mut Attempt {
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
    id: Option<ExecutionId>,
    workflow_id: Option<WorkflowId>,
    definition_version: u32,
    /// The pinned definition and the node items are shared between clones:
    /// the command layer keeps recently used executions and clones them on
    /// every load, which must not cost a copy of everything that ran.
    definition: Option<Arc<WorkflowDefinition>>,
    trigger: Option<Trigger>,
    input: Vec<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<ParentExecution>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    reuse: BTreeMap<String, Vec<Vec<Item>>>,
    status: ExecutionStatus,
    requested_at: Option<DateTime<Utc>>,
    /// Held back by the concurrency cap at some point (see `ExecutionQueued`).
    #[serde(skip)]
    queued: bool,
    finished_at: Option<DateTime<Utc>>,
    node_runs: Vec<NodeRun>,
    #[serde(skip)]
    run_index: HashMap<String, usize>,
    /// Node names in the order their attempts finished (succeeded, resumed or
    /// failed), repeats included: history order decides which node was last.
    #[serde(skip)]
    finish_order: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<Vec<Vec<Item>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<ExecutionFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancellation: Option<Cancellation>,
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

    fn node_definition(&self, node: &str) -> Result<&Node, ExecutionError> {
        self.definition
            .as_deref()
            .and_then(|definition| definition.node(node))
            .ok_or_else(|| ExecutionError::UnknownNode {
                node: node.to_owned(),
            })
    }

    fn check_outputs(node: &Node, outputs: &[Vec<Item>]) -> Result<(), ExecutionError> {
        let count = node.output_count();
        if outputs.len() > count {
            return Err(ExecutionError::TooManyOutputs {
                node: node.name().to_owned(),
                outputs: count,
                got: outputs.len(),
            });
        }
        Ok(())
    }

    fn start_node_command(
        &self,
        execution_id: ExecutionId,
        node: String,
        attempt: u32,
        input: Vec<Vec<Item>>,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        self.node_definition(&node)?;
        if self.reuse.contains_key(&node) {
            return Err(ExecutionError::NodeAlreadySucceeded { node });
        }
        let started = |node| ExecutionEvent::NodeStarted {
            execution_id,
            node,
            attempt,
            input,
            started_at: at,
        };
        let Some(run) = self.node_run(&node) else {
            if attempt != 1 {
                return Err(ExecutionError::UnexpectedAttempt {
                    node,
                    expected: 1,
                    got: attempt,
                });
            }
            let plan = Plan::of(self);
            if !matches!(plan.state(&node), Some(NodeState::Ready { .. })) {
                return Err(ExecutionError::NodeNotReady { node });
            }
            return Ok(vec![started(node)]);
        };
        let latest = run.latest_attempt_number();
        match run.status {
            // A redelivered start of the attempt in progress.
            NodeRunStatus::Running | NodeRunStatus::Waiting if attempt == latest => Ok(vec![]),
            NodeRunStatus::Running | NodeRunStatus::Waiting => {
                Err(ExecutionError::NodeAlreadyRunning {
                    node,
                    attempt: latest,
                })
            }
            NodeRunStatus::Succeeded => Err(ExecutionError::NodeAlreadySucceeded { node }),
            NodeRunStatus::Failed => Err(ExecutionError::RetryNotScheduled { node }),
            NodeRunStatus::RetryScheduled if attempt == latest + 1 => Ok(vec![started(node)]),
            NodeRunStatus::RetryScheduled => Err(ExecutionError::UnexpectedAttempt {
                node,
                expected: latest + 1,
                got: attempt,
            }),
        }
    }

    fn complete_node_command(
        &self,
        execution_id: ExecutionId,
        node: String,
        attempt: u32,
        outputs: Vec<Vec<Item>>,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        Self::check_outputs(self.node_definition(&node)?, &outputs)?;
        let current = self
            .node_run(&node)
            .map(|run| (run.status, run.latest_attempt_number()));
        match current {
            Some((NodeRunStatus::Running, latest)) if latest == attempt => {
                Ok(vec![ExecutionEvent::NodeSucceeded {
                    execution_id,
                    node,
                    attempt,
                    outputs,
                    finished_at: at,
                }])
            }
            Some((NodeRunStatus::Waiting, latest)) if latest == attempt => {
                Err(ExecutionError::NodeWaiting { node })
            }
            // At-least-once delivery: the first recorded result of an attempt wins.
            Some((NodeRunStatus::Succeeded, latest)) if latest == attempt => Ok(vec![]),
            _ => Err(ExecutionError::AttemptNotRunning { node, attempt }),
        }
    }

    fn fail_node_command(
        &self,
        execution_id: ExecutionId,
        node: String,
        attempt: u32,
        error: NodeError,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        self.node_definition(&node)?;
        let current = self
            .node_run(&node)
            .map(|run| (run.status, run.latest_attempt_number()));
        match current {
            Some((NodeRunStatus::Running | NodeRunStatus::Waiting, latest))
                if latest == attempt =>
            {
                Ok(vec![ExecutionEvent::NodeFailed {
                    execution_id,
                    node,
                    attempt,
                    error,
                    failed_at: at,
                }])
            }
            Some((NodeRunStatus::Failed | NodeRunStatus::RetryScheduled, latest))
                if latest == attempt =>
            {
                Ok(vec![])
            }
            _ => Err(ExecutionError::AttemptNotRunning { node, attempt }),
        }
    }

    fn schedule_retry_command(
        &self,
        execution_id: ExecutionId,
        node: String,
        next_attempt: u32,
        wait_ms: u64,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        let max_tries = max_tries(self.node_definition(&node)?);
        let Some(run) = self.node_run(&node) else {
            return Err(ExecutionError::NodeNotFailed { node });
        };
        let expected = run.latest_attempt_number() + 1;
        match run.status {
            NodeRunStatus::Failed | NodeRunStatus::RetryScheduled if next_attempt != expected => {
                Err(ExecutionError::UnexpectedAttempt {
                    node,
                    expected,
                    got: next_attempt,
                })
            }
            NodeRunStatus::RetryScheduled => Ok(vec![]),
            NodeRunStatus::Failed if next_attempt > max_tries => {
                Err(ExecutionError::RetriesExhausted { node, max_tries })
            }
            NodeRunStatus::Failed => {
                let due_at = i64::try_from(wait_ms)
                    .ok()
                    .and_then(TimeDelta::try_milliseconds)
                    .and_then(|wait| at.checked_add_signed(wait));
                let Some(due_at) = due_at else {
                    return Err(ExecutionError::WaitOutOfRange { node, wait_ms });
                };
                Ok(vec![ExecutionEvent::NodeRetryScheduled {
                    execution_id,
                    node,
                    attempt: next_attempt,
                    wait_ms,
                    scheduled_at: at,
                    due_at,
                }])
            }
            NodeRunStatus::Running | NodeRunStatus::Waiting | NodeRunStatus::Succeeded => {
                Err(ExecutionError::NodeNotFailed { node })
            }
        }
    }

    fn wait_command(
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

    fn resume_command(
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

    /// A pure node's start and outcome, decided one after the other as if
    /// they were two commands, plus the execution's success if that outcome
    /// completes the plan.
    fn record_run_command(
        &self,
        execution_id: ExecutionId,
        (node, attempt): (String, u32),
        input: Vec<Vec<Item>>,
        outcome: RunOutcome,
        (started_at, finished_at): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        let mut events =
            self.start_node_command(execution_id, node.clone(), attempt, input, started_at)?;
        let mut state = self.clone();
        events.iter().cloned().for_each(|e| state.apply(e));
        let ended = match outcome {
            RunOutcome::Succeeded(outputs) => {
                state.complete_node_command(execution_id, node, attempt, outputs, finished_at)?
            }
            RunOutcome::Failed(error) => {
                state.fail_node_command(execution_id, node, attempt, error, finished_at)?
            }
        };
        ended.iter().cloned().for_each(|e| state.apply(e));
        events.extend(ended);
        if matches!(Plan::of(&state).finish(), Some(Finish::Succeeded { .. })) {
            events.extend(state.succeed_command(execution_id, finished_at)?);
        }
        Ok(events)
    }

    fn succeed_command(
        &self,
        execution_id: ExecutionId,
        at: DateTime<Utc>,
    ) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        let plan = Plan::of(self);
        match plan.finish() {
            Some(Finish::Succeeded { last_node, output }) => Ok(vec![ExecutionEvent::Succeeded {
                execution_id,
                last_node,
                output,
                finished_at: at,
            }]),
            Some(Finish::Failed { .. }) | None => Err(ExecutionError::NotComplete {
                nodes: plan.open_nodes().map(str::to_owned).collect(),
            }),
        }
    }

    fn requested_event(&self, execution_id: ExecutionId) -> Option<ExecutionEvent> {
        Some(ExecutionEvent::Requested {
            execution_id,
            workflow_id: self.workflow_id?,
            definition_version: self.definition_version,
            definition: self.definition.as_deref()?.clone(),
            trigger: self.trigger.clone()?,
            input: self.input.clone(),
            parent: self.parent.clone(),
            reuse: self.reuse.clone(),
            requested_at: self.requested_at?,
        })
    }

    fn refresh_status(&mut self) {
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

    fn run_mut(&mut self, node: &str) -> &mut NodeRun {
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

/// How many times a node may be tried in all: its `retry.max_tries`, or 1.
pub(crate) fn max_tries(node: &Node) -> u32 {
    node.retry().map_or(1, |policy| policy.max_tries)
}

/// How many sub-workflow calls deep an execution may run. Past it, the call
/// fails instead of starting yet another execution (a workflow that calls
/// itself would otherwise never stop).
pub const MAX_SUB_WORKFLOW_DEPTH: u32 = 32;

/// Checks a `Request` and turns it into the event it records.
fn requested(command: ExecutionCommand) -> Result<ExecutionEvent, ExecutionError> {
    let ExecutionCommand::Request {
        execution_id,
        workflow_id,
        definition_version,
        definition,
        trigger,
        input,
        parent,
        reuse,
        at,
    } = command
    else {
        return Err(ExecutionError::NotFound);
    };
    if let Some(depth) = parent
        .as_ref()
        .map(|p| p.depth)
        .filter(|depth| *depth > MAX_SUB_WORKFLOW_DEPTH)
    {
        return Err(ExecutionError::TooDeep {
            depth,
            limit: MAX_SUB_WORKFLOW_DEPTH,
        });
    }
    if let Some(node) = &trigger.node {
        match definition.node(node) {
            None => return Err(ExecutionError::UnknownNode { node: node.clone() }),
            Some(found) if !found.is_trigger() => {
                return Err(ExecutionError::NotATrigger { node: node.clone() })
            }
            Some(_) => {}
        }
    }
    for (node, outputs) in &reuse {
        let Some(found) = definition.node(node) else {
            return Err(ExecutionError::UnknownNode { node: node.clone() });
        };
        Execution::check_outputs(found, outputs)?;
    }
    Ok(ExecutionEvent::Requested {
        execution_id,
        workflow_id,
        definition_version,
        definition,
        trigger,
        input,
        parent,
        reuse,
        requested_at: at,
    })
}

impl Aggregate for Execution {
    const TYPE: &'static str = "execution";
    type Command = ExecutionCommand;
    type Event = ExecutionEvent;
    type Error = ExecutionError;

    fn handle(&self, command: ExecutionCommand) -> Result<Vec<ExecutionEvent>, ExecutionError> {
        let Some(execution_id) = self.id else {
            return requested(command).map(|event| vec![event]);
        };
        let finished = |status| ExecutionError::AlreadyFinished {
            execution_id,
            status,
        };
        // Ending commands first: repeating the one that ended the run is a no-op.
        match (&command, self.status) {
            (ExecutionCommand::Request { .. }, _) => {
                let event = requested(command)?;
                return if Some(&event) == self.requested_event(execution_id).as_ref() {
                    Ok(vec![])
                } else {
                    Err(ExecutionError::AlreadyExists { execution_id })
                };
            }
            (ExecutionCommand::Succeed { .. }, ExecutionStatus::Succeeded)
            | (ExecutionCommand::Fail { .. }, ExecutionStatus::Failed)
            | (ExecutionCommand::Cancel { .. }, ExecutionStatus::Cancelled) => return Ok(vec![]),
            (_, status) if status.is_finished() => return Err(finished(status)),
            _ => {}
        }
        match command {
            ExecutionCommand::Request { .. } => Err(ExecutionError::AlreadyExists { execution_id }),
            ExecutionCommand::StartNode {
                node,
                attempt,
                input,
                at,
            } => self.start_node_command(execution_id, node, attempt, input, at),
            ExecutionCommand::RecordRun {
                node,
                attempt,
                input,
                outcome,
                started_at,
                finished_at,
            } => self.record_run_command(
                execution_id,
                (node, attempt),
                input,
                outcome,
                (started_at, finished_at),
            ),
            ExecutionCommand::CompleteNode {
                node,
                attempt,
                outputs,
                at,
            } => self.complete_node_command(execution_id, node, attempt, outputs, at),
            ExecutionCommand::FailNode {
                node,
                attempt,
                error,
                at,
            } => self.fail_node_command(execution_id, node, attempt, error, at),
            ExecutionCommand::ScheduleRetry {
                node,
                next_attempt,
                wait_ms,
                at,
            } => self.schedule_retry_command(execution_id, node, next_attempt, wait_ms, at),
            ExecutionCommand::Wait {
                node,
                until,
                resume_token_sha256,
                at,
            } => self.wait_command(execution_id, node, until, resume_token_sha256, at),
            ExecutionCommand::Resume { node, outputs, at } => {
                self.resume_command(execution_id, node, outputs, at)
            }
            ExecutionCommand::ResumeWithToken {
                node,
                outputs,
                actor,
                at,
            } => self.resume_with_token_command(execution_id, node, outputs, actor, at),
            ExecutionCommand::Succeed { at } => self.succeed_command(execution_id, at),
            ExecutionCommand::Fail {
                error,
                failed_node,
                at,
            } => {
                if let Some(node) = &failed_node {
                    self.node_definition(node)?;
                }
                Ok(vec![ExecutionEvent::Failed {
                    execution_id,
                    failed_node,
                    error,
                    finished_at: at,
                }])
            }
            ExecutionCommand::Queue { at } => {
                if self.queued || !self.node_runs.is_empty() {
                    Ok(vec![])
                } else {
                    Ok(vec![ExecutionEvent::Queued {
                        execution_id,
                        queued_at: at,
                    }])
                }
            }
            ExecutionCommand::Cancel { reason, actor, at } => Ok(vec![ExecutionEvent::Cancelled {
                execution_id,
                reason,
                actor,
                finished_at: at,
            }]),
        }
    }

    fn apply(&mut self, event: ExecutionEvent) {
        match event {
            ExecutionEvent::Requested {
                execution_id,
                workflow_id,
                definition_version,
                definition,
                trigger,
                input,
                parent,
                reuse,
                requested_at,
            } => {
                *self = Self {
                    id: Some(execution_id),
                    workflow_id: Some(workflow_id),
                    definition_version,
                    definition: Some(Arc::new(definition)),
                    trigger: Some(trigger),
                    input,
                    parent,
                    reuse,
                    requested_at: Some(requested_at),
                    ..Self::default()
                };
            }
            ExecutionEvent::NodeStarted {
                node,
                attempt,
                input,
                started_at,
                ..
            } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::Running;
                run.next_retry_at = None;
                let record = run.attempt_mut(attempt, started_at);
                record.input = Arc::new(input);
                record.started_at = started_at;
            }
            ExecutionEvent::NodeSucceeded {
                node,
                attempt,
                outputs,
                finished_at,
                ..
            } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::Succeeded;
                let record = run.attempt_mut(attempt, finished_at);
                record.outputs = Some(Arc::new(outputs));
                record.finished_at = Some(finished_at);
                self.finish_order.push(node);
            }
            ExecutionEvent::NodeFailed {
                node,
                attempt,
                error,
                failed_at,
                ..
            } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::Failed;
                run.waiting_until = None;
                run.set_resume_token(None);
                let record = run.attempt_mut(attempt, failed_at);
                record.error = Some(error);
                record.finished_at = Some(failed_at);
                self.finish_order.push(node);
            }
            ExecutionEvent::NodeRetryScheduled { node, due_at, .. } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::RetryScheduled;
                run.next_retry_at = Some(due_at);
            }
            ExecutionEvent::NodeWaiting {
                node,
                attempt,
                until,
                resume_token,
                resume_token_sha256,
                waiting_since,
                ..
            } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::Waiting;
                run.waiting_until = until;
                run.set_resume_token(
                    resume_token_sha256
                        .map(ResumeSecret::Sha256)
                        .or(resume_token.map(ResumeSecret::Clear)),
                );
                run.attempt_mut(attempt, waiting_since).waiting_since = Some(waiting_since);
            }
            ExecutionEvent::NodeResumed {
                node,
                attempt,
                outputs,
                resumed_at,
                ..
            } => {
                let run = self.run_mut(&node);
                run.status = NodeRunStatus::Succeeded;
                run.waiting_until = None;
                run.set_resume_token(None);
                let record = run.attempt_mut(attempt, resumed_at);
                record.outputs = Some(Arc::new(outputs));
                record.finished_at = Some(resumed_at);
                self.finish_order.push(node);
            }
            ExecutionEvent::Succeeded {
                last_node,
                output,
                finished_at,
                ..
            } => {
                self.status = ExecutionStatus::Succeeded;
                self.finished_at = Some(finished_at);
                self.last_node = last_node;
                self.output = Some(output);
            }
            ExecutionEvent::Failed {
                failed_node,
                error,
                finished_at,
                ..
            } => {
                self.status = ExecutionStatus::Failed;
                self.finished_at = Some(finished_at);
                self.failure = Some(ExecutionFailure {
                    node: failed_node,
                    error,
                });
            }
            ExecutionEvent::Queued { .. } => self.queued = true,
            ExecutionEvent::Cancelled {
                reason,
                actor,
                finished_at,
                ..
            } => {
                self.status = ExecutionStatus::Cancelled;
                self.finished_at = Some(finished_at);
                self.cancellation = Some(Cancellation { reason, actor });
            }
        }
        self.refresh_status();
    }
}
