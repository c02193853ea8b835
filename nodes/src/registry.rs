//! The node registry: the node types, each behind [`NodeBehaviour`], gathered
//! in the [`NodeRegistry`] that the orchestrator runs nodes through. A new node
//! type is a module in `builtin/` plus one line in [`NodeRegistry::new`]. The
//! registry also bounds what any node may output
//! ([`NodeRegistry::with_max_items_per_node`]).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use flowforge_domain::{
    credential::CredentialKind,
    execution::{concat_items, NodeError},
    workflow::NodeType,
};
use flowforge_outbound::{
    token_http_client, CircuitBreakers, CircuitSettings, OAuth2Tokens, OutboundPolicy, Refused,
    TlsTrust, TrustError,
};
use flowforge_script::{ExpressionContext, ExpressionEngine, Item, ScriptError};
use serde_json::{Map, Value};

use crate::{
    builtin::{
        branch, code, execute_workflow, http_request, merge, nats_publish, passthrough,
        respond_to_webhook, set, stop_and_error, wait,
    },
    credential_tokens,
    redaction::redact,
    resume::ResumeLinks,
    CallBudget, CredentialSource, MessagePublisher, NodeExecutor, NodeOutcome, NodeRunRequest,
    SubWorkflows, VariableSource,
};

/// One node type's behaviour.
#[async_trait]
pub trait NodeBehaviour: Send + Sync {
    /// Runs one attempt of a node of this type.
    async fn run(&self, run: &NodeRun) -> NodeOutcome;
}

/// A node attempt as its behaviour sees it: the request plus the tools to
/// evaluate its parameters.
pub struct NodeRun {
    /// What the orchestrator asked for.
    pub request: NodeRunRequest,
    engine: ExpressionEngine,
    http: reqwest::Client,
    base: ExpressionContext,
    resume: Option<ResumeLinks>,
    credentials: Option<Arc<dyn CredentialSource>>,
    destinations: Arc<OutboundPolicy>,
    circuits: Arc<CircuitBreakers>,
    calls: Option<Arc<dyn CallBudget>>,
    oauth2: OAuth2Tokens,
    /// Every secret value this run opened, to redact from its outcome.
    secrets: Mutex<Vec<String>>,
}

impl NodeRun {
    /// Refuses a URL whose host is an address the deployment does not let
    /// nodes reach (a host name is checked where it is resolved).
    ///
    /// # Errors
    /// [`Refused`], saying what kind of address it is.
    pub fn check_destination(&self, url: &reqwest::Url) -> Result<(), Refused> {
        self.destinations.check_url(url)
    }

    /// Counts one outbound call against the limits per execution and per
    /// workspace; ask before each connection a node opens.
    ///
    /// # Errors
    /// `outbound_limit`, naming the limit reached.
    pub async fn spend_outbound_call(&self) -> Result<(), NodeError> {
        match &self.calls {
            Some(calls) => calls.spend(self.request.execution_id).await,
            None => Ok(()),
        }
    }

    /// The circuit breakers of outbound hosts: ask before a call, record
    /// how it ended.
    pub fn circuits(&self) -> &CircuitBreakers {
        &self.circuits
    }

