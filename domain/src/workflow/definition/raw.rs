//! The definition as the user sends it: n8n-shaped JSON, taken as is and not yet
//! checked ([`RawWorkflowDefinition`], [`RawNode`]), with the parts both forms
//! share (connections, retry policy). `WorkflowDefinition::parse` turns it into
//! the valid form; `into_raw` turns that back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// How a failing node is retried before its failure counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// How many times the node is tried in all, first try included; at least 1.
    #[serde(default = "RetryPolicy::default_max_tries")]
    pub max_tries: u32,
    /// Wait before the first retry, in milliseconds.
    #[serde(default = "RetryPolicy::default_wait_ms")]
    pub wait_ms: u64,
    /// How the wait grows from one retry to the next.
    #[serde(default)]
    pub backoff: Backoff,
    /// Upper bound of the wait between two tries, in milliseconds; none if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_ms: Option<u64>,
}

impl RetryPolicy {
    const fn default_max_tries() -> u32 {
        3
    }

    const fn default_wait_ms() -> u64 {
        1_000
    }
}

impl Default for RetryPolicy {
    /// Three tries, one second apart.
    fn default() -> Self {
        Self {
            max_tries: Self::default_max_tries(),
            wait_ms: Self::default_wait_ms(),
            backoff: Backoff::default(),
            max_wait_ms: None,
        }
    }
}

/// How the wait between retries grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// The same wait every time.
    #[default]
    Fixed,
    /// The wait doubles after each retry (bounded by `max_wait_ms`).
    Exponential,
}

/// One target of a connection: `{"node": "B", "type": "main", "index": 0}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionTarget {
    /// The target node's name.
    pub node: String,
    /// n8n's connection kind; always `main` for the nodes FlowForge runs.
    #[serde(rename = "type", default = "ConnectionTarget::main_type")]
    pub connection_type: String,
    /// The target node's input index (a `merge` node has several inputs).
    #[serde(default)]
    pub index: usize,
}

impl ConnectionTarget {
    /// A `main` connection into input 0 of `node`.
    pub fn to(node: impl Into<String>) -> Self {
        Self {
            node: node.into(),
            connection_type: Self::main_type(),
            index: 0,
        }
    }

    fn main_type() -> String {
        "main".to_owned()
    }
}

/// The outgoing connections of one node: `{"main": [[target, …], [target, …]]}`.
/// The outer index is the source node's output index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConnections {
    /// Targets per output of the source node.
    #[serde(default)]
    pub main: Vec<Vec<ConnectionTarget>>,
}

/// A node as the user wrote it; its `type` is not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    /// Unique within the workflow; connections and expressions refer to nodes by name.
    /// May be left out of a compensation, which is never referred to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// A canonical node type or an n8n alias.
    #[serde(rename = "type")]
    pub node_type: String,
    /// The node's parameters; their meaning depends on the type.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// Retry settings; the node is tried once if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Whether the run goes on (with the error as output) when the node fails for good.
    #[serde(default, alias = "continueOnFail", skip_serializing_if = "is_false")]
    pub continue_on_fail: bool,
    /// Per-try time limit in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The node that undoes this one's effect if a later step fails for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensation: Option<Box<RawNode>>,
    /// n8n's node id; kept, not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// n8n's node type version; kept, not used.
    #[serde(
        default,
        rename = "typeVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub type_version: Option<Number>,
    /// n8n's editor position (`[x, y]`); kept, not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Value>,
    /// n8n's free-text notes; kept, not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// n8n's disabled flag; kept for the engine to honour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

impl RawNode {
    /// A node with this name and type and everything else left at its default.
    pub fn new(name: impl Into<String>, node_type: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            node_type: node_type.into(),
            ..Self::default()
        }
    }
}

/// A workflow definition as the user sent it, shaped like n8n's export.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkflowDefinition {
    /// The workflow's display name.
    pub name: String,
    /// The nodes, in the order the user listed them.
    pub nodes: Vec<RawNode>,
    /// Outgoing connections keyed by source node name.
    #[serde(default)]
    pub connections: BTreeMap<String, NodeConnections>,
    /// Workflow-level settings, kept as given.
    #[serde(default)]
    pub settings: Map<String, Value>,
}

// Takes a reference because `skip_serializing_if` passes one.
pub(super) fn is_false(value: &bool) -> bool {
    !*value
}
