//! The workflow definition in its two forms. [`RawWorkflowDefinition`] is the
//! n8n-shaped JSON a user sends, taken as is; [`WorkflowDefinition::parse`] turns it
//! into a [`WorkflowDefinition`], which exists only if it is valid: within the size
//! limits ([`WorkflowLimits`]), known node types, unique names, connections between
//! existing nodes and outputs, at least one trigger, no cycles. Commands and events
//! carry only the validated form.
//!
//! Layout: `raw` holds the form as sent, `node` the valid node, `validation`
//! the checks that turn one into the other, and this module the valid
//! definition itself with its node index and graph lookups.
//!
//! [`WorkflowLimits`]: crate::workflow::WorkflowLimits

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::workflow::WorkflowSettings;

mod node;
mod raw;
mod validation;

pub use node::Node;
pub use raw::{
    Backoff, ConnectionTarget, NodeConnections, RawNode, RawWorkflowDefinition, RetryPolicy,
};

/// One edge of the workflow graph, as returned by [`WorkflowDefinition::successors`]
/// and [`WorkflowDefinition::predecessors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    /// The source node.
    pub from: &'a str,
    /// The source node's output the edge leaves from.
    pub output: usize,
    /// The target node.
    pub to: &'a str,
    /// The target node's input the edge arrives at.
    pub input: usize,
}

/// A valid workflow definition: it can only be made by [`WorkflowDefinition::parse`]
/// (or read back from history), so holding one means the checks passed.
///
/// Serialises in the same JSON shape as [`RawWorkflowDefinition`], with canonical
/// node type names.
//
// `Deserialize` does not re-validate, on purpose: it exists to read definitions back
// from the event store, and those were valid when they were recorded. Re-validating
// would make old events unreadable the day a rule tightens, and history is never
// edited. Untrusted input must go through `RawWorkflowDefinition` and `parse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredDefinition")]
pub struct WorkflowDefinition {
    name: String,
    nodes: Vec<Node>,
    connections: BTreeMap<String, NodeConnections>,
    settings: Map<String, Value>,
    /// Each node's position in `nodes`, by name: a node is looked up for
    /// every step of a run, and a scan would make long workflows quadratic.
    /// Shared by clones (and small inside the events that carry a definition).
    #[serde(skip)]
    index: Arc<HashMap<String, usize>>,
}

/// A definition as stored, before its node index is built.
#[derive(Deserialize)]
struct StoredDefinition {
    name: String,
    nodes: Vec<Node>,
    #[serde(default)]
    connections: BTreeMap<String, NodeConnections>,
    #[serde(default)]
    settings: Map<String, Value>,
}

impl From<StoredDefinition> for WorkflowDefinition {
    fn from(stored: StoredDefinition) -> Self {
        Self::indexed(
            stored.name,
            stored.nodes,
            stored.connections,
            stored.settings,
        )
    }
}

impl WorkflowDefinition {
    /// The definition with its node index built.
    fn indexed(
        name: String,
        nodes: Vec<Node>,
        connections: BTreeMap<String, NodeConnections>,
        settings: Map<String, Value>,
    ) -> Self {
        let index = Arc::new(
            nodes
                .iter()
                .enumerate()
                .map(|(position, node)| (node.name.clone(), position))
                .collect(),
        );
        Self {
            name,
            nodes,
            connections,
            settings,
            index,
        }
    }

    /// The workflow's display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// All nodes, in the order the user listed them.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Outgoing connections keyed by source node name.
    pub fn connections(&self) -> &BTreeMap<String, NodeConnections> {
        &self.connections
    }

    /// Workflow-level settings, as given.
    pub fn settings(&self) -> &Map<String, Value> {
        &self.settings
    }

    /// The settings FlowForge acts on. They were checked when the definition was
    /// parsed; a definition read back from history whose settings no longer pass
    /// gets the defaults.
    pub fn workflow_settings(&self) -> WorkflowSettings {
        WorkflowSettings::parse(&self.settings).unwrap_or_default()
    }

    /// The node with this name, if there is one.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.index
            .get(name)
            .and_then(|&position| self.nodes.get(position))
    }

    /// The nodes that start runs, in list order; there is at least one.
    pub fn trigger_nodes(&self) -> impl Iterator<Item = &Node> + '_ {
        self.nodes.iter().filter(|node| node.is_trigger())
    }

    /// The edges leaving `name`, by output index then in the order listed; none if
    /// the node has no outgoing connections or does not exist.
    pub fn successors(&self, name: &str) -> impl Iterator<Item = Connection<'_>> + '_ {
        self.connections
            .get_key_value(name)
            .into_iter()
            .flat_map(|(from, connections)| outgoing(from, connections))
    }

    /// The edges arriving at `name`, by source name then output index; none for a
    /// trigger or a node that does not exist.
    pub fn predecessors<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Connection<'a>> + 'a {
        self.connections
            .iter()
            .flat_map(|(from, connections)| outgoing(from, connections))
            .filter(move |connection| connection.to == name)
    }

    /// The raw form of this definition, with canonical node type names.
    pub fn to_raw(&self) -> RawWorkflowDefinition {
        self.clone().into_raw()
    }

    /// Turns this definition back into its raw form, with canonical node type names.
    pub fn into_raw(self) -> RawWorkflowDefinition {
        RawWorkflowDefinition {
            name: self.name,
            nodes: self.nodes.into_iter().map(Node::into_raw).collect(),
            connections: self.connections,
            settings: self.settings,
        }
    }
}

impl From<WorkflowDefinition> for RawWorkflowDefinition {
    fn from(definition: WorkflowDefinition) -> Self {
        definition.into_raw()
    }
}

fn outgoing<'a>(
    from: &'a str,
    connections: &'a NodeConnections,
) -> impl Iterator<Item = Connection<'a>> + 'a {
    connections
        .main
        .iter()
        .enumerate()
        .flat_map(move |(output, targets)| {
            targets.iter().map(move |target| Connection {
                from,
                output,
                to: &target.node,
                input: target.index,
            })
        })
}
