//! Where each node stands ([`NodeState`]) and the rules that decide it: from
//! its run record if it has one (retries, waits, `continue_on_fail`), else from
//! what its settled predecessors delivered (pending, skipped or ready; `merge`
//! inputs kept apart), with reused outputs and disabled nodes done without
//! running. The parent module applies these rules in topological order.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Edge;
use crate::execution::aggregate::max_tries;
use crate::execution::{concat_items, Execution, Item, NodeError, NodeRunStatus};
use crate::workflow::{Node, NodeType};

/// How a node came to be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Completion {
    /// It ran and succeeded (directly, or by resuming from a wait).
    Ran,
    /// Its outputs were taken over from an earlier execution.
    Reused,
    /// It is disabled and passed its input through.
    Disabled,
    /// It failed for good, but `continue_on_fail` passes its input on with the error.
    ContinuedAfterFailure,
}

/// Where one node stands in the plan.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeState<'a> {
    /// Some predecessor is not settled yet.
    Pending,
    /// No items reach it; it will not run.
    Skipped,
    /// It should start, with this input (one list per input index).
    Ready {
        /// The input items.
        input: Vec<Vec<Item>>,
    },
    /// An attempt is running.
    Running {
        /// The running attempt.
        attempt: u32,
    },
    /// An attempt is waiting.
    Waiting {
        /// The waiting attempt.
        attempt: u32,
        /// When the wait ends by itself, if it does.
        until: Option<DateTime<Utc>>,
    },
    /// An attempt failed with tries left; no retry is scheduled yet.
    RetryNeeded {
        /// The attempt that failed.
        failed_attempt: u32,
    },
    /// The next attempt is scheduled.
    RetryScheduled {
        /// The scheduled attempt.
        attempt: u32,
        /// When it is due.
        due_at: DateTime<Utc>,
    },
    /// It failed for good; the execution fails.
    Failed {
        /// The last attempt.
        attempt: u32,
        /// Its error.
        error: &'a NodeError,
    },
    /// It is done; its outputs flow to its successors.
    Done {
        /// The outputs, one list per output index.
        outputs: Cow<'a, [Vec<Item>]>,
        /// How it came to be done.
        via: Completion,
    },
}

impl NodeState<'_> {
    /// Whether the node needs nothing more: done or skipped.
    pub fn is_settled(&self) -> bool {
        matches!(self, Self::Done { .. } | Self::Skipped)
    }
}

/// The state of a node that has a run record, from its latest attempt.
pub(super) fn state_from_run<'a>(execution: &'a Execution, node: &Node) -> NodeState<'a> {
    let Some(run) = execution.node_run(node.name()) else {
        return NodeState::Pending;
    };
    let Some(latest) = run.latest_attempt() else {
        return NodeState::Pending;
    };
    let attempt = latest.attempt();
    match run.status() {
        NodeRunStatus::Running => NodeState::Running { attempt },
        NodeRunStatus::Waiting => NodeState::Waiting {
            attempt,
            until: run.waiting_until(),
        },
        NodeRunStatus::Succeeded => NodeState::Done {
            outputs: Cow::Borrowed(latest.outputs().unwrap_or_default()),
            via: Completion::Ran,
        },
        NodeRunStatus::RetryScheduled => match run.next_retry_at() {
            Some(due_at) => NodeState::RetryScheduled {
                attempt: attempt + 1,
                due_at,
            },
            None => NodeState::RetryNeeded {
                failed_attempt: attempt,
            },
        },
        NodeRunStatus::Failed if attempt < max_tries(node) => NodeState::RetryNeeded {
            failed_attempt: attempt,
        },
        NodeRunStatus::Failed => match latest.error() {
            Some(error) if node.continue_on_fail() => NodeState::Done {
                outputs: Cow::Owned(continued_outputs(latest.input(), error)),
                via: Completion::ContinuedAfterFailure,
            },
            Some(error) => NodeState::Failed { attempt, error },
            // A failed status always comes with an error: `apply` records both.
            None => NodeState::Pending,
        },
    }
}

/// What reaches a node without a run record from its settled predecessors:
/// pending while one is not settled, else ready with the items delivered or
/// skipped if none were.
pub(super) fn arriving<'a>(
    node: &Node,
    incoming: &[Edge],
    states: &[NodeState<'a>],
) -> NodeState<'a> {
    let delivered = |edge: &Edge| -> Option<&[Item]> {
        match &states[edge.from] {
            NodeState::Done { outputs, .. } => outputs.get(edge.output).map(Vec::as_slice),
            _ => None,
        }
    };
    let unsettled = incoming.iter().any(|edge| {
        !matches!(
            states[edge.from],
            NodeState::Done { .. } | NodeState::Skipped | NodeState::Failed { .. }
        )
    });
    if unsettled {
        return NodeState::Pending;
    }
    let reached = |edge: &Edge| delivered(edge).is_some_and(|items| !items.is_empty());
    if node.node_type() == NodeType::Merge {
        let inputs = incoming
            .iter()
            .map(|edge| edge.input)
            .max()
            .map_or(0, |max| max + 1);
        let mut lists: Vec<Vec<Item>> = vec![Vec::new(); inputs];
        for edge in incoming {
            if let Some(items) = delivered(edge) {
                lists[edge.input].extend_from_slice(items);
            }
        }
        let wait_all = node.parameters().get("mode").and_then(Value::as_str) == Some("wait_all");
        let runs = if wait_all {
            // Every connected input must have received items.
            incoming.iter().all(|edge| !lists[edge.input].is_empty())
        } else {
            incoming.iter().any(reached)
        };
        return if runs {
            NodeState::Ready { input: lists }
        } else {
            NodeState::Skipped
        };
    }
    if !incoming.iter().any(reached) {
        return NodeState::Skipped;
    }
    let items: Vec<Item> = incoming
        .iter()
        .filter_map(delivered)
        .flatten()
        .cloned()
        .collect();
    NodeState::Ready { input: vec![items] }
}

/// A node that may run and has not started: reused outputs and disabled nodes are
/// done without running; anything else is ready.
pub(super) fn ready<'a>(
    execution: &'a Execution,
    node: &Node,
    input: Vec<Vec<Item>>,
) -> NodeState<'a> {
    if let Some(outputs) = execution.reuse().get(node.name()) {
        return NodeState::Done {
            outputs: Cow::Borrowed(outputs),
            via: Completion::Reused,
        };
    }
    if node.is_disabled() {
        return NodeState::Done {
            outputs: Cow::Owned(vec![concat_items(&input)]),
            via: Completion::Disabled,
        };
    }
    NodeState::Ready { input }
}

/// The outputs of a `continue_on_fail` node that failed for good: its input items
/// on output 0, each with an `error` field (one item with only `error` if none).
fn continued_outputs(input: &[Vec<Item>], error: &NodeError) -> Vec<Vec<Item>> {
    let error = serde_json::to_value(error).unwrap_or_else(|_| Value::from(error.message.clone()));
    let mut items = concat_items(input);
    if items.is_empty() {
        items.push(Item::new());
    }
    for item in &mut items {
        item.insert("error".to_owned(), error.clone());
    }
    vec![items]
}
