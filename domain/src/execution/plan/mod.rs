//! The execution planner: what should happen next in an execution, as a pure
//! function of its pinned definition and its history. The orchestrator calls
//! [`decide`] after every event and carries out the [`Decision`]s (run a node,
//! schedule a retry, set a timer, end the run); a restarted orchestrator replays
//! the same history and reaches the same decisions, as in Temporal.
//!
//! Semantics (n8n's, made explicit):
//! - The start node (see [`Execution::start_node`]) runs once with the execution's
//!   input items, even if there are none.
//! - Every other node runs at most once, when all its predecessors are settled
//!   (done, skipped or failed for good) and at least one connection delivered a
//!   non-empty item list; a successor receives its predecessor's items of the
//!   connected output index. A node no items reach is skipped (a branch not
//!   taken), and so, in turn, are its successors. Nodes not reachable from the
//!   start node (other triggers, their branches) are skipped too.
//! - A node's input is one list per input index: a `merge` node gets its inputs
//!   separately (so `combine_by_field` can join them; `append` is their
//!   concatenation in input-index order, see [`concat_items`]); any other node gets
//!   one list, every delivery concatenated in (input index, predecessor's list
//!   position, output index) order. A `merge` in mode `wait_all` runs only if every
//!   connected input got items; `append` (the default) and `combine_by_field` run
//!   if any did.
//! - A node whose outputs are reused (retry-from-failed) counts as done with those
//!   outputs when it becomes ready, without running; a disabled node passes its
//!   input through on output 0 without running.
//! - A failed attempt with tries left (`retry.max_tries`, 1 without a policy) asks
//!   for a retry; without tries left, a `continue_on_fail` node counts as done with
//!   its input items passed through on output 0, each with an `error` field holding
//!   the [`NodeError`] (one item holding only `error` if the input was empty, so the
//!   failure stays visible downstream); any other node fails the execution at once,
//!   even while other branches still run (n8n stops at the first error).
//! - The execution succeeds when every node is done or skipped; its output is the
//!   outputs of the node that finished last in history order.
//!
//! Layout: `node_state` holds the rules above for one node, `retry` the wait
//! before a retry, and this module the [`Plan`] that applies the rules in
//! topological order and turns the result into [`Decision`]s.
//!
//! [`concat_items`]: crate::execution::concat_items

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use chrono::{DateTime, Utc};

use super::aggregate::Execution;
use super::events::NodeError;
use super::item::Item;
use crate::workflow::{Node, RetryPolicy, WorkflowDefinition};

mod node_state;
mod retry;

pub use node_state::{Completion, NodeState};
pub use retry::{retry_delay, RETRY_JITTER_SPREAD};

/// One thing the orchestrator should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Start attempt `attempt` (always 1) of a node that is ready, with this input.
    RunNode {
        /// The node.
        node: String,
        /// The attempt to start.
        attempt: u32,
        /// Its input items, one list per input index.
        input: Vec<Vec<Item>>,
    },
    /// A node failed with tries left: choose a wait with [`retry_delay`] and send
    /// `ScheduleRetry`.
    ScheduleRetry {
        /// The node.
        node: String,
        /// The attempt that failed.
        failed_attempt: u32,
        /// The attempt to schedule: `failed_attempt + 1`.
        next_attempt: u32,
        /// The node's retry policy.
        policy: RetryPolicy,
    },
    /// A retry is scheduled: at `due_at`, start attempt `attempt` with this input.
    RetryDue {
        /// The node.
        node: String,
        /// The attempt to start.
        attempt: u32,
        /// When it may start.
        due_at: DateTime<Utc>,
        /// The input items, as the failed attempt had them.
        input: Vec<Vec<Item>>,
    },
    /// A node waits with a deadline: at `until`, send `Resume` (a timed `wait`
    /// node resumes with its attempt's input passed through).
    WaitDue {
        /// The node.
        node: String,
        /// The waiting attempt.
        attempt: u32,
        /// When the wait ends.
        until: DateTime<Utc>,
    },
    /// Nothing is left to do: end the execution this way.
    Finish(Finish),
}

