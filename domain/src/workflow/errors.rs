//! Why something about a workflow was refused: a definition that does not hold
//! together ([`DefinitionError`]), a command the aggregate's state does not allow
//! ([`WorkflowError`]), and the small parse errors of ids and node types. Every
//! message names the node or value at fault, so the API can show it as is.

use super::aggregate::{MAX_TAGS, MAX_TAG_CHARS};
use super::id::WorkflowId;
use super::limits::WorkflowLimit;

/// A workflow definition that cannot become a [`WorkflowDefinition`](super::WorkflowDefinition).
///
/// Checks run in a fixed order (node count, then size in bytes, then nodes in
/// list order, then connections by source name, then triggers, then cycles), so
/// the same bad definition always yields the same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// The definition takes more bytes, serialised as JSON, than the limit allows.
    #[error("the workflow definition takes {bytes} bytes as JSON, more than the limit of {limit}")]
    DefinitionTooLarge {
        /// Its size as compact JSON.
        bytes: usize,
        /// The limit ([`WorkflowLimits::max_definition_bytes`](super::WorkflowLimits::max_definition_bytes)).
        limit: usize,
    },

    /// More nodes than the limit allows.
    #[error("the workflow has {count} nodes, more than the limit of {limit}")]
    TooManyNodes {
        /// How many nodes it has.
        count: usize,
        /// The limit ([`WorkflowLimits::max_nodes`](super::WorkflowLimits::max_nodes)).
        limit: usize,
    },

    /// More connections leave one node than the limit allows.
    #[error(
        "node {node:?} has {connections} outgoing connections, more than the limit of {limit}"
    )]
    FanOutTooWide {
        /// The source node.
        node: String,
        /// How many connections leave it, over all its outputs.
        connections: usize,
        /// The limit ([`WorkflowLimits::max_fan_out`](super::WorkflowLimits::max_fan_out)).
        limit: usize,
    },

    /// The workflow's `name` is empty or only whitespace.
    #[error("the workflow name is empty")]
    EmptyWorkflowName,

    /// A node's `name` is empty or only whitespace.
    #[error("node at index {index} has an empty name")]
    EmptyNodeName {
        /// Zero-based position of the node in `nodes`.
        index: usize,
    },

    /// A node's parameter is not what its type needs (a webhook's
    /// `authentication`).
    #[error("node {node:?}: parameter {parameter:?} is not valid: {reason}")]
    InvalidParameter {
        /// The node.
        node: String,
        /// The parameter.
        parameter: String,
        /// Why not.
        reason: String,
    },

    /// Two nodes share a name; connections refer to nodes by name.
    #[error("duplicate node name {node:?}")]
    DuplicateNodeName {
        /// The name used more than once.
        node: String,
    },

    /// A node's `type` is neither a canonical FlowForge type nor a known n8n alias.
    #[error("node {node:?} has unknown type {node_type:?}")]
    UnknownNodeType {
        /// The node with the bad type.
        node: String,
        /// The type as written.
        node_type: String,
    },

    /// `connections` has an entry for a node that is not in `nodes`.
    #[error("connections start at node {node:?}, which does not exist")]
    UnknownConnectionSource {
        /// The missing source node.
        node: String,
    },

    /// A connection points at a node that is not in `nodes`.
    #[error("node {from:?} connects to node {to:?}, which does not exist")]
    UnknownConnectionTarget {
        /// The (existing) source node.
        from: String,
        /// The missing target node.
        to: String,
    },

    /// A connection leaves from an output the source node does not have.
    #[error("node {node:?} has {outputs} output(s), but a connection leaves from output {output}")]
    OutputOutOfRange {
        /// The source node.
        node: String,
        /// The zero-based output index used.
        output: usize,
        /// How many outputs the node has.
        outputs: usize,
    },

    /// The connections loop back; a workflow must be a directed acyclic graph.
    #[error("cycle: {}", path.join(" -> "))]
    Cycle {
        /// The nodes on the cycle, first and last being the same node.
        path: Vec<String>,
    },

    /// No node can start the workflow.
    #[error(
        "the workflow has no trigger node (one of manual_trigger, webhook, schedule, nats_trigger, error_trigger)"
    )]
    NoTrigger,

    /// A trigger starts a run, so nothing may lead into it.
    #[error("trigger node {node:?} has an incoming connection from {from:?}")]
    TriggerHasIncomingConnection {
        /// The trigger node.
        node: String,
        /// The node connecting into it.
        from: String,
    },

    /// `retry.max_tries` is 0; a node is always tried at least once.
    #[error("node {node:?} has retry.max_tries = 0; it must be at least 1")]
    ZeroRetryTries {
        /// The node with the bad retry policy.
        node: String,
    },

    /// A trigger has nothing to undo, so it cannot have a compensation.
    #[error("trigger node {node:?} cannot have a compensation")]
    CompensationOnTrigger {
        /// The trigger node.
        node: String,
    },

    /// A node's compensation has a type that is neither canonical nor a known alias.
    #[error("the compensation of node {node:?} has unknown type {node_type:?}")]
    UnknownCompensationType {
        /// The node whose compensation is bad.
        node: String,
        /// The compensation's type as written.
        node_type: String,
    },

    /// A compensation must be an action: it runs inside a saga, nothing triggers it.
    #[error(
        "the compensation of node {node:?} is a trigger ({node_type}); it must be an action node"
    )]
    CompensationIsTrigger {
        /// The node whose compensation is bad.
        node: String,
        /// The compensation's (trigger) type.
        node_type: String,
    },

    /// A compensation with a compensation of its own; undoing an undo is not modelled.
    #[error("the compensation of node {node:?} has a compensation of its own; compensations do not nest")]
    NestedCompensation {
        /// The node whose compensation is bad.
        node: String,
    },

    /// A compensation's expressions read a node the workflow does not have.
    #[error(
        "the compensation of node {node:?} refers to node {reference:?}, which does not exist"
    )]
    CompensationUnknownNode {
        /// The node whose compensation is bad.
        node: String,
        /// The missing node it names.
        reference: String,
    },

    /// A setting FlowForge acts on has a value it cannot use.
    #[error("setting {setting:?} {reason}")]
    InvalidSetting {
        /// The settings key.
        setting: String,
        /// What the value must be.
        reason: String,
    },

    /// A compensation's `retry.max_tries` is 0.
    #[error("the compensation of node {node:?} has retry.max_tries = 0; it must be at least 1")]
    CompensationZeroRetryTries {
        /// The node whose compensation is bad.
        node: String,
    },
}