    /// The credentials the node's `credentials` parameter names
    /// (`{"http_header_auth": "Stripe"}`: a type, and a credential's name or
    /// id), opened, in the parameter's order. Their secret values (and any
    /// form passed to [`NodeRun::keep_secret`]) are redacted from whatever
    /// the run outputs or fails with.
    ///
    /// # Errors
    /// A malformed parameter, an unknown type, and what resolving fails
    /// with (no such credential, another type, one that does not open).
    pub async fn credentials(
        &self,
    ) -> Result<Vec<(CredentialKind, Map<String, Value>)>, NodeError> {
        let Some(named) = self.request.node.parameters().get("credentials") else {
            return Ok(Vec::new());
        };
        let Value::Object(named) = named else {
            return Err(NodeError::new(
                "`credentials` must be an object of type → credential name or id",
            )
            .with_code("parameters"));
        };
        let mut opened = Vec::with_capacity(named.len());
        for (kind, reference) in named {
            let kind = CredentialKind::parse(kind)
                .map_err(|e| NodeError::new(e.to_string()).with_code("parameters"))?;
            let Some(reference) = reference.as_str() else {
                return Err(NodeError::new(format!(
                    "`credentials.{kind}` must be a credential's name or id"
                ))
                .with_code("parameters"));
            };
            let Some(source) = &self.credentials else {
                return Err(NodeError::new("this deployment has no credentials vault")
                    .with_code("credential_unavailable"));
            };
            let mut data = source
                .resolve(
                    self.request.execution_id,
                    self.request.node.name(),
                    kind,
                    reference,
                )
                .await?;
            for field in kind.fields().iter().filter(|f| f.secret) {
                match data.get(field.name) {
                    Some(Value::String(value)) => self.keep_secret(value.clone()),
                    Some(other @ Value::Number(_)) => self.keep_secret(other.to_string()),
                    _ => {}
                }
            }
            let origin = credential_tokens::Origin {
                source: source.as_ref(),
                execution: self.request.execution_id,
                reference,
            };
            if let Some(token) =
                credential_tokens::access_token(&self.oauth2, kind, &mut data, origin).await?
            {
                self.keep_secret(token.access_token);
                if let Some(refresh) = token.refresh_token {
                    self.keep_secret(refresh);
                }
            }
            opened.push((kind, data));
        }
        Ok(opened)
    }

    /// Redacts `value` (a secret in another form, such as an encoded
    /// header) from the run's outcome.
    pub fn keep_secret(&self, value: String) {
        if let Ok(mut secrets) = self.secrets.lock() {
            secrets.push(value);
        }
    }

    fn opened_secrets(&self) -> Vec<String> {
        self.secrets
            .lock()
            .map(|secrets| secrets.clone())
            .unwrap_or_default()
    }

    /// How resume links are made, if this deployment makes them.
    pub fn resume_links(&self) -> Option<&ResumeLinks> {
        self.resume.as_ref()
    }

    /// All input items, inputs concatenated in input order.
    pub fn items(&self) -> Vec<Item> {
        concat_items(&self.request.input)
    }

    /// The node's raw parameters.
    pub fn parameters(&self) -> Value {
        Value::Object(self.request.node.parameters().clone())
    }

    /// The node's parameters evaluated for item `index` of the input (`$json`).
    pub async fn parameters_for(&self, index: usize, item: &Item) -> Result<Value, NodeError> {
        let ctx = self.base.clone().with_item(index, item.clone());
        let engine = self.engine;
        let parameters = self.parameters();
        tokio::task::spawn_blocking(move || engine.evaluate_parameters(&parameters, &ctx))
            .await
            .map_err(|e| {
                NodeError::new(format!("evaluation task failed: {e}")).with_code("internal")
            })?
            .map_err(expression_error)
    }

    /// Runs JavaScript over all items (the Code node).
    pub async fn run_code(&self, js: String) -> Result<Vec<Item>, NodeError> {
        let ctx = self.base.clone();
        let engine = self.engine;
        let items = self.items();
        tokio::task::spawn_blocking(move || engine.run_code(&js, items, &ctx))
            .await
            .map_err(|e| NodeError::new(format!("code task failed: {e}")).with_code("internal"))?
            .map_err(expression_error)
    }

    /// The HTTP client nodes share.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// An engine error as a node failure with a code naming its kind.
fn expression_error(error: ScriptError) -> NodeError {
    let code = match &error {
        // A promise that can never settle would run past any time limit.
        ScriptError::Timeout { .. } | ScriptError::PromiseNeverSettled => "expression_timeout",
        ScriptError::OutOfMemory { .. } => "expression_memory",
        ScriptError::Script { .. } => "expression",
        ScriptError::InvalidCodeResult { .. } => "code_result",
        ScriptError::InvalidContext { .. } | ScriptError::Engine { .. } => "engine",
    };
    NodeError::new(error.to_string()).with_code(code)
}

/// A parameter as a string, if present.
pub(crate) fn string_parameter<'a>(parameters: &'a Value, name: &str) -> Option<&'a str> {
    parameters.get(name).and_then(Value::as_str)
}

