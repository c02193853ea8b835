//! The seam between the orchestrator and the node implementations: the
//! orchestrator decides *that* a node runs, an executor knows *how*.

use async_trait::async_trait;
use flowforge_domain::{
    execution::{ExecutionId, Item, NodeError},
    workflow::{Node, WorkflowId},
};
use std::{collections::BTreeMap, sync::Arc};

/// Everything a node run needs to know.
#[derive(Debug, Clone)]
pub struct NodeRunRequest {
    /// The execution the node runs in.
    pub execution_id: ExecutionId,
    /// Its workflow.
    pub workflow_id: WorkflowId,
    /// The node's definition.
    pub node: Node,
    /// Which attempt this is (1 for the first).
    pub attempt: u32,
    /// The items on each of the node's inputs.
    pub input: Vec<Vec<Item>>,
    /// What `$input` shows, when it is not `input`: a compensation runs over
    /// the original node's output items but sees what that node received.
    pub context_input: Option<Vec<Item>>,
    /// The outputs of the nodes that already ran, by name (for `$node[…]`).
    pub node_outputs: BTreeMap<String, Arc<Vec<Vec<Item>>>>,
    /// `$now` for this run (RFC 3339), fixed when the run is decided.
    pub now: String,
    /// Stable across redeliveries of this attempt: passed to side effects
    /// (an HTTP call's `Idempotency-Key`) so they can be de-duplicated.
    pub idempotency_key: String,
    /// The Wait node (`resume: webhook`) this node's `$execution.resumeUrl`
    /// resumes: itself, or the nearest one downstream (see
    /// [`resume_target`](flowforge_domain::execution::resume_target)).
    pub resume_node: Option<String>,
}

/// How a node run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeOutcome {
    /// It produced items on its outputs.
    Succeeded(Vec<Vec<Item>>),
    /// It failed (may be retried per the node's policy).
    Failed(NodeError),
    /// It waits: until a time, or until resumed through its token.
    Wait {
        /// When to wake it (none: only a resume wakes it).
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// The SHA-256 (lower-case hex) of the token a resume call must
        /// present; the token itself is never recorded.
        resume_token_sha256: Option<String>,
    },
}

/// Runs nodes.
#[async_trait]
pub trait NodeExecutor: Send + Sync + 'static {
    /// Runs one attempt of one node. Never panics; every failure is an outcome.
    async fn run(&self, request: NodeRunRequest) -> NodeOutcome;
}