/// Which size limit a definition went past, by how much: see
/// [`DefinitionError::exceeded_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceededLimit {
    /// The limit.
    pub limit: WorkflowLimit,
    /// The definition's value (nodes, bytes, connections out of one node).
    pub actual: usize,
    /// The limit's value.
    pub max: usize,
}

impl DefinitionError {
    /// The size limit this error is about, if it is about one: the edge tells
    /// the user which setting to raise.
    pub fn exceeded_limit(&self) -> Option<ExceededLimit> {
        let (limit, actual, max) = match self {
            Self::DefinitionTooLarge { bytes, limit } => {
                (WorkflowLimit::DefinitionBytes, *bytes, *limit)
            }
            Self::TooManyNodes { count, limit } => (WorkflowLimit::Nodes, *count, *limit),
            Self::FanOutTooWide {
                connections, limit, ..
            } => (WorkflowLimit::FanOut, *connections, *limit),
            Self::EmptyWorkflowName
            | Self::EmptyNodeName { .. }
            | Self::DuplicateNodeName { .. }
            | Self::UnknownNodeType { .. }
            | Self::UnknownConnectionSource { .. }
            | Self::UnknownConnectionTarget { .. }
            | Self::OutputOutOfRange { .. }
            | Self::Cycle { .. }
            | Self::NoTrigger
            | Self::TriggerHasIncomingConnection { .. }
            | Self::ZeroRetryTries { .. }
            | Self::CompensationOnTrigger { .. }
            | Self::UnknownCompensationType { .. }
            | Self::CompensationIsTrigger { .. }
            | Self::NestedCompensation { .. }
            | Self::CompensationUnknownNode { .. }
            | Self::InvalidSetting { .. }
            | Self::InvalidParameter { .. }
            | Self::CompensationZeroRetryTries { .. } => return None,
        };
        Some(ExceededLimit { limit, actual, max })
    }