/// The HTTP client of the HTTP Request node: TLS verified against `trust`,
/// names resolved only to addresses `destinations` lets through, a bounded
/// number of redirects, each checked again.
fn http_client(
    trust: &TlsTrust,
    destinations: &Arc<OutboundPolicy>,
) -> Result<reqwest::Client, TrustError> {
    let builder = reqwest::Client::builder()
        .dns_resolver(destinations.resolver())
        .redirect(destinations.redirects(http_request::MAX_REDIRECTS));
    trust.http_client(builder)
}

/// The default bound on the items one node attempt may output, over all its
/// outputs.
pub const DEFAULT_MAX_ITEMS_PER_NODE: usize = 10_000;

/// Runs nodes by type.
pub struct NodeRegistry {
    behaviours: HashMap<NodeType, Arc<dyn NodeBehaviour>>,
    engine: ExpressionEngine,
    http: reqwest::Client,
    destinations: Arc<OutboundPolicy>,
    circuits: Arc<CircuitBreakers>,
    resume: Option<ResumeLinks>,
    credentials: Option<Arc<dyn CredentialSource>>,
    variables: Option<Arc<dyn VariableSource>>,
    env: Option<Arc<BTreeMap<String, String>>>,
    calls: Option<Arc<dyn CallBudget>>,
    oauth2: OAuth2Tokens,
    max_items: usize,
}

impl NodeRegistry {
    /// Every built-in node type, with `engine` for expressions.
    pub fn new(engine: ExpressionEngine) -> Self {
        let passthrough: Arc<dyn NodeBehaviour> = Arc::new(passthrough::PassThrough);
        let mut behaviours: HashMap<NodeType, Arc<dyn NodeBehaviour>> = HashMap::new();
        for trigger in [
            NodeType::ManualTrigger,
            NodeType::Webhook,
            NodeType::Schedule,
            NodeType::NatsTrigger,
            NodeType::ErrorTrigger,
            NodeType::Noop,
        ] {
            behaviours.insert(trigger, passthrough.clone());
        }
        behaviours.insert(NodeType::Set, Arc::new(set::Set));
        behaviours.insert(NodeType::If, Arc::new(branch::If));
        behaviours.insert(NodeType::Switch, Arc::new(branch::Switch));
        behaviours.insert(NodeType::Merge, Arc::new(merge::Merge));
        behaviours.insert(NodeType::Wait, Arc::new(wait::Wait));
        behaviours.insert(NodeType::Code, Arc::new(code::Code));
        behaviours.insert(NodeType::HttpRequest, Arc::new(http_request::HttpRequest));
        behaviours.insert(
            NodeType::RespondToWebhook,
            Arc::new(respond_to_webhook::RespondToWebhook),
        );
        behaviours.insert(
            NodeType::StopAndError,
            Arc::new(stop_and_error::StopAndError),
        );
        let destinations = Arc::new(OutboundPolicy::public_only());
        // Public roots always make a client; a default client is only a
        // fallback for the impossible case.
        let oauth2 = OAuth2Tokens::new(
            token_http_client(&TlsTrust::public_roots(), &destinations).unwrap_or_default(),
            destinations.clone(),
        );
        Self {
            behaviours,
            engine,
            // The public roots always make a client; a default client (which
            // trusts no root) is only a fallback for the impossible case.
            http: http_client(&TlsTrust::public_roots(), &destinations).unwrap_or_default(),
            destinations,
            circuits: Arc::new(CircuitBreakers::new(CircuitSettings::default())),
            resume: None,
            credentials: None,
            variables: None,
            env: None,
            calls: None,
            oauth2,
            max_items: DEFAULT_MAX_ITEMS_PER_NODE,
        }
    }

    /// The same registry making outbound HTTP calls that trust `trust` (the
    /// public roots plus the configured CA bundle) to the destinations
    /// `destinations` lets through (public addresses only, by default).
    ///
    /// # Errors
    /// [`TrustError`] when the client cannot be built on that trust.
    pub fn with_outbound(
        mut self,
        trust: &TlsTrust,
        destinations: OutboundPolicy,
    ) -> Result<Self, TrustError> {
        self.destinations = Arc::new(destinations);
        self.http = http_client(trust, &self.destinations)?;
        self.oauth2 = OAuth2Tokens::new(
            token_http_client(trust, &self.destinations)?,
            self.destinations.clone(),
        );
        Ok(self)
    }

