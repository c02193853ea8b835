//! The shape of a workflow request body as the OpenAPI document states it.
//! Handlers read the body as JSON and parse it into the domain's
//! `RawWorkflowDefinition`, whose serde attributes the types here repeat
//! (field names, which fields may be left out, no unknown fields) because the
//! document is generated from them; [`whole_numbers_as_integers`] bridges the
//! one place where JSON Schema and serde read a body differently. A body of
//! this shape is read; whether it is a valid workflow (known node types, unique
//! names, connections between existing nodes, a trigger, no cycles, valid
//! settings) is the domain's to say, with 422. `.ci/schemathesis` checks that
//! the two agree.

// The types are read by no one: they exist for their schema. They derive
// `Deserialize` only so that utoipa reads the same serde attributes
// (`deny_unknown_fields`, `default`, `rename`) the domain's types carry.
#![allow(dead_code)]

use serde::Deserialize;
use serde_json::{Map, Number, Value};
use utoipa::ToSchema;

/// A workflow definition as JSON (n8n-shaped), plus the workflow's tags.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRequest {
    /// The workflow's name.
    pub name: String,
    /// The nodes, in the order they are listed.
    pub nodes: Vec<NodeRequest>,
    /// Outgoing connections keyed by source node name:
    /// `{"Source": {"main": [[{"node": "Target"}]]}}`.
    #[serde(default)]
    pub connections: std::collections::BTreeMap<String, NodeConnectionsRequest>,
    /// Workflow-level settings (`execution_timeout_ms`,
    /// `max_concurrent_executions`, `error_workflow`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// Labels for filtering.
    pub tags: Option<Vec<String>>,
    /// For updates: the version being changed (or send `If-Match`).
    pub expected_version: Option<u64>,
}

/// One node: `{name, type, parameters, retry, continue_on_fail, timeout_ms, compensation}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeRequest {
    /// Unique within the workflow; connections and expressions refer to nodes
    /// by name. May be left out of a compensation.
    #[serde(default)]
    pub name: String,
    /// A node type (`manual_trigger`, `webhook`, `set`, `http_request`, …) or
    /// its n8n name.
    #[serde(rename = "type")]
    pub node_type: String,
    /// The node's parameters; their meaning depends on the type.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    /// Retry settings; the node is tried once without them.
    pub retry: Option<RetryRequest>,
    /// Whether the run goes on (with the error as output) when the node fails for good.
    #[serde(default)]
    pub continue_on_fail: bool,
    /// Per-try time limit in milliseconds.
    pub timeout_ms: Option<u64>,
    /// The node that undoes this one's effect if a later step fails for good.
    #[schema(no_recursion)]
    pub compensation: Option<Box<NodeRequest>>,
    /// n8n's node id; kept, not used.
    pub id: Option<String>,
    /// n8n's node type version; kept, not used.
    #[serde(rename = "typeVersion")]
    pub type_version: Option<f64>,
    /// n8n's editor position (`[x, y]`); kept, not used.
    #[schema(value_type = Value)]
    pub position: Option<Value>,
    /// n8n's free-text notes; kept, not used.
    pub notes: Option<String>,
    /// n8n's disabled flag.
    pub disabled: Option<bool>,
}

/// How a failing node is retried before its failure counts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    /// How many times the node is tried in all, first try included (default 3).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub max_tries: u32,
    /// Wait before the first retry, in milliseconds (default 1000).
    #[serde(default)]
    pub wait_ms: u64,
    /// How the wait grows from one retry to the next (default `fixed`).
    #[serde(default)]
    pub backoff: BackoffRequest,
    /// Upper bound of the wait between two tries, in milliseconds.
    pub max_wait_ms: Option<u64>,
}

/// How the wait between retries grows.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackoffRequest {
    /// The same wait every time.
    #[default]
    Fixed,
    /// The wait doubles after each retry (bounded by `max_wait_ms`).
    Exponential,
}

