//! The node of a valid definition, [`Node`], and its way back to the raw form.
//! Only validation sets its fields (hence `pub(super)`); everything else reads
//! them through the accessors.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::raw::is_false;
use super::{RawNode, RetryPolicy};
use crate::workflow::NodeType;

/// A node of a valid workflow: its type is known, and its compensation (if any) is
/// a valid action node.
///
/// Serialises like [`RawNode`] with the canonical type name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) node_type: NodeType,
    #[serde(default)]
    pub(super) parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) retry: Option<RetryPolicy>,
    #[serde(default, alias = "continueOnFail", skip_serializing_if = "is_false")]
    pub(super) continue_on_fail: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) compensation: Option<Box<Node>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<String>,
    #[serde(
        default,
        rename = "typeVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) type_version: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) position: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) disabled: Option<bool>,
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