    /// The same registry failing any node attempt that outputs more than
    /// `max_items` items (over all its outputs) instead of recording them.
    pub fn with_max_items_per_node(mut self, max_items: usize) -> Self {
        self.max_items = max_items;
        self
    }

    /// The same registry making resume links (`$execution.resumeUrl`, Wait
    /// nodes with `resume: webhook`) with `links`; without, such a Wait node
    /// fails.
    pub fn with_resume_links(mut self, links: ResumeLinks) -> Self {
        self.resume = Some(links);
        self
    }

    /// The same registry pausing calls to a failing host through `circuits`
    /// (shared, so readiness can report them).
    pub fn with_circuit_breakers(mut self, circuits: Arc<CircuitBreakers>) -> Self {
        self.circuits = circuits;
        self
    }

    /// The same registry opening the credentials nodes name through
    /// `source`; without, a node that names one fails.
    pub fn with_credentials(mut self, source: Arc<dyn CredentialSource>) -> Self {
        self.credentials = Some(source);
        self
    }

    /// The same registry asking for OAuth 2.0 tokens through `tokens` (so
    /// they share one cache with whoever else holds it).
    pub fn with_oauth2_tokens(mut self, tokens: OAuth2Tokens) -> Self {
        self.oauth2 = tokens;
        self
    }

    /// The same registry counting every outbound call nodes make against
    /// `budget`; without, calls are not counted.
    pub fn with_call_budget(mut self, budget: Arc<dyn CallBudget>) -> Self {
        self.calls = Some(budget);
        self
    }

    /// The same registry giving expressions the workspace variables
    /// (`$vars`) from `source`, read when a node that mentions `$vars` runs;
    /// without, `$vars` is empty.
    pub fn with_variables(mut self, source: Arc<dyn VariableSource>) -> Self {
        self.variables = Some(source);
        self
    }

    /// The same registry letting expressions read exactly `env` as `$env`;
    /// without, `$env` throws (the process environment holds the server's
    /// own secrets, so it is closed unless a deployment opens names).
    pub fn with_env(mut self, env: BTreeMap<String, String>) -> Self {
        self.env = Some(Arc::new(env));
        self
    }

    /// The same registry with the NATS Publish node, publishing through
    /// `publisher`.
    pub fn with_publisher(mut self, publisher: Arc<dyn MessagePublisher>) -> Self {
        self.behaviours.insert(
            NodeType::NatsPublish,
            Arc::new(nats_publish::NatsPublish { publisher }),
        );
        self
    }

    /// The same registry with the Execute Workflow node, starting
    /// sub-workflows through `starter`.
    pub fn with_sub_workflows(mut self, starter: Arc<dyn SubWorkflows>) -> Self {
        self.behaviours.insert(
            NodeType::ExecuteWorkflow,
            Arc::new(execute_workflow::ExecuteWorkflow { starter }),
        );
        self
    }
}

#[async_trait]
impl NodeExecutor for NodeRegistry {
    async fn run(&self, request: NodeRunRequest) -> NodeOutcome {
        let node_type = request.node.node_type();
        let Some(behaviour) = self.behaviours.get(&node_type).cloned() else {
            return NodeOutcome::Failed(
                NodeError::new(format!(
                    "node type {node_type} cannot run in this version of FlowForge yet"
                ))
                .with_code("unsupported_node"),
            );
        };
        let base = ExpressionContext::new(Item::new())
            .with_input_items(
                request
                    .context_input
                    .clone()
                    .unwrap_or_else(|| concat_items(&request.input)),
            )
            .with_node_outputs(request.node_outputs.clone())
            .with_execution_id(request.execution_id.to_string())
            .with_workflow_id(request.workflow_id.to_string());
        let base = match base.clone().with_now_rfc3339(&request.now) {
            Ok(with_now) => with_now,
            Err(_) => base,
        };
        let base = match (&self.resume, &request.resume_node) {
            (Some(links), Some(node)) => {
                base.with_resume_url(links.url(request.execution_id, node))
            }
            _ => base,
        };
        let base = match &self.env {
            Some(env) => base.with_env(Arc::clone(env)),
            None => base,
        };
        let base = match (
            &self.variables,
            mentions(request.node.parameters(), "$vars"),
        ) {
            (Some(source), true) => match source.variables(request.execution_id).await {
                Ok(vars) => base.with_vars(vars),
                Err(error) => return NodeOutcome::Failed(error),
            },
            _ => base,
        };
        let run = NodeRun {
            request,
            engine: self.engine,
            http: self.http.clone(),
            base,
            resume: self.resume.clone(),
            credentials: self.credentials.clone(),
            destinations: self.destinations.clone(),
            circuits: self.circuits.clone(),
            calls: self.calls.clone(),
            oauth2: self.oauth2.clone(),
            secrets: Mutex::new(Vec::new()),
        };
        let outcome = behaviour.run(&run).await;
        within_item_limit(redact(outcome, &run.opened_secrets()), self.max_items)
    }
}

