//! The ExecutionTree aggregate: one per root execution that starts sub-workflows,
//! counting every execution started under it, at any depth. Each sub-workflow
//! start is admitted here before it is recorded; the store's optimistic
//! concurrency on this one stream keeps the count exact however many starters
//! race, and a restart reads it back from the log. Past the limit (which comes
//! with the command, from configuration) the start is refused, so a workflow
//! that starts itself twice without waiting stops instead of growing forever.
//!
//! The count lives in its own stream rather than the root execution's: the
//! root usually finishes long before its descendants do, and nothing may
//! follow an execution's final event.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::{
    aggregate::{Aggregate, DomainEvent},
    execution::ExecutionId,
};

/// The default bound on the descendants of one root execution.
pub const DEFAULT_MAX_DESCENDANTS: u32 = 1_000;

/// What a sub-workflow starter asks of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionTreeCommand {
    /// Counts `execution_id` as a descendant of `root`, unless the tree
    /// already holds `limit` descendants. Admitting the same execution again
    /// records nothing, so a retried start is not counted twice.
    AdmitDescendant {
        /// The root execution (the stream's id).
        root: ExecutionId,
        /// The execution about to be started.
        execution_id: ExecutionId,
        /// The execution starting it.
        parent: ExecutionId,
        /// The most descendants the tree may hold.
        limit: u32,
    },
}

/// What happened to an execution tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ExecutionTreeEvent {
    /// One more execution was admitted under the root.
    #[serde(rename = "DescendantAdmitted")]
    DescendantAdmitted {
        /// The root execution.
        root: ExecutionId,
        /// The admitted execution.
        execution_id: ExecutionId,
        /// The execution that starts it.
        parent: ExecutionId,
        /// How many descendants the tree holds with this one.
        descendants: u32,
    },
}

impl DomainEvent for ExecutionTreeEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::DescendantAdmitted { .. } => "DescendantAdmitted",
        }
    }
}

/// Why a descendant was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionTreeError {
    /// The tree holds as many descendants as the limit allows.
    #[error("execution tree under root {root} reached {limit} descendants")]
    TooManyDescendants {
        /// The root execution.
        root: ExecutionId,
        /// The limit that was reached.
        limit: u32,
    },
}

/// One root's tree: which executions were admitted under it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionTree {
    admitted: HashSet<ExecutionId>,
}

impl ExecutionTree {
    /// How many descendants were admitted.
    pub fn descendants(&self) -> usize {
        self.admitted.len()
    }

    /// Whether `execution_id` was admitted.
    pub fn admitted(&self, execution_id: ExecutionId) -> bool {
        self.admitted.contains(&execution_id)
    }
}

impl Aggregate for ExecutionTree {
    const TYPE: &'static str = "execution_tree";
    type Command = ExecutionTreeCommand;
    type Event = ExecutionTreeEvent;
    type Error = ExecutionTreeError;

    fn handle(
        &self,
        command: ExecutionTreeCommand,
    ) -> Result<Vec<ExecutionTreeEvent>, ExecutionTreeError> {
        let ExecutionTreeCommand::AdmitDescendant {
            root,
            execution_id,
            parent,
            limit,
        } = command;
        if self.admitted(execution_id) {
            return Ok(vec![]);
        }
        let descendants = u32::try_from(self.descendants()).unwrap_or(u32::MAX);
        if descendants >= limit {
            return Err(ExecutionTreeError::TooManyDescendants { root, limit });
        }
        Ok(vec![ExecutionTreeEvent::DescendantAdmitted {
            root,
            execution_id,
            parent,
            descendants: descendants + 1,
        }])
    }

    fn apply(&mut self, event: ExecutionTreeEvent) {
        let ExecutionTreeEvent::DescendantAdmitted { execution_id, .. } = event;
        self.admitted.insert(execution_id);
    }
}
