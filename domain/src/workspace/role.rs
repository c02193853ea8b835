//! What a member (or an API key) may do in a workspace: five roles, each
//! allowing a set of permissions. Routes ask for a permission, never for a
//! role, so the policy lives here and only here.

use serde::{Deserialize, Serialize};

/// A member's (or an API key's) role in a workspace.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::Display,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// Everything, including making and removing owners.
    Owner,
    /// Everything but the owners: members, invitations, API keys.
    Admin,
    /// Builds and runs workflows, operates executions and sagas.
    Editor,
    /// Reads everything, changes nothing.
    Viewer,
    /// Starts executions and nothing else (for callers that only trigger).
    Runner,
}

/// Something a request needs to be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::Display)]
#[strum(serialize_all = "snake_case")]
pub enum Permission {
    /// Read workflows, executions, sagas, events, the audit log.
    Read,
    /// Start an execution of a workflow.
    Run,
    /// Create and change workflows; cancel, retry, resume executions and sagas.
    Edit,
    /// Manage members (not owners), invitations and API keys.
    Administer,
    /// Grant or take away the owner role.
    Own,
}

impl Role {
    /// Whether this role may do `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::{Administer, Edit, Read, Run};
        match self {
            Self::Owner => true,
            Self::Admin => matches!(permission, Read | Run | Edit | Administer),
            Self::Editor => matches!(permission, Read | Run | Edit),
            Self::Viewer => matches!(permission, Read),
            Self::Runner => matches!(permission, Run),
        }
    }

    /// The permission needed to hand this role out (or take it away).
    pub fn granted_with(self) -> Permission {
        match self {
            Self::Owner => Permission::Own,
            _ => Permission::Administer,
        }
    }
}
