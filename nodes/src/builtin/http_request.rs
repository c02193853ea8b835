//! HTTP Request: one request per input item. Parameters: `method` (GET),
//! `url`, `query` (object), `headers` (object), `body` (JSON value, or a string
//! sent raw), `body_type` (`json` default, `form`, `raw`), `timeout_ms`
//! (30 s), `response` (`json` default, `text`), `fail_on_error` (true: a
//! non-2xx status fails the node), `max_response_bytes` (8 MiB, at most
//! 64 MiB: a larger response fails the node instead of filling memory and the
//! event log). Redirects are followed up to [`MAX_REDIRECTS`]. Every request carries `Idempotency-Key`, stable for the
//! attempt, so a receiver can drop a repeat after a crash. `credentials`
//! names vault credentials to authenticate with (`http_header_auth`,
//! `http_basic_auth`, `http_bearer_auth`, `http_query_auth`, and OAuth 2.0
//! `oauth2_client_credentials` / `oauth2_authorization_code`, sent as a
//! bearer token), opened when the attempt runs and redacted from what it
//! records.

use std::time::Duration;

use crate::NodeOutcome;
use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD, Engine};
use flowforge_domain::{credential::CredentialKind, execution::NodeError};
use flowforge_monitoring::{metrics, trace_context::current_traceparent};
use flowforge_outbound::{tls_failure, Refused};
use serde_json::{json, Map, Value};

use crate::{NodeBehaviour, NodeRun};

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The response size read when the node does not say.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 8 * 1024 * 1024;
/// The most a node may ask to read.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// The HTTP Request node.
pub struct HttpRequest;

fn parameter_error(message: impl Into<String>) -> NodeError {
    NodeError::new(message).with_code("parameters")
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[async_trait]
impl NodeBehaviour for HttpRequest {
    async fn run(&self, run: &NodeRun) -> NodeOutcome {
        let credentials = match run.credentials().await {
            Ok(credentials) => credentials,
            Err(error) => return NodeOutcome::Failed(error),
        };
        let mut out = Vec::new();
        for (index, item) in run.items().iter().enumerate() {
            match request(run, &credentials, index, item).await {
                Ok(items) => out.extend(items),
                Err(error) => return NodeOutcome::Failed(error),
            }
        }
        NodeOutcome::Succeeded(vec![out])
    }
}

async fn request(
    run: &NodeRun,
    credentials: &[(CredentialKind, Map<String, Value>)],
    index: usize,
    item: &Map<String, Value>,
) -> Result<Vec<Map<String, Value>>, NodeError> {
    let p = run.parameters_for(index, item).await?;
    let url = p
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| parameter_error("http_request needs `url`"))?;
    let method = p
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| parameter_error(format!("unknown method {method}")))?;
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| parameter_error(format!("`url` {url:?} is not a URL: {e}")))?;
    run.check_destination(&parsed)
        .map_err(|refused| refused_error(&refused))?;
    // Counted before the breaker is asked: a half-open breaker's one probe
    // must end in a recorded outcome, which a refusal here would not give.
    run.spend_outbound_call().await?;
    let host = format!(
        "{}:{}",
        parsed.host_str().unwrap_or_default(),
        parsed.port_or_known_default().unwrap_or_default()
    );
    run.circuits().admit(&host).map_err(|open| {
        metrics()
            .outbound_refused
            .with_label_values(&["circuit_open"])
            .inc();
        NodeError::new(open.to_string())
            .with_code("circuit_open")
            .with_details(json!({"host": open.host, "retry_after_secs": open.retry_after_secs}))
    })?;
    let timeout = p
        .get("timeout_ms")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
    let mut builder = run.http().request(method, parsed).timeout(timeout).header(
        "Idempotency-Key",
        format!("{}:{index}", run.request.idempotency_key),
    );
    if let Some(Value::Object(query)) = p.get("query") {
        let pairs: Vec<(String, String)> =
            query.iter().map(|(k, v)| (k.clone(), text(v))).collect();
        builder = builder.query(&pairs);
    }
    let mut traced_by_caller = false;
    if let Some(Value::Object(headers)) = p.get("headers") {
        for (name, value) in headers {
            traced_by_caller |= name.eq_ignore_ascii_case("traceparent");
            builder = builder.header(name.as_str(), text(value));
        }
    }
    for (kind, data) in credentials {
        builder = authenticate(run, builder, *kind, data)?;
    }
    // The called service continues the node run's trace, unless the workflow
    // sets the header itself.
    if let Some(traceparent) = current_traceparent().filter(|_| !traced_by_caller) {
        builder = builder.header("traceparent", traceparent);
    }
    if let Some(body) = p.get("body").filter(|b| !b.is_null()) {
        builder = match p.get("body_type").and_then(Value::as_str).unwrap_or("json") {
            "json" => builder.json(body),
            "form" => {
                let Value::Object(fields) = body else {
                    return Err(parameter_error("a form body must be an object"));
                };
                let pairs: Vec<(String, String)> =
                    fields.iter().map(|(k, v)| (k.clone(), text(v))).collect();
                builder.form(&pairs)
            }
            "raw" => builder.body(text(body)),
            other => {
                return Err(parameter_error(format!(
                    "unknown body_type {other:?} (json, form, raw)"
                )))
            }
        };
    }
    let response = builder.send().await.map_err(|e| {
        let error = request_error(&e, url);
        // A refusal is this side's decision, not the host's failure.
        if error.code.as_deref() != Some("destination_refused") {
            run.circuits().record(&host, false);
        }
        error
    })?;
    let status = response.status();
    run.circuits().record(&host, !status.is_server_error());
    let limit = p
        .get("max_response_bytes")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES)
        .min(MAX_RESPONSE_BYTES);
    let body = read_body(response, url, limit).await?;
    let fail_on_error = p
        .get("fail_on_error")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if !status.is_success() && fail_on_error {
        let shown: String = body.chars().take(500).collect();
        return Err(NodeError::new(format!("{url} answered {status}"))
            .with_code("http_status")
            .with_details(json!({"status": status.as_u16(), "body": shown})));
    }
    let as_text = p.get("response").and_then(Value::as_str) == Some("text");
    let parsed = if as_text {
        Value::String(body)
    } else {
        serde_json::from_str(&body).unwrap_or(Value::String(body))
    };
    Ok(match parsed {
        Value::Object(object) => vec![object],
        Value::Array(values) => values
            .into_iter()
            .map(|v| match v {
                Value::Object(object) => object,
                other => Map::from_iter([("data".to_owned(), other)]),
            })
            .collect(),
        other => vec![Map::from_iter([
            ("data".to_owned(), other),
            ("status".to_owned(), json!(status.as_u16())),
        ])],
    })
}