/// How an execution should end.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    /// Every node is done or skipped.
    Succeeded {
        /// The node that finished last (in history order), if any node ran.
        last_node: Option<String>,
        /// Its outputs, one list per output index; empty if no node ran.
        output: Vec<Vec<Item>>,
    },
    /// A node failed for good.
    Failed {
        /// The node.
        node: String,
        /// Its last attempt's error.
        error: NodeError,
    },
}

/// The plan of one execution: every node's [`NodeState`], in a fixed topological
/// order (a node after its predecessors, ties broken by position in the definition).
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    execution: &'a Execution,
    definition: Option<&'a WorkflowDefinition>,
    order: Vec<usize>,
    states: Vec<NodeState<'a>>,
}

/// The decisions for this execution's current history: `Plan::of(execution).decisions()`.
pub fn decide(execution: &Execution) -> Vec<Decision> {
    Plan::of(execution).decisions()
}

/// One incoming connection of a node, by node index.
#[derive(Debug, Clone, Copy)]
struct Edge {
    from: usize,
    output: usize,
    input: usize,
}

impl<'a> Plan<'a> {
    /// Works out every node's state from the execution's definition and history.
    /// An execution that was never requested has an empty plan.
    pub fn of(execution: &'a Execution) -> Self {
        let Some(definition) = execution.definition() else {
            return Self {
                execution,
                definition: None,
                order: Vec::new(),
                states: Vec::new(),
            };
        };
        let nodes = definition.nodes();
        let index_of: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(index, node)| (node.name(), index))
            .collect();
        let mut incoming: Vec<Vec<Edge>> = vec![Vec::new(); nodes.len()];
        for (from, node) in nodes.iter().enumerate() {
            for connection in definition.successors(node.name()) {
                if let Some(&to) = index_of.get(connection.to) {
                    incoming[to].push(Edge {
                        from,
                        output: connection.output,
                        input: connection.input,
                    });
                }
            }
        }
        for edges in &mut incoming {
            edges.sort_by_key(|edge| (edge.input, edge.from, edge.output));
        }
        let order = topological_order(nodes.len(), &incoming);
        let start = execution
            .start_node()
            .and_then(|name| index_of.get(name).copied());

