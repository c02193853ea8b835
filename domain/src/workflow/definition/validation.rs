//! Validation: [`WorkflowDefinition::parse`] checks a raw definition in a fixed
//! order (size limits, names, node types, retry, compensations, connections,
//! triggers, cycles, settings) and returns the valid form or the first problem,
//! so the same definition always yields the same error.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::{Node, NodeConnections, RawNode, RawWorkflowDefinition, WorkflowDefinition};
use crate::workflow::limits::{ByteCounter, WorkflowLimits};
use crate::workflow::{DefinitionError, NodeType, WorkflowSettings};

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
}

impl TryFrom<RawWorkflowDefinition> for WorkflowDefinition {
    type Error = DefinitionError;

    fn try_from(raw: RawWorkflowDefinition) -> Result<Self, Self::Error> {
        Self::parse(raw)
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
    if node_type == NodeType::Webhook {
        if let Err(reason) = crate::webhook_path::WebhookAuth::of_parameters(&raw.parameters) {
            return Err(DefinitionError::InvalidParameter {
                node: raw.name,
                parameter: crate::webhook_path::AUTHENTICATION_PARAMETER.to_owned(),
                reason,
            });
        }
    }
    if let Err(reason) = crate::credential::check_references(&raw.parameters) {
        return Err(DefinitionError::InvalidParameter {
            node: raw.name,
            parameter: crate::credential::CREDENTIALS_PARAMETER.to_owned(),
            reason,
        });
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
