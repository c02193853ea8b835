//! The workflow definition in its two forms. [`RawWorkflowDefinition`] is the
//! n8n-shaped JSON a user sends, taken as is; [`WorkflowDefinition::parse`] turns it
//! into a [`WorkflowDefinition`], which exists only if it is valid: within the size
//! limits ([`WorkflowLimits`]), known node types, unique names, connections between
//! existing nodes and outputs, at least one trigger, no cycles. Commands and events
//! carry only the validated form.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::errors::DefinitionError;
use super::limits::{ByteCounter, WorkflowLimits};
use super::node_type::NodeType;
use super::settings::WorkflowSettings;

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

/// A node of a valid workflow: its type is known, and its compensation (if any) is
/// a valid action node.
///
/// Serialises like [`RawNode`] with the canonical type name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(rename = "type")]
    node_type: NodeType,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry: Option<RetryPolicy>,
    #[serde(default, alias = "continueOnFail", skip_serializing_if = "is_false")]
    continue_on_fail: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compensation: Option<Box<Node>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(
        default,
        rename = "typeVersion",
        skip_serializing_if = "Option::is_none"
    )]
    type_version: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    position: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disabled: Option<bool>,
}

impl Node {
    /// The node's name, unique within the workflow (may be empty for a compensation).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the node does.
    pub fn node_type(&self) -> NodeType {
        self.node_type
    }

    /// The node's parameters.
    pub fn parameters(&self) -> &Map<String, Value> {
        &self.parameters
    }

    /// Retry settings, if any; without them the node is tried once.
    pub fn retry(&self) -> Option<&RetryPolicy> {
        self.retry.as_ref()
    }

    /// Whether the run goes on when this node fails for good.
    pub fn continue_on_fail(&self) -> bool {
        self.continue_on_fail
    }

    /// Per-try time limit in milliseconds, if any.
    pub fn timeout_ms(&self) -> Option<u64> {
        self.timeout_ms
    }

    /// The action node that undoes this one, if any.
    pub fn compensation(&self) -> Option<&Node> {
        self.compensation.as_deref()
    }

    /// n8n's node id, if the definition came from n8n.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// n8n's node type version, if given.
    pub fn type_version(&self) -> Option<&Number> {
        self.type_version.as_ref()
    }

    /// n8n's editor position, if given.
    pub fn position(&self) -> Option<&Value> {
        self.position.as_ref()
    }

    /// Free-text notes, if given.
    pub fn notes(&self) -> Option<&str> {
        self.notes.as_deref()
    }

    /// Whether n8n's `disabled` flag is set.
    pub fn is_disabled(&self) -> bool {
        self.disabled.unwrap_or(false)
    }

    /// Whether this node starts runs.
    pub fn is_trigger(&self) -> bool {
        self.node_type.is_trigger()
    }

    /// How many outputs this node has (see [`NodeType::output_count`]).
    pub fn output_count(&self) -> usize {
        self.node_type.output_count(&self.parameters)
    }

    /// The raw form of this node, with the canonical type name.
    pub fn to_raw(&self) -> RawNode {
        self.clone().into_raw()
    }

    /// Turns this node back into its raw form, with the canonical type name.
    pub fn into_raw(self) -> RawNode {
        RawNode {
            name: self.name,
            node_type: self.node_type.as_str().to_owned(),
            parameters: self.parameters,
            retry: self.retry,
            continue_on_fail: self.continue_on_fail,
            timeout_ms: self.timeout_ms,
            compensation: self.compensation.map(|c| Box::new(c.into_raw())),
            id: self.id,
            type_version: self.type_version,
            position: self.position,
            notes: self.notes,
            disabled: self.disabled,
        }
    }
}

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
    /// [`parse_within`](Self::parse_within) the default [`WorkflowLimits`].
    pub fn parse(raw: RawWorkflowDefinition) -> Result<Self, DefinitionError> {
        Self::parse_within(raw, &WorkflowLimits::default())
    }

    /// Checks a raw definition and returns its validated form, or the first problem
    /// found. Checks run in a fixed order — the node count, then the size in bytes;
    /// the workflow name; then each node in list order (name, duplicate, type, retry,
    /// compensation); then connections by source name (fan-out, source exists, output
    /// in range, target exists); then triggers (at least one, none with an incoming
    /// connection); then cycles; then settings — so the same definition always yields
    /// the same error.
    pub fn parse_within(
        raw: RawWorkflowDefinition,
        limits: &WorkflowLimits,
    ) -> Result<Self, DefinitionError> {
        if raw.nodes.len() > limits.max_nodes {
            return Err(DefinitionError::TooManyNodes {
                count: raw.nodes.len(),
                limit: limits.max_nodes,
            });
        }
        let bytes = serialized_len(&raw);
        if bytes > limits.max_definition_bytes {
            return Err(DefinitionError::DefinitionTooLarge {
                bytes,
                limit: limits.max_definition_bytes,
            });
        }
        if raw.name.trim().is_empty() {
            return Err(DefinitionError::EmptyWorkflowName);
        }
        let nodes = parse_nodes(raw.nodes)?;
        check_compensation_references(&nodes)?;
        let graph = Graph::build(&nodes, &raw.connections, limits.max_fan_out)?;
        graph.check_triggers(&nodes)?;
        graph.check_acyclic(&nodes)?;
        WorkflowSettings::parse(&raw.settings)?;
        Ok(Self::indexed(
            raw.name,
            nodes,
            raw.connections,
            raw.settings,
        ))
    }

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