        let mut states = vec![NodeState::Pending; nodes.len()];
        for &index in &order {
            let node = &nodes[index];
            let state = match execution.node_run(node.name()) {
                Some(_) => node_state::state_from_run(execution, node),
                None => {
                    let structural = if Some(index) == start {
                        NodeState::Ready {
                            input: vec![execution.input().to_vec()],
                        }
                    } else {
                        node_state::arriving(node, &incoming[index], &states)
                    };
                    match structural {
                        NodeState::Ready { input } => node_state::ready(execution, node, input),
                        other => other,
                    }
                }
            };
            states[index] = state;
        }
        Self {
            execution,
            definition: Some(definition),
            order,
            states,
        }
    }

    /// The state of the named node; `None` if the definition has no such node.
    pub fn state(&self, node: &str) -> Option<&NodeState<'a>> {
        let definition = self.definition?;
        let index = definition.nodes().iter().position(|n| n.name() == node)?;
        self.states.get(index)
    }

    /// Every node with its state, in plan order.
    pub fn states(&self) -> impl Iterator<Item = (&'a str, &NodeState<'a>)> + '_ {
        let nodes = self.definition.map_or(&[][..], WorkflowDefinition::nodes);
        self.order
            .iter()
            .map(move |&index| (nodes[index].name(), &self.states[index]))
    }

    /// The nodes that are neither done nor skipped, in plan order.
    pub fn open_nodes(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.states()
            .filter(|(_, state)| !state.is_settled())
            .map(|(name, _)| name)
    }

    /// How the execution should end, if it should end now: failed as soon as a
    /// node failed for good (the first in plan order), succeeded once every node
    /// is done or skipped. `None` while work is left, or once it has ended.
    pub fn finish(&self) -> Option<Finish> {
        if !self.execution.exists() || self.execution.is_finished() {
            return None;
        }
        if let Some((node, error)) = self.states().find_map(|(name, state)| match state {
            NodeState::Failed { error, .. } => Some((name, *error)),
            _ => None,
        }) {
            return Some(Finish::Failed {
                node: node.to_owned(),
                error: error.clone(),
            });
        }
        if self.open_nodes().next().is_some() {
            return None;
        }
        let last =
            self.execution
                .finish_order()
                .iter()
                .rev()
                .find_map(|name| match self.state(name) {
                    Some(NodeState::Done {
                        outputs,
                        via: Completion::Ran | Completion::ContinuedAfterFailure,
                    }) => Some((name.clone(), outputs.to_vec())),
                    _ => None,
                });
        let (last_node, output) = match last {
            Some((name, outputs)) => (Some(name), outputs),
            None => (None, Vec::new()),
        };
        Some(Finish::Succeeded { last_node, output })
    }

    /// What the orchestrator should do now, in plan order: nothing once the
    /// execution has ended; only `Finish` once it should end; otherwise a decision
    /// per node that is ready, needs or has a retry, or waits with a deadline — and
    /// nothing at all while the only open nodes are running or waiting for a resume.
    pub fn decisions(&self) -> Vec<Decision> {
        if !self.execution.exists() || self.execution.is_finished() {
            return Vec::new();
        }
        if let Some(finish) = self.finish() {
            return vec![Decision::Finish(finish)];
        }
        let mut decisions = Vec::new();
        for (name, state) in self.states() {
            let node = name.to_owned();
            match state {
                NodeState::Ready { input } => decisions.push(Decision::RunNode {
                    node,
                    attempt: 1,
                    input: input.clone(),
                }),
                NodeState::RetryNeeded { failed_attempt } => {
                    let policy = self
                        .definition
                        .and_then(|definition| definition.node(name))
                        .and_then(Node::retry)
                        .cloned()
                        .unwrap_or_default();
                    decisions.push(Decision::ScheduleRetry {
                        node,
                        failed_attempt: *failed_attempt,
                        next_attempt: failed_attempt + 1,
                        policy,
                    });
                }
                NodeState::RetryScheduled { attempt, due_at } => {
                    let input = self
                        .execution
                        .node_run(name)
                        .and_then(|run| run.latest_attempt())
                        .map(|attempt| attempt.input().to_vec())
                        .unwrap_or_default();
                    decisions.push(Decision::RetryDue {
                        node,
                        attempt: *attempt,
                        due_at: *due_at,
                        input,
                    });
                }
                NodeState::Waiting {
                    attempt,
                    until: Some(until),
                } => decisions.push(Decision::WaitDue {
                    node,
                    attempt: *attempt,
                    until: *until,
                }),
                NodeState::Pending
                | NodeState::Skipped
                | NodeState::Running { .. }
                | NodeState::Waiting { until: None, .. }
                | NodeState::Failed { .. }
                | NodeState::Done { .. } => {}
            }
        }
        decisions
    }
}

/// Kahn's algorithm, always taking the available node listed first in the
/// definition, so the order is the same on every replay. Nodes on a cycle (which a
/// parsed definition cannot have) are left out and so stay pending.
fn topological_order(count: usize, incoming: &[Vec<Edge>]) -> Vec<usize> {
    let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut unmet: Vec<usize> = vec![0; count];
    for (to, edges) in incoming.iter().enumerate() {
        for edge in edges {
            outgoing[edge.from].push(to);
            unmet[to] += 1;
        }
    }
    let mut available: BinaryHeap<Reverse<usize>> = (0..count)
        .filter(|&index| unmet[index] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(count);
    while let Some(Reverse(index)) = available.pop() {
        order.push(index);
        for &to in &outgoing[index] {
            unmet[to] -= 1;
            if unmet[to] == 0 {
                available.push(Reverse(to));
            }
        }
    }
    order
}