/// The outgoing connections of one node; the outer index is the source
/// node's output index.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeConnectionsRequest {
    /// Targets per output of the source node.
    #[serde(default)]
    pub main: Vec<Vec<ConnectionTargetRequest>>,
}

/// One target of a connection: `{"node": "B", "type": "main", "index": 0}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionTargetRequest {
    /// The target node's name.
    pub node: String,
    /// The connection kind (default `main`).
    #[serde(rename = "type", default)]
    pub connection_type: String,
    /// The target node's input index (a `merge` node has several; default 0).
    #[serde(default)]
    pub index: u32,
}

/// JSON Schema counts `3.0` as an integer and serde does not, so a body the
/// document allows would be refused: the whole, non-negative numbers in the
/// integer fields (`expected_version`, a node's `timeout_ms` and `retry`
/// counts, a connection's `index`) become integers before the body is
/// parsed. Free-form values (`parameters`, `settings`, `position`) are left
/// as sent.
pub fn whole_numbers_as_integers(body: &mut Map<String, Value>) {
    as_integer(body.get_mut("expected_version"));
    if let Some(Value::Array(nodes)) = body.get_mut("nodes") {
        nodes.iter_mut().for_each(node_integers);
    }
    if let Some(Value::Object(connections)) = body.get_mut("connections") {
        let outputs = connections
            .values_mut()
            .filter_map(|outgoing| outgoing.get_mut("main"))
            .filter_map(Value::as_array_mut)
            .flatten();
        let targets = outputs.filter_map(Value::as_array_mut).flatten();
        targets.for_each(|target| as_integer(target.get_mut("index")));
    }
}

fn node_integers(node: &mut Value) {
    as_integer(node.get_mut("timeout_ms"));
    if let Some(retry) = node.get_mut("retry") {
        for field in ["max_tries", "wait_ms", "max_wait_ms"] {
            as_integer(retry.get_mut(field));
        }
    }
    if let Some(compensation) = node.get_mut("compensation") {
        node_integers(compensation);
    }
}

fn as_integer(value: Option<&mut Value>) {
    let Some(value) = value else {
        return;
    };
    let whole = value
        .as_number()
        .filter(|number| number.is_f64())
        .and_then(Number::as_f64)
        .filter(|float| float.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(float));
    if let Some(float) = whole {
        // In range and whole, so the cast is exact.
        *value = Value::from(float as u64);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn whole_numbers_in_integer_fields_become_integers_and_nothing_else_changes() {
        let mut body = json!({
            "expected_version": 3.0,
            "nodes": [{
                "name": "A", "type": "set", "timeout_ms": 1500.0,
                "parameters": {"n": 1.0},
                "retry": {"max_tries": 2.0, "wait_ms": 1.5},
                "compensation": {"type": "noop", "timeout_ms": 7.0}
            }],
            "connections": {"A": {"main": [[{"node": "B", "index": 1.0}]]}},
            "settings": {"execution_timeout_ms": 10.0}
        });
        let Value::Object(fields) = &mut body else {
            unreachable!("an object")
        };
        whole_numbers_as_integers(fields);
        assert_eq!(
            body,
            json!({
                "expected_version": 3,
                "nodes": [{
                    "name": "A", "type": "set", "timeout_ms": 1500,
                    "parameters": {"n": 1.0},
                    "retry": {"max_tries": 2, "wait_ms": 1.5},
                    "compensation": {"type": "noop", "timeout_ms": 7}
                }],
                "connections": {"A": {"main": [[{"node": "B", "index": 1}]]}},
                "settings": {"execution_timeout_ms": 10.0}
            })
        );
        assert!(body["expected_version"].is_u64());
    }

    #[test]
    fn negative_or_fractional_numbers_are_left_for_serde_to_refuse() {
        let mut body =
            json!({"expected_version": -1.0, "nodes": [{"type": "set", "timeout_ms": 0.5}]});
        let before = body.clone();
        let Value::Object(fields) = &mut body else {
            unreachable!("an object")
        };
        whole_numbers_as_integers(fields);
        assert_eq!(body, before);
    }
}
