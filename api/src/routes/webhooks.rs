//! `/webhook/{path}` (the first workspace's) and
//! `/workspaces/{workspace_id}/webhook/{path}` (any workspace's): any method;
//! runs the workspace's active workflow whose webhook node has that path and
//! method. The request's method, path, headers, query and
//! body become the first item; the answer follows the node's `response_mode`.

use std::{collections::BTreeMap, time::Duration};

use axum::{
    body::Bytes,
    extract::{FromRequest, Path, Query, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use flowforge_domain::{
    execution::{ExecutionId, Item, Trigger, TriggerKind},
    workspace::WorkspaceId,
};
use flowforge_infra::{
    event_store::{EventMetadata, DEFAULT_TENANT},
    read_model::TenantScope,
};
use serde_json::{json, Map, Value};

use super::{request_context::RequestMetadata, shared_responses::WebhookAnswers};
use crate::{
    error::ApiError,
    execution_watch,
    idempotency::{IdempotencyKey, IDEMPOTENT_REPLAYED},
    state::AppState,
    webhook_auth,
};
use flowforge_engine::{
    backlog::StartMode,
    execution_controls::{start_requested, RequestedStart},
    triggers::webhooks::{ResponseMode, WebhookRoute},
};

/// Headers a Respond to Webhook node may not set.
const FRAMING_HEADERS: [&str; 7] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
];
/// How long a webhook answered at the end of its execution waits at most.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// The routes webhooks are called at: the first workspace's short one, and
/// every workspace's under its id.
pub const WEBHOOK_ROUTES: [&str; 2] = [
    "/webhook/{*path}",
    "/workspaces/{workspace_id}/webhook/{*path}",
];

/// Starts a workflow of the installation's first workspace behind a webhook
/// (documented for POST; every method works).
#[utoipa::path(
    post, path = "/webhook/{path}", tag = "executions",
    params(
        ("path" = String, Path, description = "The webhook node's path"),
        ("Idempotency-Key" = Option<String>, Header, description = "Up to 255 visible ASCII characters naming this start: a retry with the same key (for the same workflow) starts nothing and answers about the execution the first request started (marked `Idempotent-Replayed: true`), waiting for its result as the first one would", nullable = false, pattern = r"^[!-~]([ -~]{0,253}[!-~])?$"),
    ),
    request_body(content = Object, description = "Any body; JSON is parsed, other types arrive as text"),
    responses(WebhookAnswers)
)]
pub async fn webhook(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RequestMetadata(metadata): RequestMetadata,
    call: Call,
) -> Result<Response, ApiError> {
    let scope = match state.workspaces.first_workspace().await? {
        Some(first) => TenantScope::with_default(first.to_string()),
        None => TenantScope::only(DEFAULT_TENANT),
    };
    serve(&state, &scope, &path, call, &metadata).await
}

/// Starts a workflow of workspace `workspace_id` behind a webhook
/// (documented for POST; every method works). Every workspace has its own
/// paths.
#[utoipa::path(
    post, path = "/workspaces/{workspace_id}/webhook/{path}", tag = "executions",
    params(
        ("workspace_id" = Uuid, Path, description = "The workspace the workflow belongs to"),
        ("path" = String, Path, description = "The webhook node's path"),
        ("Idempotency-Key" = Option<String>, Header, description = "As for /webhook/{path}", nullable = false, pattern = r"^[!-~]([ -~]{0,253}[!-~])?$"),
    ),
    request_body(content = Object, description = "Any body; JSON is parsed, other types arrive as text"),
    responses(WebhookAnswers)
)]
pub async fn workspace_webhook(
    State(state): State<AppState>,
    Path((workspace_id, path)): Path<(String, String)>,
    RequestMetadata(metadata): RequestMetadata,
    call: Call,
) -> Result<Response, ApiError> {
    let workspace: WorkspaceId = workspace_id.parse().map_err(|_| {
        ApiError::NotFound(format!(
            "active webhook {} /workspaces/{workspace_id}/webhook/{path}",
            call.method
        ))
    })?;
    let scope = if state.workspaces.first_workspace().await? == Some(workspace) {
        TenantScope::with_default(workspace.to_string())
    } else {
        TenantScope::only(workspace.to_string())
    };
    serve(&state, &scope, &path, call, &metadata).await
}

/// One call of a webhook, as it arrived (the path aside, which each route
/// reads its own way).
pub struct Call {
    method: Method,
    query: BTreeMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Call {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let Query(query) = Query::<BTreeMap<String, String>>::try_from_uri(&parts.uri)
            .map_err(IntoResponse::into_response)?;
        let (method, headers) = (parts.method.clone(), parts.headers.clone());
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            method,
            query,
            headers,
            body,
        })
    }
}

