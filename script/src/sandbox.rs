//! One QuickJS runtime with FlowForge's limits and `$` variables.
//!
//! A [`Sandbox`] lives for one `evaluate_parameters`, `evaluate` or `run_code`
//! call and is dropped afterwards: a runtime costs under 10 µs and a context
//! about 40 µs (see `docs/adr/0003-javascript-engine.md`), and a fresh one per
//! call means
//! nothing survives a timeout, an out-of-memory error or a hostile script, and
//! the engine type stays `Send + Sync` without locking.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use rquickjs::context::intrinsic;
use rquickjs::{Context, Ctx, Exception, Function, Object, Promise, Runtime};
use serde::Serialize;

use crate::context::{Item, NodeOutputs};
use crate::imports::RefuseModules;
use crate::{ExpressionContext, ScriptError, ScriptLimits};

const PRELUDE: &str = include_str!("js/prelude.js");
const DATA: &str = include_str!("js/data.js");

/// Wall-clock budget of the current evaluation, checked by QuickJS's interrupt
/// handler every few thousand bytecode instructions.
#[derive(Debug)]
struct Deadline {
    at: Cell<Instant>,
    fired: Cell<bool>,
}

impl Deadline {
    fn expired(&self) -> bool {
        if Instant::now() >= self.at.get() {
            self.fired.set(true);
        }
        self.fired.get()
    }
}

/// What a sandbox is for, which decides the JavaScript built-ins it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// `{{ … }}` expressions: the language, `Date`, `RegExp`, `JSON`, `Proxy`,
    /// `Map`/`Set`, `Promise`. Leaving out typed arrays, `WeakRef` and
    /// `performance` makes each context cheaper. `Promise` must stay: without
    /// it an async function or `import()` leaves objects QuickJS cannot free,
    /// and freeing the runtime then aborts the whole process.
    Expressions,
    /// The Code node: every built-in QuickJS has. It runs once per node, so
    /// the context's cost does not matter.
    Code,
}

/// A QuickJS runtime and context prepared for one caller's [`ExpressionContext`].
pub(crate) struct Sandbox {
    // Owns its runtime (and through it the interrupt handler).
    context: Context,
    deadline: Rc<Deadline>,
    purpose: Purpose,
    limits: ScriptLimits,
    meta: String,
    input_items: Arc<Vec<Item>>,
    node_outputs: Arc<BTreeMap<String, NodeOutputs>>,
}

impl Sandbox {
    /// Creates a runtime with `limits` for evaluations over `ctx`.
    pub(crate) fn new(
        purpose: Purpose,
        limits: ScriptLimits,
        ctx: &ExpressionContext,
    ) -> Result<Self, ScriptError> {
        let runtime = Runtime::new().map_err(|e| engine_failure(&limits, &e))?;
        runtime.set_memory_limit(limits.memory_bytes);
        runtime.set_max_stack_size(limits.max_stack_bytes);
        let deadline = Rc::new(Deadline {
            at: Cell::new(Instant::now() + limits.timeout),
            fired: Cell::new(false),
        });
        let handler_deadline = Rc::clone(&deadline);
        runtime.set_interrupt_handler(Some(Box::new(move || handler_deadline.expired())));
        if purpose == Purpose::Code {
            // Without a loader `import()` never settles; with this one it is
            // rejected when the job queue runs. Expressions never run it.
            runtime.set_loader(RefuseModules, RefuseModules);
        }
        let context = match purpose {
            Purpose::Expressions => Context::custom::<(
                intrinsic::Date,
                intrinsic::Eval,
                intrinsic::RegExpCompiler,
                intrinsic::RegExp,
                intrinsic::Json,
                intrinsic::Proxy,
                intrinsic::MapSet,
                intrinsic::Promise,
            )>(&runtime),
            Purpose::Code => Context::full(&runtime),
        }
        .map_err(|e| engine_failure(&limits, &e))?;
        Ok(Self {
            context,
            deadline,
            purpose,
            limits,
            meta: meta_json(ctx)?,
            input_items: ctx.shared_input_items(),
            node_outputs: ctx.shared_node_outputs(),
        })
    }

