//! Resource limits for one JavaScript evaluation.
//!
//! Every expression walk and every Code node run gets a fresh QuickJS runtime
//! with these limits: a wall-clock deadline enforced by the interrupt handler,
//! a heap cap enforced by QuickJS's allocator, and a cap on the JavaScript
//! stack. Hitting one fails that evaluation only; the process carries on.

use std::time::Duration;

/// Time, memory and stack limits applied to one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptLimits {
    /// Wall-clock budget. Expressions: per expression; Code node: per run.
    pub timeout: Duration,
    /// Upper bound of the QuickJS heap, in bytes, including the injected context.
    pub memory_bytes: usize,
    /// Upper bound of the JavaScript stack, in bytes. Deeper recursion throws a
    /// `RangeError`. Keep it well below the calling thread's stack size (2 MiB
    /// for Rust and tokio threads by default).
    pub max_stack_bytes: usize,
}

impl ScriptLimits {
    /// Default wall-clock budget of one expression.
    pub const EXPRESSION_TIMEOUT: Duration = Duration::from_secs(1);
    /// Default wall-clock budget of one Code node run.
    pub const CODE_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default heap cap: 32 MiB.
    pub const MEMORY_BYTES: usize = 32 * 1024 * 1024;
    /// Default JavaScript stack cap: 512 KiB.
    pub const MAX_STACK_BYTES: usize = 512 * 1024;

    /// Limits for `{{ … }}` expressions: 1 s, 32 MiB, 512 KiB of stack.
    pub const fn expression() -> Self {
        Self {
            timeout: Self::EXPRESSION_TIMEOUT,
            memory_bytes: Self::MEMORY_BYTES,
            max_stack_bytes: Self::MAX_STACK_BYTES,
        }
    }

    /// Limits for the Code node: 5 s, 32 MiB, 512 KiB of stack.
    pub const fn code() -> Self {
        Self {
            timeout: Self::CODE_TIMEOUT,
            ..Self::expression()
        }
    }

    /// The same limits with another wall-clock budget.
    pub const fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// The same limits with another heap cap.
    pub const fn with_memory_bytes(self, memory_bytes: usize) -> Self {
        Self {
            memory_bytes,
            ..self
        }
    }

    /// The same limits with another stack cap.
    pub const fn with_max_stack_bytes(self, max_stack_bytes: usize) -> Self {
        Self {
            max_stack_bytes,
            ..self
        }
    }
}

impl Default for ScriptLimits {
    /// The expression limits.
    fn default() -> Self {
        Self::expression()
    }
}
