//! How large a workflow definition may be: how many nodes, how many bytes once
//! serialised, how many connections may leave one node. A definition past one
//! of them is refused when it is parsed, so a workflow that exists fits them.
//! The values come from configuration; [`WorkflowLimits::default`] holds the
//! defaults, and each limit is named by [`WorkflowLimit`] so an edge can tell
//! the user which setting to raise.

use std::fmt;

/// The size bounds a definition must fit to be parsed (see
/// [`WorkflowDefinition::parse_within`](super::WorkflowDefinition::parse_within)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkflowLimits {
    /// The most nodes a workflow may have (compensations not counted).
    pub max_nodes: usize,
    /// The most bytes the definition may take, serialised as compact JSON.
    pub max_definition_bytes: usize,
    /// The most connections that may leave one node, over all its outputs.
    pub max_fan_out: usize,
}

impl WorkflowLimits {
    /// The default [`max_nodes`](Self::max_nodes).
    pub const DEFAULT_MAX_NODES: usize = 1_000;
    /// The default [`max_definition_bytes`](Self::max_definition_bytes): 1 MiB.
    pub const DEFAULT_MAX_DEFINITION_BYTES: usize = 1024 * 1024;
    /// The default [`max_fan_out`](Self::max_fan_out).
    pub const DEFAULT_MAX_FAN_OUT: usize = 100;

    /// No bound at all: for reading back what history holds and for tests of
    /// the structural checks on very large graphs. Never for user input.
    pub const fn unlimited() -> Self {
        Self {
            max_nodes: usize::MAX,
            max_definition_bytes: usize::MAX,
            max_fan_out: usize::MAX,
        }
    }
}

impl Default for WorkflowLimits {
    /// 1,000 nodes, 1 MiB, 100 connections out of one node.
    fn default() -> Self {
        Self {
            max_nodes: Self::DEFAULT_MAX_NODES,
            max_definition_bytes: Self::DEFAULT_MAX_DEFINITION_BYTES,
            max_fan_out: Self::DEFAULT_MAX_FAN_OUT,
        }
    }
}

/// One of the [`WorkflowLimits`], to name it in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkflowLimit {
    /// [`WorkflowLimits::max_nodes`].
    Nodes,
    /// [`WorkflowLimits::max_definition_bytes`].
    DefinitionBytes,
    /// [`WorkflowLimits::max_fan_out`].
    FanOut,
}

impl WorkflowLimit {
    /// A stable snake_case name, for error details.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Nodes => "max_nodes",
            Self::DefinitionBytes => "max_definition_bytes",
            Self::FanOut => "max_fan_out",
        }
    }
}

impl fmt::Display for WorkflowLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts the bytes written to it and keeps none: measures a serialisation
/// without holding a second copy of the definition in memory.
#[derive(Debug, Default)]
pub(crate) struct ByteCounter(pub(crate) usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