    /// Runs `f` with the prelude's entry points. Everything JavaScript happens
    /// inside this call.
    pub(crate) fn enter<R>(
        &self,
        f: impl FnOnce(&Session<'_, '_>) -> Result<R, ScriptError>,
    ) -> Result<R, ScriptError> {
        self.context.with(|js| {
            let session = Session {
                ctx: js.clone(),
                sandbox: self,
                entry: None,
            };
            let entry = session.guard(|| self.install(&js))?;
            f(&Session {
                entry: Some(entry),
                ..session
            })
        })
    }

    fn install<'js>(&self, js: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
        let input_items = Arc::clone(&self.input_items);
        let node_outputs = Arc::clone(&self.node_outputs);
        // Serialises what an expression asked for, when it asks for it.
        let fetch = Function::new(js.clone(), move |kind: String, name: String| {
            match kind.as_str() {
                "input" => serde_json::to_string(&*input_items).ok(),
                "node" => node_outputs
                    .get(&name)
                    .and_then(|outputs| serde_json::to_string(outputs).ok()),
                _ => None,
            }
        })?;
        let prelude: Function = js.eval(PRELUDE)?;
        prelude.call((js.globals(), fetch, self.meta.as_str(), DATA))
    }
}

/// The prelude's entry points inside an entered [`Sandbox`].
pub(crate) struct Session<'s, 'js> {
    ctx: Ctx<'js>,
    sandbox: &'s Sandbox,
    entry: Option<Object<'js>>,
}

impl<'js> Session<'_, 'js> {
    /// Evaluates one expression; returns its value as JSON text, or as text for
    /// interpolation when `as_text`.
    pub(crate) fn evaluate(&self, source: &str, as_text: bool) -> Result<String, ScriptError> {
        self.guard(|| {
            let evaluate: Function = self.entry()?.get("evaluate")?;
            evaluate.call((source, as_text))
        })
    }

    /// Runs a Code node body over `items_json` and waits for it to finish,
    /// `await`s included; returns the JSON text of what it returned, or
    /// `None` when it returned nothing.
    pub(crate) fn run_code(
        &self,
        source: &str,
        items_json: &str,
    ) -> Result<Option<String>, ScriptError> {
        self.guard(|| {
            let run_code: Function = self.entry()?.get("runCode")?;
            let finished: Promise = run_code.call((source, items_json))?;
            // Runs QuickJS's job queue until the promise settles. Jobs are
            // bytecode like any other, so the interrupt handler still stops
            // them at the deadline. An empty queue under a pending promise is
            // `WouldBlock`: the sandbox has no timers or I/O, so nothing could
            // settle it later.
            finished.finish()
        })
    }

    fn entry(&self) -> rquickjs::Result<&Object<'js>> {
        self.entry.as_ref().ok_or(rquickjs::Error::Unknown)
    }

    /// Runs `f` under a fresh deadline and turns QuickJS's failure into ours.
    fn guard<T>(&self, f: impl FnOnce() -> rquickjs::Result<T>) -> Result<T, ScriptError> {
        let deadline = &self.sandbox.deadline;
        deadline.fired.set(false);
        deadline
            .at
            .set(Instant::now() + self.sandbox.limits.timeout);
        f().map_err(|error| self.classify(&error))
    }

    fn classify(&self, error: &rquickjs::Error) -> ScriptError {
        let limits = &self.sandbox.limits;
        if self.sandbox.deadline.fired.get() {
            // Also drop the pending "interrupted" exception.
            let _ = self.ctx.catch();
            return ScriptError::Timeout {
                timeout: limits.timeout,
            };
        }
        match error {
            rquickjs::Error::WouldBlock => ScriptError::PromiseNeverSettled,
            rquickjs::Error::Exception => {
                let thrown = self.ctx.catch();
                match thrown.as_object().cloned().and_then(Exception::from_object) {
                    Some(exception) => {
                        let name: Option<String> = exception.get("name").ok();
                        let message = exception.message().unwrap_or_default();
                        if name.as_deref() == Some("InternalError") && message == "out of memory" {
                            return ScriptError::OutOfMemory {
                                limit_bytes: limits.memory_bytes,
                            };
                        }
                        let message = match name {
                            Some(name) if !name.is_empty() => format!("{name}: {message}"),
                            _ => message,
                        };
                        let message = match self.sandbox.purpose {
                            Purpose::Code => with_line(message, exception.stack()),
                            // An expression is one line: a position in it says nothing.
                            Purpose::Expressions => message,
                        };
                        ScriptError::Script { message }
                    }
                    None => ScriptError::Script {
                        message: format!("uncaught exception: {}", describe(&self.ctx, thrown)),
                    },
                }
            }
            other => engine_failure(limits, other),
        }
    }
}

