//! FlowForge's domain: aggregates, their commands and events, and the workflow
//! definition model with its validation. Everything here is pure — decisions are
//! functions of (state, command) and (state, event) — so it is tested without a
//! database and replayed identically by any process.
#![forbid(unsafe_code)]

pub mod aggregate;
pub mod execution;
pub mod execution_tree;
pub mod saga;
pub mod schedule;
pub mod testing;
mod uuid_id;
pub mod webhook_path;
pub mod workflow;

pub use aggregate::{decode_event, encode_event, Aggregate, DomainEvent, EventCodecError};
pub use testing::AggregateTester;
pub use workflow::{
    DefinitionError, NodeType, RawWorkflowDefinition, Workflow, WorkflowCommand,
    WorkflowDefinition, WorkflowError, WorkflowEvent, WorkflowId,
};