/// Whether any string in `parameters` contains `needle`: a node whose
/// parameters never mention `$vars` does not pay for reading them.
fn mentions(parameters: &Map<String, Value>, needle: &str) -> bool {
    fn within(value: &Value, needle: &str) -> bool {
        match value {
            Value::String(text) => text.contains(needle),
            Value::Array(values) => values.iter().any(|v| within(v, needle)),
            Value::Object(fields) => fields.values().any(|v| within(v, needle)),
            _ => false,
        }
    }
    parameters.values().any(|v| within(v, needle))
}

/// The outcome, or a failure if it outputs more than `max_items` items: checked
/// here, once for every node type, before anything is recorded.
fn within_item_limit(outcome: NodeOutcome, max_items: usize) -> NodeOutcome {
    let NodeOutcome::Succeeded(outputs) = &outcome else {
        return outcome;
    };
    let items: usize = outputs.iter().map(Vec::len).sum();
    if items <= max_items {
        return outcome;
    }
    NodeOutcome::Failed(
        NodeError::new(format!(
            "the node output {items} items, more than the limit of {max_items}; raise FLOWFORGE_MAX_ITEMS_PER_NODE"
        ))
        .with_code("too_many_items")
        .with_details(serde_json::json!({
            "items": items,
            "limit": max_items,
            "setting": "FLOWFORGE_MAX_ITEMS_PER_NODE",
        })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(count: usize) -> Vec<Item> {
        vec![Item::new(); count]
    }

    #[test]
    fn outputs_up_to_the_limit_pass_unchanged() {
        let outcome = NodeOutcome::Succeeded(vec![items(2), items(1)]);
        assert_eq!(within_item_limit(outcome.clone(), 3), outcome);
    }

    #[test]
    fn outputs_past_the_limit_over_all_outputs_fail_the_node_naming_the_setting() {
        let outcome = within_item_limit(NodeOutcome::Succeeded(vec![items(2), items(2)]), 3);
        let NodeOutcome::Failed(error) = outcome else {
            panic!("expected a failure, got {outcome:?}");
        };
        assert_eq!(error.code.as_deref(), Some("too_many_items"));
        assert_eq!(
            error.message,
            "the node output 4 items, more than the limit of 3; raise FLOWFORGE_MAX_ITEMS_PER_NODE"
        );
        assert_eq!(error.details["limit"], 3);
    }

    #[test]
    fn a_mention_is_found_at_any_depth_and_only_in_strings() {
        let parameters = serde_json::json!({
            "url": "https://x",
            "fields": [{"name": "a", "value": "{{ $vars.region }}"}],
        });
        let Value::Object(parameters) = parameters else {
            unreachable!()
        };
        assert!(mentions(&parameters, "$vars"));
        let Value::Object(plain) = serde_json::json!({"$vars": 1, "n": [1, true]}) else {
            unreachable!()
        };
        assert!(!mentions(&plain, "$vars"));
    }

    #[test]
    fn failures_and_waits_are_not_counted() {
        let failed = NodeOutcome::Failed(NodeError::new("boom"));
        assert_eq!(within_item_limit(failed.clone(), 0), failed);
        let wait = NodeOutcome::Wait {
            until: None,
            resume_token_sha256: None,
        };
        assert_eq!(within_item_limit(wait.clone(), 0), wait);
    }
}
