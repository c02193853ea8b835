//! The `WebhookPath` aggregate: who holds the webhook routes of one path. A
//! workflow claims its webhook routes here before it is activated (or, when
//! active, before its definition changes) and releases them after it is
//! deactivated or archived; two workflows never hold overlapping routes (same
//! path, same method or `*`).
//!
//! Why a stream per path and not a check of the read model: the read model
//! lags and two instances may activate at the same moment, but appends to one
//! stream are serialised by the store's expected-version check, so of two
//! racing claims exactly one is recorded and the other is decided again on the
//! winner's state — and refused. The claim is the write-side truth; the
//! workflow's own `WorkflowActivated` follows it.
//!
//! `auth` reads the check a webhook node makes of its caller.

mod auth;
mod route;

pub use auth::{WebhookAuth, AUTHENTICATION_PARAMETER};
pub use route::{webhook_routes, WebhookRoute, ANY_METHOD};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    aggregate::{Aggregate, DomainEvent},
    workflow::WorkflowId,
};

/// What the workflow life cycle asks of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookPathCommand {
    /// Hold `route` for `workflow_id`. Holding it already is fine.
    Claim {
        /// The route.
        route: WebhookRoute,
        /// The workflow that will answer it.
        workflow_id: WorkflowId,
        /// Its name, to tell whoever is refused next who holds the route.
        workflow_name: String,
        /// Holders the caller found archived (archiving is final, so their
        /// claims can never be used again): their overlapping claims are
        /// released in the same append. A claim by anyone else still refuses.
        replacing: Vec<WorkflowId>,
    },
    /// Let go of `route` if `workflow_id` holds it; nothing otherwise.
    Release {
        /// The route.
        route: WebhookRoute,
        /// The workflow that held it.
        workflow_id: WorkflowId,
    },
}

/// What happened to a path's routes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum WebhookPathEvent {
    /// A workflow now holds a route.
    #[serde(rename = "WebhookPathClaimed")]
    Claimed {
        /// The route.
        route: WebhookRoute,
        /// The workflow holding it.
        workflow_id: WorkflowId,
        /// Its name when it claimed the route.
        workflow_name: String,
    },
    /// A workflow no longer holds a route.
    #[serde(rename = "WebhookPathReleased")]
    Released {
        /// The route.
        route: WebhookRoute,
        /// The workflow that held it.
        workflow_id: WorkflowId,
    },
}

impl DomainEvent for WebhookPathEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Claimed { .. } => "WebhookPathClaimed",
            Self::Released { .. } => "WebhookPathReleased",
        }
    }
}

/// Why a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookPathError {
    /// Another workflow holds an overlapping route.
    #[error("webhook {} /webhook/{} is taken by workflow {workflow_id} ({workflow_name:?})", route.method, route.path)]
    Taken {
        /// The route the other workflow holds.
        route: WebhookRoute,
        /// That workflow.
        workflow_id: WorkflowId,
        /// Its name.
        workflow_name: String,
    },
}

/// One held route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The route.
    pub route: WebhookRoute,
    /// Who holds it.
    pub workflow_id: WorkflowId,
    /// Its name when it claimed the route.
    pub workflow_name: String,
}

/// The routes held on one path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookPath {
    claims: Vec<Claim>,
}

impl WebhookPath {
    /// The routes held now.
    pub fn claims(&self) -> &[Claim] {
        &self.claims
    }

    fn claim(
        &self,
        route: WebhookRoute,
        workflow_id: WorkflowId,
        workflow_name: String,
        replacing: &[WorkflowId],
    ) -> Result<Vec<WebhookPathEvent>, WebhookPathError> {
        let mut events = Vec::new();
        for held in self
            .claims
            .iter()
            .filter(|c| c.workflow_id != workflow_id && c.route.overlaps(&route))
        {
            if !replacing.contains(&held.workflow_id) {
                return Err(WebhookPathError::Taken {
                    route: held.route.clone(),
                    workflow_id: held.workflow_id,
                    workflow_name: held.workflow_name.clone(),
                });
            }
            events.push(WebhookPathEvent::Released {
                route: held.route.clone(),
                workflow_id: held.workflow_id,
            });
        }
        let already = self.claims.iter().any(|c| {
            c.workflow_id == workflow_id && c.route == route && c.workflow_name == workflow_name
        });
        if !already {
            events.push(WebhookPathEvent::Claimed {
                route,
                workflow_id,
                workflow_name,
            });
        }
        Ok(events)
    }
}