/// The request carrying a credential of `kind`; a credential this node
/// cannot send is refused by name.
fn authenticate(
    run: &NodeRun,
    builder: reqwest::RequestBuilder,
    kind: CredentialKind,
    data: &Map<String, Value>,
) -> Result<reqwest::RequestBuilder, NodeError> {
    let field = |name: &str| data.get(name).map(text).unwrap_or_default();
    Ok(match kind {
        CredentialKind::HttpHeaderAuth => builder.header(field("name"), field("value")),
        CredentialKind::HttpQueryAuth => builder.query(&[(field("name"), field("value"))]),
        CredentialKind::HttpBearerAuth => builder.bearer_auth(field("token")),
        CredentialKind::OAuth2ClientCredentials | CredentialKind::OAuth2AuthorizationCode => {
            builder.bearer_auth(field("access_token"))
        }
        CredentialKind::HttpBasicAuth => {
            let (user, password) = (field("user"), field("password"));
            // The header as sent, should the server echo it.
            run.keep_secret(STANDARD.encode(format!("{user}:{password}")));
            builder.basic_auth(user, Some(password))
        }
        other => {
            return Err(NodeError::new(format!(
                "http_request cannot send a {other} credential; it takes http_header_auth, \
                 http_basic_auth, http_bearer_auth, http_query_auth, oauth2_client_credentials \
                 or oauth2_authorization_code"
            ))
            .with_code("credential_type"))
        }
    })
}

/// A request that got no response: a refused destination says why (code
/// `destination_refused`), a TLS failure says what to fix (`tls_error`), a
/// timeout is `http_timeout`, anything else `http_connection`.
fn request_error(error: &reqwest::Error, url: &str) -> NodeError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(refused) = current.downcast_ref::<Refused>() {
            return refused_error(refused);
        }
        cause = current.source();
    }
    if let Some(failure) = tls_failure(error) {
        let host = error
            .url()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| url.to_owned());
        return NodeError::new(failure.describe(&host)).with_code("tls_error");
    }
    let code = if error.is_timeout() {
        "http_timeout"
    } else {
        "http_connection"
    };
    NodeError::new(format!("request to {url} failed: {error}")).with_code(code)
}

/// A destination the deployment does not let nodes reach.
fn refused_error(refused: &Refused) -> NodeError {
    metrics()
        .outbound_refused
        .with_label_values(&["destination_refused"])
        .inc();
    NodeError::new(refused.to_string()).with_code("destination_refused")
}

/// Reads the response body, refusing one longer than `limit` bytes as soon as
/// its length (declared or read so far) passes it.
async fn read_body(
    mut response: reqwest::Response,
    url: &str,
    limit: u64,
) -> Result<String, NodeError> {
    let too_large = || {
        NodeError::new(format!(
            "the response of {url} is larger than max_response_bytes ({limit})"
        ))
        .with_code("http_response_too_large")
        .with_details(json!({"max_response_bytes": limit}))
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        NodeError::new(format!("reading the response of {url}: {e}")).with_code("http_connection")
    })? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}
