//! Which active workflow answers which webhook: a cache of the webhook trigger
//! nodes of active workflows, read from the workflows read model. The cache is
//! refreshed when it is older than a second, or at once (rate-limited) when a
//! call matches nothing. The webhook route, on a miss, also waits for the read
//! model to reach the log's head and refreshes, so a workflow activated just
//! before answers at once. A match is confirmed against the workflow's own
//! stream before it runs.

use std::{
    sync::RwLock,
    time::{Duration, Instant},
};

use flowforge_domain::workflow::{NodeType, WorkflowId};
use flowforge_infra::read_model::{active_workflows, ReadModelError, WorkflowViewStore};

/// How a webhook answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// 202 with the execution id, at once.
    Immediately,
    /// When the execution ends, with the last node's first item.
    LastNode,
    /// When a Respond to Webhook node has run, with what it says.
    RespondNode,
}

/// One webhook trigger node of an active workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRoute {
    /// Upper-case HTTP method (`POST`), or `*` for any.
    pub method: String,
    /// The path below `/webhook/`, without leading or trailing slashes.
    pub path: String,
    /// The workflow to run.
    pub workflow_id: WorkflowId,
    /// The webhook node that fires.
    pub node: String,
    /// How the call is answered.
    pub response_mode: ResponseMode,
}

const MAX_AGE: Duration = Duration::from_secs(1);
const MIN_REFRESH: Duration = Duration::from_millis(100);

/// The cache of webhook routes.
pub struct WebhookRegistry {
    routes: RwLock<(Option<Instant>, Vec<WebhookRoute>)>,
}

impl Default for WebhookRegistry {
    fn default() -> Self {
        Self {
            routes: RwLock::new((None, Vec::new())),
        }
    }
}

impl WebhookRegistry {
    /// The route for `method` and `path`, if an active workflow has one.
    pub async fn find(
        &self,
        views: &dyn WorkflowViewStore,
        method: &str,
        path: &str,
    ) -> Result<Option<WebhookRoute>, ReadModelError> {
        let path = path.trim_matches('/');
        let age = self.age();
        if age.is_none_or(|age| age > MAX_AGE) {
            self.refresh(views).await?;
        }
        if let Some(found) = self.lookup(method, path) {
            return Ok(Some(found));
        }
        if self.age().is_some_and(|age| age > MIN_REFRESH) {
            self.refresh(views).await?;
            return Ok(self.lookup(method, path));
        }
        Ok(None)
    }

    fn age(&self) -> Option<Duration> {
        self.routes
            .read()
            .ok()
            .and_then(|r| r.0.map(|at| at.elapsed()))
    }

    fn lookup(&self, method: &str, path: &str) -> Option<WebhookRoute> {
        let routes = self.routes.read().ok()?;
        routes
            .1
            .iter()
            .find(|r| r.path == path && (r.method == "*" || r.method.eq_ignore_ascii_case(method)))
            .cloned()
    }

    /// Re-reads the routes from the read model now.
    pub async fn refresh(&self, views: &dyn WorkflowViewStore) -> Result<(), ReadModelError> {
        let found = active_workflows(views)
            .await?
            .iter()
            .flat_map(|view| routes_of(WorkflowId::from_uuid(view.id), &view.definition))
            .collect();
        if let Ok(mut routes) = self.routes.write() {
            *routes = (Some(Instant::now()), found);
        }
        Ok(())
    }
}

/// The webhook routes a stored definition declares.
pub fn routes_of(workflow_id: WorkflowId, definition: &serde_json::Value) -> Vec<WebhookRoute> {
    let Some(nodes) = definition["nodes"].as_array() else {
        return Vec::new();
    };
    nodes
        .iter()
        .filter(|node| {
            node["type"].as_str().and_then(|t| NodeType::parse(t).ok()) == Some(NodeType::Webhook)
        })
        .filter_map(|node| {
            let parameters = &node["parameters"];
            Some(WebhookRoute {
                method: parameters["method"]
                    .as_str()
                    .unwrap_or("POST")
                    .to_ascii_uppercase(),
                path: parameters["path"].as_str()?.trim_matches('/').to_owned(),
                workflow_id,
                node: node["name"].as_str()?.to_owned(),
                response_mode: match parameters["response_mode"].as_str() {
                    Some("last_node") | Some("lastNode") => ResponseMode::LastNode,
                    Some("respond_node") | Some("responseNode") => ResponseMode::RespondNode,
                    _ => ResponseMode::Immediately,
                },
            })
        })
        .collect()
}
