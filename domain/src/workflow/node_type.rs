//! The node types a workflow may use, under their canonical snake_case names. n8n's
//! names (`n8n-nodes-base.set`, …) are accepted on the way in so n8n workflows
//! import as they are, but only the canonical name is ever stored, so history and
//! read models see one spelling per type.

use std::{fmt, str::FromStr};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::errors::UnknownNodeType;

/// What a node does. Serialises as its canonical snake_case name (`http_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeType {
    /// Trigger: started by an API call, which supplies the input items.
    ManualTrigger,
    /// Trigger: started by an HTTP request to the node's `path`.
    Webhook,
    /// Trigger: started on a `cron` schedule.
    Schedule,
    /// Trigger: started by a message on a NATS `subject`.
    NatsTrigger,
    /// Trigger: started when an execution of a workflow that names this one as
    /// its `error_workflow` fails; its item describes the failure.
    ErrorTrigger,
    /// Sets fields on each item.
    Set,
    /// Routes each item to output 0 (condition true) or 1 (false).
    If,
    /// Routes each item to the output of the first matching rule, or the fallback.
    Switch,
    /// Joins the items of several inputs.
    Merge,
    /// Pauses the run for a duration, until a time, or until resumed by a webhook.
    Wait,
    /// Runs JavaScript over the items.
    Code,
    /// Calls an HTTP endpoint.
    HttpRequest,
    /// Answers the request that started a webhook-triggered run.
    RespondToWebhook,
    /// Passes items through unchanged.
    Noop,
    /// Fails the run with a message.
    StopAndError,
    /// Runs another workflow.
    ExecuteWorkflow,
    /// Publishes a message to NATS.
    NatsPublish,
}

impl NodeType {
    /// Every node type, in declaration order.
    pub const ALL: [NodeType; 17] = [
        Self::ManualTrigger,
        Self::Webhook,
        Self::Schedule,
        Self::NatsTrigger,
        Self::ErrorTrigger,
        Self::Set,
        Self::If,
        Self::Switch,
        Self::Merge,
        Self::Wait,
        Self::Code,
        Self::HttpRequest,
        Self::RespondToWebhook,
        Self::Noop,
        Self::StopAndError,
        Self::ExecuteWorkflow,
        Self::NatsPublish,
    ];

    /// The canonical name, as stored and serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ManualTrigger => "manual_trigger",
            Self::Webhook => "webhook",
            Self::Schedule => "schedule",
            Self::NatsTrigger => "nats_trigger",
            Self::ErrorTrigger => "error_trigger",
            Self::Set => "set",
            Self::If => "if",
            Self::Switch => "switch",
            Self::Merge => "merge",
            Self::Wait => "wait",
            Self::Code => "code",
            Self::HttpRequest => "http_request",
            Self::RespondToWebhook => "respond_to_webhook",
            Self::Noop => "noop",
            Self::StopAndError => "stop_and_error",
            Self::ExecuteWorkflow => "execute_workflow",
            Self::NatsPublish => "nats_publish",
        }
    }

    /// Reads a canonical name or an n8n alias (`n8n-nodes-base.httpRequest`).
    /// Matching is exact: n8n's names are case-sensitive too.
    pub fn parse(name: &str) -> Result<Self, UnknownNodeType> {
        if let Some(canonical) = Self::ALL.iter().find(|t| t.as_str() == name) {
            return Ok(*canonical);
        }
        let aliased = match name {
            "n8n-nodes-base.manualTrigger" => Self::ManualTrigger,
            "n8n-nodes-base.webhook" => Self::Webhook,
            "n8n-nodes-base.scheduleTrigger" => Self::Schedule,
            "n8n-nodes-base.errorTrigger" => Self::ErrorTrigger,
            "n8n-nodes-base.set" => Self::Set,
            "n8n-nodes-base.if" => Self::If,
            "n8n-nodes-base.switch" => Self::Switch,
            "n8n-nodes-base.merge" => Self::Merge,
            "n8n-nodes-base.wait" => Self::Wait,
            "n8n-nodes-base.code" => Self::Code,
            "n8n-nodes-base.httpRequest" => Self::HttpRequest,
            "n8n-nodes-base.respondToWebhook" => Self::RespondToWebhook,
            "n8n-nodes-base.noOp" => Self::Noop,
            "n8n-nodes-base.stopAndError" => Self::StopAndError,
            "n8n-nodes-base.executeWorkflow" => Self::ExecuteWorkflow,
            _ => {
                return Err(UnknownNodeType {
                    name: name.to_owned(),
                })
            }
        };
        Ok(aliased)
    }

    /// Whether this node starts runs (and so may have no incoming connection).
    pub const fn is_trigger(self) -> bool {
        matches!(
            self,
            Self::ManualTrigger
                | Self::Webhook
                | Self::Schedule
                | Self::NatsTrigger
                | Self::ErrorTrigger
        )
    }

    /// Whether running a node of this type has no effect outside its
    /// execution (no HTTP call, no message, no sub-workflow, no wait), so its
    /// start need not be recorded before it runs: if the record of a run is
    /// lost, running it again changes nothing elsewhere.
    pub const fn is_pure(self) -> bool {
        matches!(
            self,
            Self::ManualTrigger
                | Self::Webhook
                | Self::Schedule
                | Self::NatsTrigger
                | Self::ErrorTrigger
                | Self::Set
                | Self::If
                | Self::Switch
                | Self::Merge
                | Self::Code
                | Self::RespondToWebhook
                | Self::Noop
                | Self::StopAndError
        )
    }

    /// How many outputs a node of this type has with these parameters: `if` has two
    /// (true, false), `switch` one per rule plus the fallback, every other type one.
    /// A `switch` whose `rules` is missing or not an array has only the fallback.
    pub fn output_count(self, parameters: &Map<String, Value>) -> usize {
        match self {
            Self::If => 2,
            Self::Switch => {
                let rules = parameters
                    .get("rules")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                rules.saturating_add(1)
            }
            _ => 1,
        }
    }
}

