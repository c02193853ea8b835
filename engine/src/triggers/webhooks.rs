//! Which active workflow answers which webhook: a cache of the webhook trigger
//! nodes of active workflows, read from the workflows read model and re-read
//! when older than a second. A workflow changed through this instance is
//! answered at once: the change's log position is noted, and the next call
//! waits for the read model to reach it and re-reads first. A call that
//! matches nothing may catch up with changes made through other instances,
//! but only one such catch-up runs at a time and at most one per
//! [`MIN_CATCH_UP`], so calls to random paths cannot drive database load. A
//! match is confirmed against the workflow's own stream before it runs.

use std::{
    future::Future,
    sync::{
        atomic::{AtomicU64, Ordering},
        RwLock,
    },
    time::{Duration, Instant},
};

use flowforge_domain::{
    webhook_path::{WebhookAuth, WebhookRoute as DeclaredRoute},
    workflow::{NodeType, WorkflowId},
};
use flowforge_infra::read_model::{
    active_workflows, ReadModelError, TenantScope, WorkflowViewStore,
};

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
    /// The workspace (tenant) whose workflow this is: each workspace has its
    /// own paths.
    pub tenant: String,
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
    /// How the caller is checked, if it is.
    pub auth: Option<WebhookAuth>,
}

const MAX_AGE: Duration = Duration::from_secs(1);
/// The least time between two catch-ups caused by calls that matched nothing.
pub const MIN_CATCH_UP: Duration = Duration::from_millis(250);

/// The cache of webhook routes.
pub struct WebhookRegistry {
    routes: RwLock<(Option<Instant>, Vec<WebhookRoute>)>,
    /// The log position of this instance's latest workflow change.
    changed: AtomicU64,
    /// The log position the cached routes are known to reflect.
    covered: AtomicU64,
    /// When a miss last caught up; held while one does.
    last_catch_up: tokio::sync::Mutex<Option<Instant>>,
}

impl Default for WebhookRegistry {
    fn default() -> Self {
        Self {
            routes: RwLock::new((None, Vec::new())),
            changed: AtomicU64::new(0),
            covered: AtomicU64::new(0),
            last_catch_up: tokio::sync::Mutex::new(None),
        }
    }
}

/// How routing catches the workflows read model up with changes: the edge
/// that serves webhooks knows its read model's progress and the log's head.
pub trait WorkflowCatchUp {
    /// What catching up fails with (a read-model failure among them).
    type Error: From<ReadModelError>;
    /// The event log's newest position.
    fn head(&self) -> impl Future<Output = Result<u64, Self::Error>> + Send;
    /// Waits until the workflows read model reflects `position`.
    fn reach(&self, position: u64) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Permission to catch up after a miss, held for the catch-up's length.
struct CatchUpPermit<'a> {
    _held: tokio::sync::MutexGuard<'a, Option<Instant>>,
}

impl WebhookRegistry {
    /// The active webhook for `method` and `path` among the workflows of the
    /// tenants in `scope` (a workspace's). A workflow changed through
    /// this instance is seen at once; one changed elsewhere a moment ago is
    /// found by a (rate-limited) catch-up with the log's head.
    ///
    /// # Errors
    /// What reading the routes or catching up fails with.
    pub async fn route<C: WorkflowCatchUp + Sync>(
        &self,
        views: &dyn WorkflowViewStore,
        catch_up: &C,
        scope: &TenantScope,
        method: &str,
        path: &str,
    ) -> Result<Option<WebhookRoute>, C::Error> {
        if let Some(position) = self.pending_change() {
            catch_up.reach(position).await?;
            self.refresh_covering(views, position).await?;
        }
        if let Some(route) = self.find(views, scope, method, path).await? {
            return Ok(Some(route));
        }
        // Another request caught up a moment ago (this one waited for it to
        // finish): its refresh may hold the route.
        let Some(_permit) = self.catch_up_permit().await else {
            return Ok(self.find(views, scope, method, path).await?);
        };
        let head = catch_up.head().await?;
        catch_up.reach(head).await?;
        self.refresh_covering(views, head).await?;
        Ok(self.find(views, scope, method, path).await?)
    }

    /// The route for `method` and `path` in the cache (re-read if older than
    /// a second), if an active workflow has one.
    async fn find(
        &self,
        views: &dyn WorkflowViewStore,
        scope: &TenantScope,
        method: &str,
        path: &str,
    ) -> Result<Option<WebhookRoute>, ReadModelError> {
        if self.age().is_none_or(|age| age > MAX_AGE) {
            self.refresh(views).await?;
        }
        Ok(self.lookup(scope, method, path.trim_matches('/')))
    }

    /// Notes that a workflow changed through this instance at log `position`.
    pub fn workflow_changed(&self, position: u64) {
        self.changed.fetch_max(position, Ordering::SeqCst);
    }

    /// The position of a change through this instance that the cache does not
    /// reflect yet, if there is one.
    fn pending_change(&self) -> Option<u64> {
        let changed = self.changed.load(Ordering::SeqCst);
        (changed > self.covered.load(Ordering::SeqCst)).then_some(changed)
    }

