//! FlowForge's domain: aggregates, their commands and events, and the workflow
//! definition model with its validation. Everything here is pure — decisions are
//! functions of (state, command) and (state, event) — so it is tested without a
//! database and replayed identically by any process.
//!
//! Layout: [`aggregate`] is the shape every aggregate shares (`handle` decides,
//! `apply` remembers) and the event codec. Each of the next modules is one
//! aggregate with its commands, events and errors: [`workflow`] (with the
//! definition model: raw form, validation, node types, limits), [`execution`]
//! (one run of a workflow, with the [`execution::plan`] that decides its next
//! step from its history), [`execution_tree`] (counts the sub-workflows started
//! under a root execution), [`saga`] (records compensable steps and undoes
//! them), [`schedule`] (one instance wins each tick), [`webhook_path`] (one
//! owner per webhook route), [`user`] (an account, its sessions and their
//! rotating refresh tokens), [`workspace`] (members with roles,
//! invitations, API keys, and the installation's first owner) and
//! [`credential`] (a workspace's credentials, sealed) and [`variable`] (a
//! workspace's `$vars`). The private
//! `uuid_id` gives the workflow and execution ids their shared shape; [`testing`] is the given/when/then harness
//! the tests use.
#![forbid(unsafe_code)]

pub mod aggregate;
pub mod credential;
pub mod execution;
pub mod execution_tree;
pub mod saga;
pub mod schedule;
pub mod testing;
pub mod user;
mod uuid_id;
pub mod variable;
pub mod webhook_path;
pub mod workflow;
pub mod workspace;

pub use aggregate::{decode_event, encode_event, Aggregate, DomainEvent, EventCodecError};
pub use testing::AggregateTester;
pub use workflow::{
    DefinitionError, NodeType, RawWorkflowDefinition, Workflow, WorkflowCommand,
    WorkflowDefinition, WorkflowError, WorkflowEvent, WorkflowId,
};
