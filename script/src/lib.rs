//! FlowForge's JavaScript: n8n-style `{{ … }}` expressions in node parameters
//! and the Code node, run in QuickJS (through `rquickjs`) with a time limit, a
//! memory limit and a stack limit per evaluation.
//!
//! [`ExpressionEngine`] is the entry point: node implementations hold one
//! (it is `Send + Sync` and cheap to clone) and call it with an
//! [`ExpressionContext`] describing the current item and the execution around
//! it. Calls block the calling thread for at most the configured timeout, so
//! async callers run them on a blocking thread (`tokio::task::spawn_blocking`).
//! Why QuickJS and a runtime per call: `docs/adr/0003-javascript-engine.md`.
//! This crate does no I/O and depends on no storage or network crate: node
//! implementations (in `flowforge-nodes`) call it.
//!
//! Layout: `sandbox` (one limited QuickJS runtime and context per call, with
//! the `$` variables and the JS prelude in `js/`), `expression` (finding and
//! evaluating `{{ … }}` in parameters), `code` (the Code node's result
//! shape), `context` (what `$json`, `$input`, `$node`, `$now` … show),
//! `imports` (refusing `import()`), `limits` and `error`.

#![forbid(unsafe_code)]

mod code;
mod context;
mod error;
mod expression;
mod imports;
mod limits;
mod sandbox;

use serde_json::Value;

pub use context::{ExpressionContext, Item, NodeOutputs};
pub use error::ScriptError;
pub use limits::ScriptLimits;

use expression::Evaluator;
use sandbox::{Purpose, Sandbox, Session};

/// Evaluates expressions and runs Code nodes, each call in a fresh, limited
/// QuickJS runtime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpressionEngine {
    expression_limits: ScriptLimits,
    code_limits: ScriptLimits,
}

impl ExpressionEngine {
    /// An engine with the default limits: [`ScriptLimits::expression`] for
    /// expressions and [`ScriptLimits::code`] for the Code node.
    pub const fn new() -> Self {
        Self {
            expression_limits: ScriptLimits::expression(),
            code_limits: ScriptLimits::code(),
        }
    }

    /// The same engine with other limits for expressions.
    pub const fn with_expression_limits(self, limits: ScriptLimits) -> Self {
        Self {
            expression_limits: limits,
            ..self
        }
    }

    /// The same engine with other limits for the Code node.
    pub const fn with_code_limits(self, limits: ScriptLimits) -> Self {
        Self {
            code_limits: limits,
            ..self
        }
    }

    /// Limits applied to each expression.
    pub const fn expression_limits(&self) -> ScriptLimits {
        self.expression_limits
    }

    /// Limits applied to each Code node run.
    pub const fn code_limits(&self) -> ScriptLimits {
        self.code_limits
    }

    /// Evaluates every string in a node's `parameters`, keeping the shape of
    /// the tree (object keys are never evaluated). A string that is exactly
    /// one `{{ expr }}` becomes the JSON value of `expr`; text mixed with
    /// expressions becomes a string. Parameters without any `{{ … }}` come
    /// back unchanged without starting JavaScript. All expressions of one call
    /// share one QuickJS context (each sees fresh copies of the `$` variables);
    /// each gets the full expression timeout.
    ///
    /// # Errors
    /// The first expression's failure: [`ScriptError::Script`] naming the
    /// parameter, [`ScriptError::Timeout`] or [`ScriptError::OutOfMemory`].
    pub fn evaluate_parameters(
        &self,
        params: &Value,
        ctx: &ExpressionContext,
    ) -> Result<Value, ScriptError> {
        if !expression::has_expressions(params) {
            return Ok(params.clone());
        }
        let sandbox = Sandbox::new(Purpose::Expressions, self.expression_limits, ctx)?;
        sandbox.enter(|session| expression::evaluate_value(session, params, &mut String::new()))
    }

    /// Evaluates one JavaScript expression (without the `{{ }}`) to its JSON
    /// value: `undefined` becomes `null`, a `Date` its ISO 8601 string.
    /// Source that is not an expression runs as statements and yields its
    /// completion value (`if (a) { 1 } else { 2 }`).
    ///
    /// # Errors
    /// [`ScriptError::Script`], [`ScriptError::Timeout`] or [`ScriptError::OutOfMemory`].
    pub fn evaluate(&self, expr: &str, ctx: &ExpressionContext) -> Result<Value, ScriptError> {
        let sandbox = Sandbox::new(Purpose::Expressions, self.expression_limits, ctx)?;
        let json = sandbox.enter(|session| session.evaluate(expr, false))?;
        serde_json::from_str(&json).map_err(|e| ScriptError::Engine {
            message: format!("expression result is not JSON: {e}"),
        })
    }

    /// Runs a Code node: `js` is an async function body that sees `items`
    /// (`[{json: {...}}]`, one per input item) and the `$` variables of `ctx`,
    /// with `$input` standing for `items`. It may `await`, and its promise is
    /// awaited within the time limit. It must return an array of items,
    /// `{json: {...}}` or plain objects (taken as the `json`); a single object
    /// counts as one item. Returns each item's `json`.
    ///
    /// # Errors
    /// [`ScriptError::InvalidCodeResult`] for a wrong return shape,
    /// [`ScriptError::Script`] for a throw or rejection (`import()` is
    /// rejected), [`ScriptError::PromiseNeverSettled`],
    /// [`ScriptError::Timeout`] or [`ScriptError::OutOfMemory`] (with the
    /// Code node limits).
    pub fn run_code(
        &self,
        js: &str,
        items: Vec<Item>,
        ctx: &ExpressionContext,
    ) -> Result<Vec<Item>, ScriptError> {
        let items_json = Value::Array(items.into_iter().map(Value::Object).collect()).to_string();
        let sandbox = Sandbox::new(Purpose::Code, self.code_limits, ctx)?;
        let result = sandbox.enter(|session| session.run_code(js, &items_json))?;
        code::items_from_result(result.as_deref())
    }
}

impl Evaluator for Session<'_, '_> {
    fn evaluate(&self, source: &str, as_text: bool) -> Result<String, ScriptError> {
        Session::evaluate(self, source, as_text)
    }
}