impl TryFrom<RawWorkflowDefinition> for WorkflowDefinition {
    type Error = DefinitionError;

    fn try_from(raw: RawWorkflowDefinition) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<WorkflowDefinition> for RawWorkflowDefinition {
    fn from(definition: WorkflowDefinition) -> Self {
        definition.into_raw()
    }
}

/// How many bytes `raw` takes as compact JSON; a definition that cannot be
/// serialised (it always can) counts as too large to store.
fn serialized_len(raw: &RawWorkflowDefinition) -> usize {
    let mut counter = ByteCounter::default();
    match serde_json::to_writer(&mut counter, raw) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

// Takes a reference because `skip_serializing_if` passes one.
fn is_false(value: &bool) -> bool {
    !*value
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

fn parse_nodes(raw_nodes: Vec<RawNode>) -> Result<Vec<Node>, DefinitionError> {
    let mut seen = HashSet::with_capacity(raw_nodes.len());
    let mut nodes = Vec::with_capacity(raw_nodes.len());
    for (index, raw) in raw_nodes.into_iter().enumerate() {
        if raw.name.trim().is_empty() {
            return Err(DefinitionError::EmptyNodeName { index });
        }
        if !seen.insert(raw.name.clone()) {
            return Err(DefinitionError::DuplicateNodeName { node: raw.name });
        }
        nodes.push(parse_node(raw)?);
    }
    Ok(nodes)
}

fn parse_node(raw: RawNode) -> Result<Node, DefinitionError> {
    let Ok(node_type) = NodeType::parse(&raw.node_type) else {
        return Err(DefinitionError::UnknownNodeType {
            node: raw.name,
            node_type: raw.node_type,
        });
    };
    if raw.retry.as_ref().is_some_and(|retry| retry.max_tries == 0) {
        return Err(DefinitionError::ZeroRetryTries { node: raw.name });
    }
    let compensation = match raw.compensation {
        None => None,
        Some(_) if node_type.is_trigger() => {
            return Err(DefinitionError::CompensationOnTrigger { node: raw.name })
        }
        Some(compensation) => Some(Box::new(parse_compensation(&raw.name, *compensation)?)),
    };
    Ok(Node {
        name: raw.name,
        node_type,
        parameters: raw.parameters,
        retry: raw.retry,
        continue_on_fail: raw.continue_on_fail,
        timeout_ms: raw.timeout_ms,
        compensation,
        id: raw.id,
        type_version: raw.type_version,
        position: raw.position,
        notes: raw.notes,
        disabled: raw.disabled,
    })
}

/// Checks the compensation of node `owner`; errors name the owner, since a
/// compensation need not have a name of its own.
fn parse_compensation(owner: &str, raw: RawNode) -> Result<Node, DefinitionError> {
    let Ok(node_type) = NodeType::parse(&raw.node_type) else {
        return Err(DefinitionError::UnknownCompensationType {
            node: owner.to_owned(),
            node_type: raw.node_type,
        });
    };
    if node_type.is_trigger() {
        return Err(DefinitionError::CompensationIsTrigger {
            node: owner.to_owned(),
            node_type: node_type.as_str().to_owned(),
        });
    }
    if raw.compensation.is_some() {
        return Err(DefinitionError::NestedCompensation {
            node: owner.to_owned(),
        });
    }
    if raw.retry.as_ref().is_some_and(|retry| retry.max_tries == 0) {
        return Err(DefinitionError::CompensationZeroRetryTries {
            node: owner.to_owned(),
        });
    }
    Ok(Node {
        name: raw.name,
        node_type,
        parameters: raw.parameters,
        retry: raw.retry,
        continue_on_fail: raw.continue_on_fail,
        timeout_ms: raw.timeout_ms,
        compensation: None,
        id: raw.id,
        type_version: raw.type_version,
        position: raw.position,
        notes: raw.notes,
        disabled: raw.disabled,
    })
}

/// A compensation may read other nodes' outputs (`$node["Name"]`,
/// `$('Name')`); each such name must be a node of the workflow.
fn check_compensation_references(nodes: &[Node]) -> Result<(), DefinitionError> {
    for node in nodes {
        let Some(compensation) = node.compensation() else {
            continue;
        };
        let mut names = Vec::new();
        for value in compensation.parameters().values() {
            referenced_nodes(value, &mut names);
        }
        if let Some(unknown) = names
            .into_iter()
            .find(|name| !nodes.iter().any(|n| n.name == *name))
        {
            return Err(DefinitionError::CompensationUnknownNode {
                node: node.name.clone(),
                reference: unknown,
            });
        }
    }
    Ok(())
}

/// The node names a parameter value refers to through `$node["…"]`,
/// `$node['…']`, `$("…")` or `$('…')`.
fn referenced_nodes(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            for opener in ["$node[", "$("] {
                let mut rest = text.as_str();
                while let Some(at) = rest.find(opener) {
                    rest = &rest[at + opener.len()..];
                    let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'')
                    else {
                        continue;
                    };
                    let body = &rest[1..];
                    if let Some(end) = body.find(quote) {
                        names.push(body[..end].to_owned());
                        rest = &body[end + 1..];
                    }
                }
            }
        }
        Value::Array(values) => values.iter().for_each(|v| referenced_nodes(v, names)),
        Value::Object(map) => map.values().for_each(|v| referenced_nodes(v, names)),
        _ => {}
    }
}

