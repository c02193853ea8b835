//! What an expression can see: the current item and the data around it.
//!
//! The node runner builds one [`ExpressionContext`] per item it evaluates
//! parameters for. Big parts (all input items, every finished node's outputs)
//! sit behind `Arc`s, so cloning a context per item is cheap, and the engine
//! hands them to JavaScript lazily: `$('Name')` serialises that node's output
//! only when an expression asks for it.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use crate::ScriptError;

/// One item's JSON: n8n's `item.json`.
pub type Item = Map<String, Value>;

/// The outputs of one node run: output index → items (an If node has two).
/// Shared with the execution's state rather than copied for every node run.
pub type NodeOutputs = Arc<Vec<Vec<Item>>>;

/// The data an expression or Code node can read, named as in n8n.
///
/// | JavaScript | source |
/// | --- | --- |
/// | `$json` | [`json`](Self::json) |
/// | `$input.all()`, `.first()`, `.last()`, `.item` | [`input_items`](Self::input_items) (`.item` is the current item) |
/// | `$node["Name"].json`, `$('Name').item.json`, `.first()`, `.last()`, `.all()` | [`node_outputs`](Self::node_outputs) |
/// | `$itemIndex` | [`item_index`](Self::item_index) |
/// | `$execution.id`, `$workflow.id` | [`execution_id`](Self::execution_id), [`workflow_id`](Self::workflow_id) |
/// | `$execution.resumeUrl` | [`resume_url`](Self::resume_url): the secret link that resumes the Wait node (`resume: webhook`) this node leads to |
/// | `$now`, `$today` | [`now`](Self::now): a `Date`, supplied by the caller; the engine never reads the clock |
/// | `$vars` | [`vars`](Self::vars) |
/// | `$env` | [`env`](Self::env): throws `access to $env is disabled` unless the caller set it |
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpressionContext {
    json: Item,
    item_index: usize,
    input_items: Arc<Vec<Item>>,
    node_outputs: Arc<BTreeMap<String, NodeOutputs>>,
    execution_id: Option<String>,
    resume_url: Option<String>,
    workflow_id: Option<String>,
    now: Option<DateTime<FixedOffset>>,
    vars: Map<String, Value>,
    env: Option<Arc<BTreeMap<String, String>>>,
}

impl ExpressionContext {
    /// A context whose current item (`$json`) is `json`; everything else empty.
    pub fn new(json: Item) -> Self {
        Self {
            json,
            ..Self::default()
        }
    }

    /// Sets the current item and its index among the input items (`$itemIndex`,
    /// and which item `$('Name').item` pairs with).
    pub fn with_item(mut self, index: usize, json: Item) -> Self {
        self.item_index = index;
        self.json = json;
        self
    }

    /// Sets the node's input items (`$input.all()`).
    pub fn with_input_items(mut self, items: impl Into<Arc<Vec<Item>>>) -> Self {
        self.input_items = items.into();
        self
    }

    /// Sets the outputs of every node that ran so far, by node name.
    pub fn with_node_outputs(
        mut self,
        outputs: impl Into<Arc<BTreeMap<String, NodeOutputs>>>,
    ) -> Self {
        self.node_outputs = outputs.into();
        self
    }

    /// Adds (or replaces) one node's outputs.
    pub fn with_node_output(
        mut self,
        name: impl Into<String>,
        outputs: impl Into<NodeOutputs>,
    ) -> Self {
        Arc::make_mut(&mut self.node_outputs).insert(name.into(), outputs.into());
        self
    }

    /// Sets `$execution.id`.
    pub fn with_execution_id(mut self, id: impl Into<String>) -> Self {
        self.execution_id = Some(id.into());
        self
    }

    /// Sets `$execution.resumeUrl`.
    pub fn with_resume_url(mut self, url: impl Into<String>) -> Self {
        self.resume_url = Some(url.into());
        self
    }

    /// Sets `$workflow.id`.
    pub fn with_workflow_id(mut self, id: impl Into<String>) -> Self {
        self.workflow_id = Some(id.into());
        self
    }

    /// Sets the instant `$now` stands for.
    pub fn with_now(mut self, now: DateTime<FixedOffset>) -> Self {
        self.now = Some(now);
        self
    }

    /// Sets `$now` from an RFC 3339 timestamp such as `2026-11-24T09:30:00+01:00`.
    ///
    /// # Errors
    /// [`ScriptError::InvalidContext`] when `now` is not RFC 3339.
    pub fn with_now_rfc3339(self, now: &str) -> Result<Self, ScriptError> {
        let parsed =
            DateTime::parse_from_rfc3339(now).map_err(|e| ScriptError::InvalidContext {
                message: format!("`now` {now:?} is not an RFC 3339 timestamp: {e}"),
            })?;
        Ok(self.with_now(parsed))
    }

    /// Sets `$vars`.
    pub fn with_vars(mut self, vars: Map<String, Value>) -> Self {
        self.vars = vars;
        self
    }

    /// Enables `$env` with exactly these variables. The engine never reads the
    /// process environment itself: the caller decides what is visible.
    pub fn with_env(mut self, env: impl Into<Arc<BTreeMap<String, String>>>) -> Self {
        self.env = Some(env.into());
        self
    }

    /// The current item (`$json`).
    pub fn json(&self) -> &Item {
        &self.json
    }

    /// The current item's index among the input items (`$itemIndex`).
    pub fn item_index(&self) -> usize {
        self.item_index
    }

    /// The node's input items (`$input.all()`).
    pub fn input_items(&self) -> &[Item] {
        &self.input_items
    }

    /// Outputs of the nodes that ran, by name.
    pub fn node_outputs(&self) -> &BTreeMap<String, NodeOutputs> {
        &self.node_outputs
    }

    /// `$execution.id`, if set.
    pub fn execution_id(&self) -> Option<&str> {
        self.execution_id.as_deref()
    }

    /// `$execution.resumeUrl`, if set.
    pub fn resume_url(&self) -> Option<&str> {
        self.resume_url.as_deref()
    }

    /// `$workflow.id`, if set.
    pub fn workflow_id(&self) -> Option<&str> {
        self.workflow_id.as_deref()
    }

    /// The instant `$now` stands for, if set.
    pub fn now(&self) -> Option<DateTime<FixedOffset>> {
        self.now
    }

    /// `$vars`.
    pub fn vars(&self) -> &Map<String, Value> {
        &self.vars
    }

    /// `$env`, if the caller enabled it.
    pub fn env(&self) -> Option<&BTreeMap<String, String>> {
        self.env.as_deref()
    }

    pub(crate) fn shared_input_items(&self) -> Arc<Vec<Item>> {
        Arc::clone(&self.input_items)
    }

    pub(crate) fn shared_node_outputs(&self) -> Arc<BTreeMap<String, NodeOutputs>> {
        Arc::clone(&self.node_outputs)
    }
}