impl Aggregate for WebhookPath {
    const TYPE: &'static str = "webhook_path";
    type Command = WebhookPathCommand;
    type Event = WebhookPathEvent;
    type Error = WebhookPathError;

    fn handle(
        &self,
        command: WebhookPathCommand,
    ) -> Result<Vec<WebhookPathEvent>, WebhookPathError> {
        match command {
            WebhookPathCommand::Claim {
                route,
                workflow_id,
                workflow_name,
                replacing,
            } => self.claim(route, workflow_id, workflow_name, &replacing),
            WebhookPathCommand::Release { route, workflow_id } => Ok(self
                .claims
                .iter()
                .any(|c| c.workflow_id == workflow_id && c.route == route)
                .then_some(WebhookPathEvent::Released { route, workflow_id })
                .into_iter()
                .collect()),
        }
    }

    fn apply(&mut self, event: WebhookPathEvent) {
        match event {
            WebhookPathEvent::Claimed {
                route,
                workflow_id,
                workflow_name,
            } => {
                self.claims
                    .retain(|c| !(c.workflow_id == workflow_id && c.route == route));
                self.claims.push(Claim {
                    route,
                    workflow_id,
                    workflow_name,
                });
            }
            WebhookPathEvent::Released { route, workflow_id } => self
                .claims
                .retain(|c| !(c.workflow_id == workflow_id && c.route == route)),
        }
    }
}

/// Whose paths a path is: every workspace has its own, so two workspaces may
/// both answer `orders`. The installation's first workspace keeps the paths
/// recorded before workspaces existed (and is also answered at
/// `/webhook/{path}`, without its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathNamespace {
    /// The installation's first workspace (and tenant `default`).
    FirstWorkspace,
    /// Any other workspace, by id.
    Workspace(String),
}

/// The namespace of the first workspace's path stream ids (a fixed, random
/// UUID; the one paths had before workspaces existed).
const PATH_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b1e_8f4a_4d0e_9a57_3c1d_52e8_b0a4);
/// The namespace of every other workspace's path stream ids.
const WORKSPACE_PATH_NAMESPACE: Uuid = Uuid::from_u128(0x0b5e_71d2_c4a8_4e39_8d16_f2a9_7c40_1e63);