/// Runs the active workflow of `scope` whose webhook node answers `call`.
async fn serve(
    state: &AppState,
    scope: &TenantScope,
    path: &str,
    call: Call,
    metadata: &EventMetadata,
) -> Result<Response, ApiError> {
    let Call {
        method,
        query,
        headers,
        body,
    } = call;
    let route = state
        .webhooks
        .route(
            state.workflows.as_ref(),
            state,
            scope,
            method.as_str(),
            path,
        )
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("active webhook {method} /webhook/{path}")))?;
    if let Some(auth) = &route.auth {
        if let Err(why) =
            webhook_auth::verify(auth, &headers, &body, chrono::Utc::now().timestamp())
        {
            tracing::info!(%path, reason = %why, "webhook call refused");
            return Err(ApiError::WebhookUnauthorized);
        }
    }
    let key = IdempotencyKey::from_headers(&headers)?;
    let item = request_item(&method, path, &query, &headers, &body)?;
    let trigger = Trigger::new(TriggerKind::Webhook).at_node(route.node.clone());
    let request = RequestedStart {
        workflow_id: route.workflow_id,
        trigger,
        input: vec![item],
        require_active: true,
        mode: match route.response_mode {
            ResponseMode::Immediately => StartMode::FireAndForget,
            ResponseMode::LastNode | ResponseMode::RespondNode => StartMode::Waiting,
        },
        idempotent_id: key.map(|key| key.execution_id(route.workflow_id)),
        metadata,
    };
    let started = start_requested(&state.commands, &state.backlog, request).await?;
    let mut response = answer(state, &route, started.execution_id).await?;
    if started.replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The webhook's answer about `execution_id`, as the route's response mode says.
async fn answer(
    state: &AppState,
    route: &WebhookRoute,
    execution_id: ExecutionId,
) -> Result<Response, ApiError> {
    match route.response_mode {
        ResponseMode::Immediately => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"execution_id": execution_id})),
        )
            .into_response()),
        ResponseMode::LastNode => {
            let (execution, ended) =
                execution_watch::wait_for_end(state, execution_id, RESPONSE_TIMEOUT).await?;
            if !ended {
                return Err(ApiError::ExecutionTimedOut(execution_id.to_string()));
            }
            if let Some(failure) = execution.failure() {
                return Err(ApiError::ExecutionFailed {
                    execution_id: execution_id.to_string(),
                    node: failure.node.clone(),
                    message: failure.error.message.clone(),
                });
            }
            if execution.cancellation().is_some() {
                return Err(ApiError::ExecutionFailed {
                    execution_id: execution_id.to_string(),
                    node: None,
                    message: "the execution was cancelled".to_owned(),
                });
            }
            let first = execution
                .output()
                .and_then(|outputs| outputs.iter().find_map(|items| items.first().cloned()))
                .unwrap_or_default();
            Ok(Json(Value::Object(first)).into_response())
        }
        ResponseMode::RespondNode => {
            let (execution, response) =
                execution_watch::wait_until(state, execution_id, RESPONSE_TIMEOUT, |e| {
                    execution_watch::webhook_response(e).or_else(|| e.is_finished().then(Map::new))
                })
                .await?;
            match response {
                Some(response) if !response.is_empty() => Ok(respond(&response)),
                Some(_) => match (execution.failure(), execution.cancellation()) {
                    (Some(failure), _) => Err(ApiError::ExecutionFailed {
                        execution_id: execution_id.to_string(),
                        node: failure.node.clone(),
                        message: failure.error.message.clone(),
                    }),
                    (None, Some(_)) => Err(ApiError::ExecutionFailed {
                        execution_id: execution_id.to_string(),
                        node: None,
                        message: "the execution was cancelled".to_owned(),
                    }),
                    (None, None) => Ok(StatusCode::NO_CONTENT.into_response()),
                },
                None => Err(ApiError::ExecutionTimedOut(execution_id.to_string())),
            }
        }
    }
}

/// The first item of a webhook execution: `{method, path, headers, query, body}`.
fn request_item(
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Item, ApiError> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
    let body = if body.is_empty() {
        Value::Object(Map::new())
    } else if is_json {
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?
    } else {
        Value::String(String::from_utf8_lossy(body).into_owned())
    };
    let headers: Map<String, Value> = headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.as_str().to_owned(),
                Value::String(value.to_str().ok()?.to_owned()),
            ))
        })
        .collect();
    let mut item = Map::new();
    item.insert("method".into(), Value::String(method.as_str().to_owned()));
    item.insert("path".into(), Value::String(path.to_owned()));
    item.insert("headers".into(), Value::Object(headers));
    item.insert("query".into(), json!(query));
    item.insert("body".into(), body);
    Ok(item)
}

/// The HTTP response a Respond to Webhook node described.
fn respond(response: &Item) -> Response {
    let status = response
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (200..=599).contains(s))
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body = response.get("body").cloned().unwrap_or(Value::Null);
    let mut reply = match body {
        Value::String(text) => (status, text).into_response(),
        other => (status, Json(other)).into_response(),
    };
    if let Some(Value::Object(headers)) = response.get("headers") {
        for (name, value) in headers {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            // Framing headers are the server's business, not the workflow's.
            if FRAMING_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value),
            ) {
                reply.headers_mut().insert(name, value);
            }
        }
    }
    reply
}
