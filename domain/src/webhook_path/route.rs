//! Which `(method, path)` a webhook trigger node answers, normalised once so
//! the webhook registry (which routes calls) and the path claims (which keep
//! routes unique) can never disagree: the method upper-cased (`POST` when
//! absent, `*` for any), the path without leading or trailing slashes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::workflow::{NodeType, WorkflowDefinition};

/// The method that matches every method.
pub const ANY_METHOD: &str = "*";

/// One webhook route: a method and a path below `/webhook/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WebhookRoute {
    /// Upper-case HTTP method, or [`ANY_METHOD`].
    pub method: String,
    /// The path below `/webhook/`, without leading or trailing slashes.
    pub path: String,
}

impl WebhookRoute {
    /// The route a webhook node with these parameters answers; `None` without
    /// a `path` string.
    pub fn of_parameters(parameters: &Map<String, Value>) -> Option<Self> {
        let path = parameters
            .get("path")?
            .as_str()?
            .trim_matches('/')
            .to_owned();
        let method = parameters
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("POST")
            .to_ascii_uppercase();
        Some(Self { method, path })
    }

    /// Whether a call to one route could reach the other: the same path, and
    /// the same method or either one is [`ANY_METHOD`].
    pub fn overlaps(&self, other: &WebhookRoute) -> bool {
        self.path == other.path
            && (self.method == other.method
                || self.method == ANY_METHOD
                || other.method == ANY_METHOD)
    }
}

/// The routes of every webhook node of `definition`, sorted, without repeats.
pub fn webhook_routes(definition: &WorkflowDefinition) -> Vec<WebhookRoute> {
    let mut routes: Vec<WebhookRoute> = definition
        .nodes()
        .iter()
        .filter(|node| node.node_type() == NodeType::Webhook)
        .filter_map(|node| WebhookRoute::of_parameters(node.parameters()))
        .collect();
    routes.sort();
    routes.dedup();
    routes
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn route(parameters: Value) -> Option<WebhookRoute> {
        WebhookRoute::of_parameters(parameters.as_object().expect("object"))
    }

    #[test]
    fn method_defaults_to_post_and_slashes_are_trimmed() {
        assert_eq!(
            route(json!({"path": "/orders/new/"})),
            Some(WebhookRoute {
                method: "POST".into(),
                path: "orders/new".into()
            })
        );
        assert_eq!(route(json!({"method": "get"})), None);
    }

    #[test]
    fn any_method_overlaps_every_method_on_the_same_path() {
        let any = WebhookRoute {
            method: ANY_METHOD.into(),
            path: "a".into(),
        };
        let get = WebhookRoute {
            method: "GET".into(),
            path: "a".into(),
        };
        let post_b = WebhookRoute {
            method: "POST".into(),
            path: "b".into(),
        };
        assert!(any.overlaps(&get) && get.overlaps(&any));
        assert!(!get.overlaps(&post_b));
        assert!(!get.overlaps(&WebhookRoute {
            method: "POST".into(),
            path: "a".into()
        }));
    }
}
