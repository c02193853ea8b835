//! The `Workspace` aggregate: the unit everything else belongs to (the
//! specification's organisation). It keeps its members and their roles,
//! the invitations still open and its API keys (only as hashes), and it
//! decides who may hand out which role: an admin manages members and keys,
//! only an owner makes or unmakes owners, and the last owner stays.
//!
//! Layout: `role` (roles and the permissions each allows: the whole access
//! policy), `commands`, `events`, `errors`, `aggregate` (state and
//! decisions), and `first_owner` (the `FirstOwner` aggregate: the one
//! account that set the installation up).

mod aggregate;
mod commands;
mod errors;
mod events;
mod first_owner;
mod role;

pub use aggregate::{ApiKey, Invitation, Workspace, API_KEY_USE_PRECISION};
pub use commands::{NewApiKey, WorkspaceCommand};
pub use errors::{InvalidWorkspaceId, WorkspaceError};
pub use events::WorkspaceEvent;
pub use first_owner::{ClaimFirstOwner, FirstOwner, FirstOwnerEvent, FIRST_OWNER_STREAM};
pub use role::{Permission, Role};

crate::uuid_id!(
    /// Identifies one workspace; serialises as a bare UUID string.
    WorkspaceId,
    InvalidWorkspaceId
);

crate::uuid_id!(
    /// Identifies one invitation to a workspace.
    InvitationId,
    InvalidWorkspaceId
);

crate::uuid_id!(
    /// Identifies one API key of a workspace.
    ApiKeyId,
    InvalidWorkspaceId
);
