//! The node library: every node type FlowForge can run, behind the one port
//! the runtime calls ([`NodeExecutor`]). It knows nothing of storage: what a
//! node needs from the runtime (start a sub-workflow, publish a message) it
//! asks through the traits in [`ports`], which the runtime implements. This
//! crate must not depend on sqlx, async-nats, `flowforge-infra` or
//! `flowforge-commands` (CI checks it with `cargo tree`).
//!
//! Layout: `executor` (the port: [`NodeExecutor`], [`NodeRunRequest`],
//! [`NodeOutcome`]), `registry` (the [`NodeRegistry`] that runs a node by its
//! type, and [`NodeBehaviour`], what one node type implements), `builtin` (one
//! module per node type), [`ports`] (what nodes need from the runtime) and
//! [`resume`] (the secret resume links of Wait nodes); `credential_tokens`
//! turns OAuth 2.0 credentials into access tokens. Expressions and the
//! Code node run in `flowforge_script`.
#![forbid(unsafe_code)]

mod builtin;
mod credential_tokens;
mod executor;
pub mod ports;
mod redaction;
mod registry;
pub mod resume;

pub use executor::{NodeExecutor, NodeOutcome, NodeRunRequest};
pub use ports::{
    CallBudget, CredentialSource, MessagePublisher, PublishError, SubWorkflows, VariableSource,
};
pub use registry::{NodeBehaviour, NodeRegistry, NodeRun, DEFAULT_MAX_ITEMS_PER_NODE};
