//! Workflows: the n8n-shaped definition model and its validation
//! ([`RawWorkflowDefinition`] → [`WorkflowDefinition`], within [`WorkflowLimits`]),
//! the node types, and the [`Workflow`] aggregate with its commands, events and
//! errors. The API parses user JSON into a definition here; the command layer
//! runs the aggregate; the orchestrator walks the definition's graph.

mod aggregate;
mod commands;
mod definition;
mod errors;
mod events;
mod id;
mod limits;
mod node_type;
mod settings;

pub use aggregate::{Workflow, WorkflowStatus, MAX_TAGS, MAX_TAG_CHARS};
pub use commands::WorkflowCommand;
pub use definition::{
    Backoff, Connection, ConnectionTarget, Node, NodeConnections, RawNode, RawWorkflowDefinition,
    RetryPolicy, WorkflowDefinition,
};
pub use errors::{
    DefinitionError, ExceededLimit, InvalidTagReason, InvalidWorkflowId, UnknownNodeType,
    WorkflowError,
};
pub use events::WorkflowEvent;
pub use id::WorkflowId;
pub use limits::{WorkflowLimit, WorkflowLimits};
pub use node_type::NodeType;
pub use settings::{
    WorkflowSettings, ERROR_WORKFLOW, EXECUTION_TIMEOUT_MS, MAX_CONCURRENT_EXECUTIONS,
    MAX_EXECUTION_TIMEOUT_MS,
};