    /// The node the error is about, for the API's error details; `None` when the
    /// error concerns the workflow as a whole or a node without a name. For a
    /// connection error this is the source node; for a cycle, its first node.
    pub fn node(&self) -> Option<&str> {
        match self {
            Self::EmptyWorkflowName
            | Self::DefinitionTooLarge { .. }
            | Self::TooManyNodes { .. }
            | Self::EmptyNodeName { .. }
            | Self::NoTrigger
            | Self::InvalidSetting { .. } => None,
            Self::DuplicateNodeName { node }
            | Self::UnknownNodeType { node, .. }
            | Self::UnknownConnectionSource { node }
            | Self::OutputOutOfRange { node, .. }
            | Self::TriggerHasIncomingConnection { node, .. }
            | Self::ZeroRetryTries { node }
            | Self::CompensationOnTrigger { node }
            | Self::UnknownCompensationType { node, .. }
            | Self::CompensationIsTrigger { node, .. }
            | Self::NestedCompensation { node }
            | Self::CompensationZeroRetryTries { node }
            | Self::CompensationUnknownNode { node, .. }
            | Self::InvalidParameter { node, .. }
            | Self::FanOutTooWide { node, .. } => Some(node),
            Self::UnknownConnectionTarget { from, .. } => Some(from),
            Self::Cycle { path } => path.first().map(String::as_str),
        }
    }
}

/// A command the [`Workflow`](super::Workflow) aggregate refuses in its current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// `Create` on a workflow that already exists.
    #[error("workflow {workflow_id} already exists")]
    AlreadyExists {
        /// The existing workflow.
        workflow_id: WorkflowId,
    },

    /// Any command but `Create` on a workflow that was never created.
    #[error("workflow not found")]
    NotFound,

    /// Any command on an archived workflow; archiving is final.
    #[error("workflow {workflow_id} is archived")]
    Archived {
        /// The archived workflow.
        workflow_id: WorkflowId,
    },

    /// A tag that is empty after trimming or too long.
    #[error("invalid tag {tag:?}: {reason}")]
    InvalidTag {
        /// The tag as given.
        tag: String,
        /// What is wrong with it.
        reason: InvalidTagReason,
    },

    /// More distinct tags than a workflow may carry.
    #[error("too many tags: {count} (at most {MAX_TAGS})")]
    TooManyTags {
        /// How many distinct tags were given.
        count: usize,
    },
}

/// What is wrong with a rejected tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTagReason {
    /// Nothing is left after trimming whitespace.
    #[error("a tag cannot be empty")]
    Empty,
    /// Longer than [`MAX_TAG_CHARS`] characters after trimming.
    #[error("a tag has at most {MAX_TAG_CHARS} characters")]
    TooLong,
}

/// A string that is not a workflow id (a UUID).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid workflow id {input:?}: {source}")]
pub struct InvalidWorkflowId {
    /// The text that failed to parse.
    pub input: String,
    /// Why the UUID parser refused it.
    #[source]
    pub source: uuid::Error,
}

/// A node type name that is neither a canonical FlowForge type nor a known n8n alias.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown node type {name:?}")]
pub struct UnknownNodeType {
    /// The name as written.
    pub name: String,
}