/// QuickJS failures that are not a script's exception: allocation failures
/// count as out of memory, the rest are engine errors.
fn engine_failure(limits: &ScriptLimits, error: &rquickjs::Error) -> ScriptError {
    match error {
        rquickjs::Error::Allocation => ScriptError::OutOfMemory {
            limit_bytes: limits.memory_bytes,
        },
        other => ScriptError::Engine {
            message: other.to_string(),
        },
    }
}

/// A thrown non-Error value as text: strings as they are, the rest as JSON.
fn describe<'js>(ctx: &Ctx<'js>, value: rquickjs::Value<'js>) -> String {
    if let Some(text) = value.as_string().and_then(|s| s.to_string().ok()) {
        return text;
    }
    ctx.json_stringify(value)
        .ok()
        .flatten()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| "a value that cannot be shown".to_owned())
}

/// Appends the Code node line the error happened on, from the innermost
/// stack frame in user code. `new Function` bodies are the `<input>` frames,
/// starting after a two-line header.
fn with_line(message: String, stack: Option<String>) -> String {
    const HEADER_LINES: usize = 2;
    let line = stack.as_deref().and_then(|stack| {
        stack.lines().find_map(|frame| {
            let start = frame.find("<input>:")? + "<input>:".len();
            let digits: String = frame[start..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<usize>().ok()?.checked_sub(HEADER_LINES)
        })
    });
    match line {
        Some(line) if line > 0 => format!("{message} (line {line})"),
        _ => message,
    }
}

/// The small, eager part of the context, as the prelude reads it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    json: &'a Item,
    item_index: usize,
    execution_id: Option<&'a str>,
    resume_url: Option<&'a str>,
    workflow_id: Option<&'a str>,
    now_ms: Option<i64>,
    today_ms: Option<i64>,
    vars: &'a serde_json::Map<String, serde_json::Value>,
    env: Option<&'a BTreeMap<String, String>>,
}

/// [`Meta`] as JSON text for the prelude.
fn meta_json(ctx: &ExpressionContext) -> Result<String, ScriptError> {
    let now_ms = ctx.now().map(|now| now.timestamp_millis());
    let today_ms = ctx.now().and_then(|now| {
        now.date_naive()
            .and_hms_opt(0, 0, 0)?
            .and_local_timezone(*now.offset())
            .single()
            .map(|midnight| midnight.timestamp_millis())
    });
    let meta = Meta {
        json: ctx.json(),
        item_index: ctx.item_index(),
        execution_id: ctx.execution_id(),
        resume_url: ctx.resume_url(),
        workflow_id: ctx.workflow_id(),
        now_ms,
        today_ms,
        vars: ctx.vars(),
        env: ctx.env(),
    };
    serde_json::to_string(&meta).map_err(|e| ScriptError::Engine {
        message: format!("cannot serialise the expression context: {e}"),
    })
}