/// The connections as adjacency lists over node indices, built once the
/// connections are known to refer to existing nodes and outputs.
struct Graph<'a> {
    /// Per node, its successors in connection order.
    successors: Vec<Vec<usize>>,
    /// Every edge as (source name, target index), sources in name order.
    edges: Vec<(&'a str, usize)>,
}

impl<'a> Graph<'a> {
    fn build(
        nodes: &[Node],
        connections: &'a BTreeMap<String, NodeConnections>,
        max_fan_out: usize,
    ) -> Result<Self, DefinitionError> {
        let index_of: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(index, node)| (node.name.as_str(), index))
            .collect();
        let mut successors = vec![Vec::new(); nodes.len()];
        let mut edges = Vec::new();
        for (source, node_connections) in connections {
            let fan_out: usize = node_connections.main.iter().map(Vec::len).sum();
            if fan_out > max_fan_out {
                return Err(DefinitionError::FanOutTooWide {
                    node: source.clone(),
                    connections: fan_out,
                    limit: max_fan_out,
                });
            }
            let Some(&from) = index_of.get(source.as_str()) else {
                return Err(DefinitionError::UnknownConnectionSource {
                    node: source.clone(),
                });
            };
            let outputs = nodes[from].output_count();
            for (output, targets) in node_connections.main.iter().enumerate() {
                // n8n exports list unconnected outputs as `[]`, even past the last
                // real output; only an output that is actually used must exist.
                if !targets.is_empty() && output >= outputs {
                    return Err(DefinitionError::OutputOutOfRange {
                        node: source.clone(),
                        output,
                        outputs,
                    });
                }
                for target in targets {
                    let Some(&to) = index_of.get(target.node.as_str()) else {
                        return Err(DefinitionError::UnknownConnectionTarget {
                            from: source.clone(),
                            to: target.node.clone(),
                        });
                    };
                    successors[from].push(to);
                    edges.push((source.as_str(), to));
                }
            }
        }
        Ok(Self { successors, edges })
    }

    fn check_triggers(&self, nodes: &[Node]) -> Result<(), DefinitionError> {
        if !nodes.iter().any(Node::is_trigger) {
            return Err(DefinitionError::NoTrigger);
        }
        match self.edges.iter().find(|(_, to)| nodes[*to].is_trigger()) {
            Some((from, to)) => Err(DefinitionError::TriggerHasIncomingConnection {
                node: nodes[*to].name.clone(),
                from: (*from).to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// Depth-first search with an explicit stack (a recursive one would overflow on
    /// a long chain), starting from nodes in list order and following connections in
    /// the order listed, so the cycle reported is always the same one.
    fn check_acyclic(&self, nodes: &[Node]) -> Result<(), DefinitionError> {
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum Mark {
            Unvisited,
            OnPath,
            Done,
        }
        let mut marks = vec![Mark::Unvisited; nodes.len()];
        // (node, index of the next successor to look at)
        let mut path: Vec<(usize, usize)> = Vec::new();
        for start in 0..nodes.len() {
            if marks[start] != Mark::Unvisited {
                continue;
            }
            marks[start] = Mark::OnPath;
            path.push((start, 0));
            while let Some(top) = path.last_mut() {
                let (node, next) = *top;
                let Some(&successor) = self.successors[node].get(next) else {
                    marks[node] = Mark::Done;
                    path.pop();
                    continue;
                };
                top.1 += 1;
                match marks[successor] {
                    Mark::Unvisited => {
                        marks[successor] = Mark::OnPath;
                        path.push((successor, 0));
                    }
                    Mark::OnPath => {
                        let start_of_cycle = path
                            .iter()
                            .position(|(on_path, _)| *on_path == successor)
                            .unwrap_or_default();
                        let cycle = path[start_of_cycle..]
                            .iter()
                            .map(|(index, _)| nodes[*index].name.clone())
                            .chain(std::iter::once(nodes[successor].name.clone()))
                            .collect();
                        return Err(DefinitionError::Cycle { path: cycle });
                    }
                    Mark::Done => {}
                }
            }
        }
        Ok(())
    }
}
