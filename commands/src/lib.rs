//! Command handling, the write side's one path: load an aggregate from its stream,
//! let it decide, append the events with optimistic concurrency. The API and the
//! process managers both go through [`CommandBus`]. [`workflow_lifecycle`] runs
//! the workflow life-cycle commands that must keep webhook routes unique.
//!
//! Layout: `command_bus` (load → decide → append, with conflict retries),
//! `aggregate_cache` (recently used aggregates, so a step reads only newer
//! events), [`workflow_lifecycle`], [`accounts`] (register, sign in,
//! refresh, sign out: passwords hashed with Argon2id, refresh tokens rotated),
//! [`workspaces`] (members, invitations, API keys, the first owner),
//! [`credentials`] (the vault: a workspace's credentials, sealed) and
//! [`variables`] (a workspace's `$vars`);
//! `opaque_secret` is the random part of every token handed out and
//! `unix_time` the clock in epoch seconds.
#![forbid(unsafe_code)]

pub mod accounts;
mod aggregate_cache;
mod command_bus;
pub mod credentials;
mod opaque_secret;
mod unix_time;
pub mod variables;
pub mod workflow_lifecycle;
pub mod workspaces;

pub use command_bus::{CommandBus, CommandError, CommandOutcome};