/// The stream id of a path in `namespace`: a UUIDv5 of the path (of
/// `<workspace>/<path>` in another workspace than the first), since paths
/// hold characters stream ids may not.
pub fn webhook_path_id(namespace: &PathNamespace, path: &str) -> String {
    match namespace {
        PathNamespace::FirstWorkspace => Uuid::new_v5(&PATH_NAMESPACE, path.as_bytes()),
        PathNamespace::Workspace(workspace) => Uuid::new_v5(
            &WORKSPACE_PATH_NAMESPACE,
            format!("{workspace}/{path}").as_bytes(),
        ),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::AggregateTester;

    fn workflow(n: u128) -> WorkflowId {
        WorkflowId::from_uuid(Uuid::from_u128(n))
    }

    fn route(method: &str) -> WebhookRoute {
        WebhookRoute {
            method: method.into(),
            path: "orders".into(),
        }
    }

    fn claim(method: &str, n: u128) -> WebhookPathCommand {
        WebhookPathCommand::Claim {
            route: route(method),
            workflow_id: workflow(n),
            workflow_name: format!("wf{n}"),
            replacing: Vec::new(),
        }
    }

    fn claimed(method: &str, n: u128) -> WebhookPathEvent {
        WebhookPathEvent::Claimed {
            route: route(method),
            workflow_id: workflow(n),
            workflow_name: format!("wf{n}"),
        }
    }

    fn released(method: &str, n: u128) -> WebhookPathEvent {
        WebhookPathEvent::Released {
            route: route(method),
            workflow_id: workflow(n),
        }
    }

    #[test]
    fn a_free_route_is_claimed() {
        AggregateTester::<WebhookPath>::given_no_previous_events()
            .when(claim("POST", 1))
            .then_expect_events(vec![claimed("POST", 1)]);
    }

    #[test]
    fn the_holder_claiming_again_records_nothing() {
        AggregateTester::<WebhookPath>::given(vec![claimed("POST", 1)])
            .when(claim("POST", 1))
            .then_expect_events(vec![]);
    }

    #[test]
    fn another_workflow_is_refused_and_told_the_holder() {
        AggregateTester::<WebhookPath>::given(vec![claimed("POST", 1)])
            .when(claim("POST", 2))
            .then_expect_error(|e| {
                matches!(e, WebhookPathError::Taken { workflow_id, workflow_name, .. }
                    if *workflow_id == workflow(1) && workflow_name == "wf1")
            });
    }

    #[test]
    fn any_method_collides_with_a_method_and_back() {
        AggregateTester::<WebhookPath>::given(vec![claimed("GET", 1)])
            .when(claim("*", 2))
            .then_expect_error(|e| matches!(e, WebhookPathError::Taken { .. }));
        AggregateTester::<WebhookPath>::given(vec![claimed("*", 1)])
            .when(claim("GET", 2))
            .then_expect_error(|e| matches!(e, WebhookPathError::Taken { .. }));
    }

    #[test]
    fn other_methods_share_a_path() {
        AggregateTester::<WebhookPath>::given(vec![claimed("GET", 1)])
            .when(claim("POST", 2))
            .then_expect_events(vec![claimed("POST", 2)]);
    }

    #[test]
    fn a_released_route_is_free_again() {
        AggregateTester::<WebhookPath>::given(vec![claimed("POST", 1), released("POST", 1)])
            .when(claim("POST", 2))
            .then_expect_events(vec![claimed("POST", 2)]);
    }

    #[test]
    fn only_the_holder_releases_and_releasing_twice_records_nothing() {
        AggregateTester::<WebhookPath>::given(vec![claimed("POST", 1)])
            .when(WebhookPathCommand::Release {
                route: route("POST"),
                workflow_id: workflow(2),
            })
            .then_expect_events(vec![]);
        AggregateTester::<WebhookPath>::given(vec![claimed("POST", 1), released("POST", 1)])
            .when(WebhookPathCommand::Release {
                route: route("POST"),
                workflow_id: workflow(1),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_archived_holder_is_replaced_in_one_append() {
        let mut command = claim("POST", 2);
        if let WebhookPathCommand::Claim { replacing, .. } = &mut command {
            *replacing = vec![workflow(1)];
        }
        AggregateTester::<WebhookPath>::given(vec![claimed("*", 1)])
            .when(command)
            .then_expect_events(vec![released("*", 1), claimed("POST", 2)]);
    }

    #[test]
    fn replacing_names_one_holder_only() {
        let mut command = claim("POST", 3);
        if let WebhookPathCommand::Claim { replacing, .. } = &mut command {
            *replacing = vec![workflow(1)];
        }
        AggregateTester::<WebhookPath>::given(vec![claimed("POST", 2)])
            .when(command)
            .then_expect_error(|e| matches!(e, WebhookPathError::Taken { .. }));
    }

    #[test]
    fn path_ids_are_stable_stream_ids() {
        let first = &PathNamespace::FirstWorkspace;
        assert_eq!(
            webhook_path_id(first, "a/b c"),
            webhook_path_id(first, "a/b c")
        );
        assert_ne!(webhook_path_id(first, "a"), webhook_path_id(first, "b"));
    }

    #[test]
    fn each_workspace_has_its_own_path_ids() {
        let one = &PathNamespace::Workspace("w1".into());
        let two = &PathNamespace::Workspace("w2".into());
        assert_ne!(
            webhook_path_id(one, "orders"),
            webhook_path_id(two, "orders")
        );
        assert_ne!(
            webhook_path_id(one, "orders"),
            webhook_path_id(&PathNamespace::FirstWorkspace, "orders")
        );
        assert_ne!(
            webhook_path_id(&PathNamespace::FirstWorkspace, "w1/orders"),
            webhook_path_id(one, "orders")
        );
    }
}
