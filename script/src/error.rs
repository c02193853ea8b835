//! The one error type of the script crate.
//!
//! Callers (the Set/If/Switch/Code nodes) turn any of these into a failed node
//! run; none of them is fatal to the process. `Timeout` and `OutOfMemory` are
//! kept apart from `Script` so the node's error can say which limit was hit.

use std::time::Duration;

/// Why an expression or a Code node run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// The script ran past its wall-clock budget and was interrupted.
    #[error("JavaScript ran longer than the {}ms limit and was stopped", timeout.as_millis())]
    Timeout {
        /// The budget that was exceeded.
        timeout: Duration,
    },
    /// A Code node's promise was still pending when nothing was left to run
    /// that could settle it: the sandbox has no timers or I/O, so it never
    /// would. Reported at once rather than after waiting out the time limit.
    #[error(
        "the Code node's promise never settled: nothing left to run could resolve or reject it \
         (the Code node has no timers or I/O), so it would run past any time limit"
    )]
    PromiseNeverSettled,
    /// The script tried to allocate past the heap cap.
    #[error("JavaScript ran out of memory (limit {limit_bytes} bytes)")]
    OutOfMemory {
        /// The heap cap that was hit.
        limit_bytes: usize,
    },
    /// The script threw, or did not parse: `message` is the JavaScript error
    /// (`TypeError: …`, `SyntaxError: …`, `RangeError: Maximum call stack size exceeded`).
    #[error("{message}")]
    Script {
        /// The JavaScript error as `Name: message`, with where it happened when known.
        message: String,
    },
    /// A Code node returned something that is not a list of items.
    #[error("Code node returned an invalid result: {message}")]
    InvalidCodeResult {
        /// What is wrong with the returned value, and where.
        message: String,
    },
    /// The caller built an [`ExpressionContext`](crate::ExpressionContext) from bad input.
    #[error("invalid expression context: {message}")]
    InvalidContext {
        /// Which input was bad and why.
        message: String,
    },
    /// QuickJS itself failed in a way no script should be able to cause.
    #[error("JavaScript engine failure: {message}")]
    Engine {
        /// What the engine reported.
        message: String,
    },
}