impl fmt::Display for NodeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NodeType {
    type Err = UnknownNodeType;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name)
    }
}

impl Serialize for NodeType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for NodeType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("test parameters must be an object, got {other}"),
        }
    }

    #[test]
    fn every_canonical_name_parses_back_to_itself() {
        for node_type in NodeType::ALL {
            assert_eq!(NodeType::parse(node_type.as_str()), Ok(node_type));
        }
    }

    #[test]
    fn n8n_aliases_map_to_the_canonical_type() {
        let cases = [
            ("n8n-nodes-base.set", NodeType::Set),
            ("n8n-nodes-base.if", NodeType::If),
            ("n8n-nodes-base.webhook", NodeType::Webhook),
            ("n8n-nodes-base.manualTrigger", NodeType::ManualTrigger),
            ("n8n-nodes-base.scheduleTrigger", NodeType::Schedule),
            ("n8n-nodes-base.httpRequest", NodeType::HttpRequest),
            ("n8n-nodes-base.code", NodeType::Code),
            ("n8n-nodes-base.merge", NodeType::Merge),
            ("n8n-nodes-base.wait", NodeType::Wait),
            ("n8n-nodes-base.switch", NodeType::Switch),
            ("n8n-nodes-base.noOp", NodeType::Noop),
            ("n8n-nodes-base.stopAndError", NodeType::StopAndError),
            ("n8n-nodes-base.executeWorkflow", NodeType::ExecuteWorkflow),
            (
                "n8n-nodes-base.respondToWebhook",
                NodeType::RespondToWebhook,
            ),
        ];
        for (alias, expected) in cases {
            assert_eq!(NodeType::parse(alias), Ok(expected), "{alias}");
        }
    }

    #[test]
    fn unknown_names_are_refused_and_named() {
        let error = NodeType::parse("n8n-nodes-base.slack").expect_err("not a FlowForge node");
        assert_eq!(
            error.to_string(),
            r#"unknown node type "n8n-nodes-base.slack""#
        );
        assert!(
            NodeType::parse("HTTP_REQUEST").is_err(),
            "matching is case-sensitive"
        );
    }

    #[test]
    fn serialises_canonically_even_when_read_from_an_alias() {
        let node_type: NodeType =
            serde_json::from_value(json!("n8n-nodes-base.httpRequest")).expect("alias reads");
        assert_eq!(
            serde_json::to_value(node_type).expect("serialises"),
            json!("http_request")
        );
    }

    #[test]
    fn only_the_five_trigger_types_are_triggers() {
        let triggers: Vec<NodeType> = NodeType::ALL
            .into_iter()
            .filter(|t| t.is_trigger())
            .collect();
        assert_eq!(
            triggers,
            vec![
                NodeType::ManualTrigger,
                NodeType::Webhook,
                NodeType::Schedule,
                NodeType::NatsTrigger,
                NodeType::ErrorTrigger
            ]
        );
    }

    #[test]
    fn output_counts_follow_the_node_type_and_switch_rules() {
        let none = Map::new();
        assert_eq!(NodeType::If.output_count(&none), 2);
        assert_eq!(NodeType::Set.output_count(&none), 1);
        assert_eq!(NodeType::Switch.output_count(&none), 1);
        let three_rules = params(json!({"rules": ["{{ 1 }}", "{{ 2 }}", "{{ 3 }}"]}));
        assert_eq!(NodeType::Switch.output_count(&three_rules), 4);
        let bad_rules = params(json!({"rules": "not a list"}));
        assert_eq!(NodeType::Switch.output_count(&bad_rules), 1);
    }
}
