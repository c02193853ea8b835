//! Wait: for `duration_ms`, until `until` (RFC 3339), or until resumed
//! (`resume: webhook`: `POST /api/v1/executions/{id}/resume/{token}`). The
//! token is a secret no API shows: the nodes before the wait hand the link on
//! as `$execution.resumeUrl` (an approval e-mail, a chat message), and the
//! wait records only the token's digest (see [`crate::resume`]). Timed waits
//! pass their items through; a resumed wait outputs the resume request's body.

use crate::NodeOutcome;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowforge_domain::execution::NodeError;
use serde_json::Value;

use crate::resume::token_digest;
use crate::{NodeBehaviour, NodeRun};

/// The Wait node.
pub struct Wait;

#[async_trait]
impl NodeBehaviour for Wait {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        let first = run.items().into_iter().next().unwrap_or_default();
        let parameters = match run.parameters_for(0, &first).await {
            Ok(parameters) => parameters,
            Err(error) => return NodeOutcome::Failed(error),
        };
        let now = DateTime::parse_from_rfc3339(&run.request.now)
            .map_or_else(|_| Utc::now(), |t| t.with_timezone(&Utc));
        if let Some(ms) = parameters.get("duration_ms").and_then(Value::as_u64) {
            let until = i64::try_from(ms)
                .ok()
                .and_then(chrono::Duration::try_milliseconds)
                .and_then(|wait| now.checked_add_signed(wait));
            return match until {
                Some(until) => NodeOutcome::Wait {
                    until: Some(until),
                    resume_token_sha256: None,
                },
                None => NodeOutcome::Failed(
                    NodeError::new(format!("duration_ms {ms} is too long")).with_code("parameters"),
                ),
            };
        }
        if let Some(until) = parameters.get("until").and_then(Value::as_str) {
            return match DateTime::parse_from_rfc3339(until) {
                Ok(until) => NodeOutcome::Wait {
                    until: Some(until.with_timezone(&Utc)),
                    resume_token_sha256: None,
                },
                Err(e) => NodeOutcome::Failed(
                    NodeError::new(format!("until {until:?} is not RFC 3339: {e}"))
                        .with_code("parameters"),
                ),
            };
        }
        if parameters.get("resume").and_then(Value::as_str) == Some("webhook") {
            let Some(links) = run.resume_links() else {
                return NodeOutcome::Failed(
                    NodeError::new("this deployment makes no resume links").with_code("internal"),
                );
            };
            let token = links.token(run.request.execution_id, run.request.node.name());
            return NodeOutcome::Wait {
                until: None,
                resume_token_sha256: Some(token_digest(&token)),
            };
        }
        NodeOutcome::Failed(
            NodeError::new("wait needs `duration_ms`, `until` or `resume: webhook`")
                .with_code("parameters"),
        )
    }
}