    /// Permission for a miss to catch up, or `None` if another did within
    /// [`MIN_CATCH_UP`] (waiting for one in progress first).
    async fn catch_up_permit(&self) -> Option<CatchUpPermit<'_>> {
        let mut last = self.last_catch_up.lock().await;
        if last.is_some_and(|at| at.elapsed() < MIN_CATCH_UP) {
            return None;
        }
        *last = Some(Instant::now());
        Some(CatchUpPermit { _held: last })
    }

    /// Re-reads the routes from a read model that has reached `position`.
    async fn refresh_covering(
        &self,
        views: &dyn WorkflowViewStore,
        position: u64,
    ) -> Result<(), ReadModelError> {
        self.refresh(views).await?;
        self.covered.fetch_max(position, Ordering::SeqCst);
        Ok(())
    }

    fn age(&self) -> Option<Duration> {
        self.routes
            .read()
            .ok()
            .and_then(|r| r.0.map(|at| at.elapsed()))
    }

    fn lookup(&self, scope: &TenantScope, method: &str, path: &str) -> Option<WebhookRoute> {
        let routes = self.routes.read().ok()?;
        routes
            .1
            .iter()
            .find(|r| {
                r.path == path
                    && (r.method == "*" || r.method.eq_ignore_ascii_case(method))
                    && scope.contains(&r.tenant)
            })
            .cloned()
    }

    /// Re-reads the routes from the read model now.
    pub async fn refresh(&self, views: &dyn WorkflowViewStore) -> Result<(), ReadModelError> {
        let found = active_workflows(views)
            .await?
            .iter()
            .flat_map(|view| {
                routes_of(
                    &view.tenant_id,
                    WorkflowId::from_uuid(view.id),
                    &view.definition,
                )
            })
            .collect();
        if let Ok(mut routes) = self.routes.write() {
            *routes = (Some(Instant::now()), found);
        }
        Ok(())
    }
}

/// The webhook routes a stored definition of workspace `tenant` declares.
pub fn routes_of(
    tenant: &str,
    workflow_id: WorkflowId,
    definition: &serde_json::Value,
) -> Vec<WebhookRoute> {
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
            let route = DeclaredRoute::of_parameters(parameters.as_object()?)?;
            // A stored definition was validated, so a check always reads; a
            // route whose check does not (it cannot happen) is left out
            // rather than served open.
            let auth = WebhookAuth::of_parameters(parameters.as_object()?).ok()?;
            Some(WebhookRoute {
                tenant: tenant.to_owned(),
                method: route.method,
                path: route.path,
                workflow_id,
                node: node["name"].as_str()?.to_owned(),
                response_mode: match parameters["response_mode"].as_str() {
                    Some("last_node") | Some("lastNode") => ResponseMode::LastNode,
                    Some("respond_node") | Some("responseNode") => ResponseMode::RespondNode,
                    _ => ResponseMode::Immediately,
                },
                auth,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn misses_catch_up_one_at_a_time_and_at_most_once_per_interval() {
        let registry = WebhookRegistry::default();
        let first = registry.catch_up_permit().await;
        assert!(first.is_some());
        drop(first);
        for _ in 0..100 {
            assert!(registry.catch_up_permit().await.is_none());
        }
        tokio::time::sleep(MIN_CATCH_UP).await;
        assert!(registry.catch_up_permit().await.is_some());
    }

    #[test]
    fn a_change_through_this_instance_is_pending_until_covered() {
        let registry = WebhookRegistry::default();
        assert_eq!(registry.pending_change(), None);
        registry.workflow_changed(7);
        registry.workflow_changed(5);
        assert_eq!(registry.pending_change(), Some(7));
        registry.covered.store(7, Ordering::SeqCst);
        assert_eq!(registry.pending_change(), None);
    }

    #[test]
    fn a_path_is_found_only_in_the_workspace_that_declares_it() {
        let registry = WebhookRegistry::default();
        let route = |tenant: &str, n: u128| WebhookRoute {
            tenant: tenant.to_owned(),
            method: "POST".to_owned(),
            path: "orders".to_owned(),
            workflow_id: WorkflowId::from_uuid(uuid::Uuid::from_u128(n)),
            node: "hook".to_owned(),
            response_mode: ResponseMode::Immediately,
            auth: None,
        };
        *registry.routes.write().expect("lock") =
            (Some(Instant::now()), vec![route("w1", 1), route("w2", 2)]);
        let found = |scope: &TenantScope| {
            registry
                .lookup(scope, "post", "orders")
                .map(|r| r.workflow_id)
        };
        assert_eq!(
            found(&TenantScope::only("w2")),
            Some(WorkflowId::from_uuid(uuid::Uuid::from_u128(2)))
        );
        assert_eq!(
            found(&TenantScope::with_default("w1")),
            Some(WorkflowId::from_uuid(uuid::Uuid::from_u128(1)))
        );
        assert_eq!(found(&TenantScope::only("w3")), None);
    }
}
