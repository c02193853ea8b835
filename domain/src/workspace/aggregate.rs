//! The workspace's state and its decisions.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{
    ApiKeyId, InvitationId, NewApiKey, Permission, Role, WorkspaceCommand, WorkspaceError,
    WorkspaceEvent, WorkspaceId,
};
use crate::{aggregate::Aggregate, user::UserId};

/// The longest workspace or API key name.
const MAX_NAME_CHARS: usize = 100;

/// How precisely an API key's last use is kept: a use within this long of
/// the recorded one records nothing, so a busy key does not write an event
/// per request.
pub const API_KEY_USE_PRECISION: Duration = Duration::minutes(10);

/// An invitation not yet taken up.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    /// The address invited.
    pub email: String,
    /// The role offered.
    pub role: Role,
    /// SHA-256 of its token.
    token_hash: String,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
}

/// An API key of the workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    /// What it is for.
    pub name: String,
    /// The role it acts with.
    pub role: Role,
    /// SHA-256 of its secret.
    secret_hash: String,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Who created it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to [`API_KEY_USE_PRECISION`]).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether a secret with this SHA-256 hash is this key's, and the key
    /// still works at `now`.
    pub fn accepts(&self, secret_hash: &str, now: DateTime<Utc>) -> bool {
        hashes_match(&self.secret_hash, secret_hash) && self.expires_at.is_none_or(|at| at > now)
    }
}

/// Compares two hashes in time that depends only on their length.
fn hashes_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |difference, (x, y)| difference | (x ^ y))
            == 0
}

/// A workspace: its members with their roles, open invitations and API keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Workspace {
    id: Option<WorkspaceId>,
    name: String,
    members: BTreeMap<UserId, Role>,
    invitations: BTreeMap<InvitationId, Invitation>,
    api_keys: BTreeMap<ApiKeyId, ApiKey>,
}

impl Workspace {
    /// Whether the workspace exists.
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// Its id, once created.
    pub fn id(&self) -> Option<WorkspaceId> {
        self.id
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The members and their roles.
    pub fn members(&self) -> &BTreeMap<UserId, Role> {
        &self.members
    }

    /// The role of `user`, if a member.
    pub fn role_of(&self, user: UserId) -> Option<Role> {
        self.members.get(&user).copied()
    }

    /// Invitations not yet taken up (lapsed ones included).
    pub fn invitations(&self) -> &BTreeMap<InvitationId, Invitation> {
        &self.invitations
    }

    /// The keys that were not revoked (expired ones included).
    pub fn api_keys(&self) -> &BTreeMap<ApiKeyId, ApiKey> {
        &self.api_keys
    }

    fn existing(&self) -> Result<(), WorkspaceError> {
        if self.exists() {
            Ok(())
        } else {
            Err(WorkspaceError::NotFound)
        }
    }

    fn owners(&self) -> usize {
        self.members.values().filter(|r| **r == Role::Owner).count()
    }

    /// Whether `by` may move a member from `from` to `to` (or, with `to`
    /// `None`, out): both roles must be within what `by` hands out, and an
    /// owner stays.
    fn may_change(&self, from: Role, to: Option<Role>, by: Role) -> Result<(), WorkspaceError> {
        for role in std::iter::once(from).chain(to) {
            let needed = role.granted_with();
            if !by.allows(needed) {
                return Err(WorkspaceError::NotAllowed(needed));
            }
        }
        if from == Role::Owner && to != Some(Role::Owner) && self.owners() == 1 {
            return Err(WorkspaceError::LastOwner);
        }
        Ok(())
    }

    fn create(
        &self,
        workspace_id: WorkspaceId,
        name: &str,
        owner: UserId,
        at: DateTime<Utc>,
    ) -> Result<Vec<WorkspaceEvent>, WorkspaceError> {
        if self.exists() {
            return Err(WorkspaceError::AlreadyExists);
        }
        Ok(vec![WorkspaceEvent::Created {
            workspace_id,
            name: valid_name(name).ok_or(WorkspaceError::InvalidName)?,
            owner,
            at,
        }])
    }

    fn accept(
        &self,
        invitation_id: InvitationId,
        token_hash: &str,
        user_id: UserId,
        email: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<WorkspaceEvent>, WorkspaceError> {
        self.existing()?;
        let invitation = self
            .invitations
            .get(&invitation_id)
            .filter(|i| hashes_match(&i.token_hash, token_hash) && i.expires_at > at)
            .ok_or(WorkspaceError::InvalidInvitation(invitation_id))?;
        if invitation.email != email {
            return Err(WorkspaceError::InvitationForAnotherAddress);
        }
        if self.members.contains_key(&user_id) {
            return Err(WorkspaceError::AlreadyMember);
        }
        Ok(vec![WorkspaceEvent::MemberJoined {
            user_id,
            role: invitation.role,
            invitation_id,
            at,
        }])
    }

    fn issue_key(&self, key: NewApiKey) -> Result<Vec<WorkspaceEvent>, WorkspaceError> {
        let NewApiKey {
            key_id,
            name,
            role,
            secret_hash,
            expires_at,
            created_by,
            by,
            at,
        } = key;
        self.existing()?;
        if !by.allows(Permission::Administer) {
            return Err(WorkspaceError::NotAllowed(Permission::Administer));
        }
        if role == Role::Owner {
            return Err(WorkspaceError::OwnerKey);
        }
        if expires_at.is_some_and(|expiry| expiry <= at) {
            return Err(WorkspaceError::ExpiryInThePast);
        }
        Ok(vec![WorkspaceEvent::ApiKeyIssued {
            key_id,
            name: valid_name(&name).ok_or(WorkspaceError::InvalidKeyName)?,
            role,
            secret_hash,
            expires_at,
            created_by,
            at,
        }])
    }

    fn live_key(&self, key_id: ApiKeyId) -> Result<&ApiKey, WorkspaceError> {
        self.existing()?;
        self.api_keys
            .get(&key_id)
            .ok_or(WorkspaceError::NoSuchApiKey(key_id))
    }
}

/// The name trimmed, if it is 1 to [`MAX_NAME_CHARS`] characters.
fn valid_name(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS).then(|| name.to_owned())
}

impl Aggregate for Workspace {
    const TYPE: &'static str = "workspace";
    type Command = WorkspaceCommand;
    type Event = WorkspaceEvent;
    type Error = WorkspaceError;

    fn handle(&self, command: WorkspaceCommand) -> Result<Vec<WorkspaceEvent>, WorkspaceError> {
        match command {
            WorkspaceCommand::Create {
                workspace_id,
                name,
                owner,
                at,
            } => self.create(workspace_id, &name, owner, at),
            WorkspaceCommand::Invite {
                invitation_id,
                email,
                role,
                token_hash,
                expires_at,
                by,
                at,
            } => {
                self.existing()?;
                let needed = role.granted_with();
                if !by.allows(needed) {
                    return Err(WorkspaceError::NotAllowed(needed));
                }
                if expires_at <= at {
                    return Err(WorkspaceError::ExpiryInThePast);
                }
                Ok(vec![WorkspaceEvent::InvitationIssued {
                    invitation_id,
                    email,
                    role,
                    token_hash,
                    expires_at,
                    at,
                }])
            }
            WorkspaceCommand::AcceptInvitation {
                invitation_id,
                token_hash,
                user_id,
                email,
                at,
            } => self.accept(invitation_id, &token_hash, user_id, &email, at),
            WorkspaceCommand::ChangeRole { user_id, role, by } => {
                self.existing()?;
                let from = self
                    .role_of(user_id)
                    .ok_or(WorkspaceError::NoSuchMember(user_id))?;
                if from == role {
                    return Ok(Vec::new());
                }
                self.may_change(from, Some(role), by)?;
                Ok(vec![WorkspaceEvent::MemberRoleChanged { user_id, role }])
            }
            WorkspaceCommand::RemoveMember { user_id, by } => {
                self.existing()?;
                let from = self
                    .role_of(user_id)
                    .ok_or(WorkspaceError::NoSuchMember(user_id))?;
                self.may_change(from, None, by)?;
                Ok(vec![WorkspaceEvent::MemberRemoved { user_id }])
            }
            WorkspaceCommand::IssueApiKey(key) => self.issue_key(key),
            WorkspaceCommand::RecordApiKeyUse { key_id, at } => {
                let key = self.live_key(key_id)?;
                if key
                    .last_used_at
                    .is_some_and(|last| at - last < API_KEY_USE_PRECISION)
                {
                    return Ok(Vec::new());
                }
                Ok(vec![WorkspaceEvent::ApiKeyUsed { key_id, at }])
            }
            WorkspaceCommand::RevokeApiKey { key_id, at } => {
                self.live_key(key_id)?;
                Ok(vec![WorkspaceEvent::ApiKeyRevoked { key_id, at }])
            }
        }
    }

    fn apply(&mut self, event: WorkspaceEvent) {
        match event {
            WorkspaceEvent::Created {
                workspace_id,
                name,
                owner,
                ..
            } => {
                self.id = Some(workspace_id);
                self.name = name;
                self.members.insert(owner, Role::Owner);
            }
            WorkspaceEvent::InvitationIssued {
                invitation_id,
                email,
                role,
                token_hash,
                expires_at,
                ..
            } => {
                self.invitations.insert(
                    invitation_id,
                    Invitation {
                        email,
                        role,
                        token_hash,
                        expires_at,
                    },
                );
            }
            WorkspaceEvent::MemberJoined {
                user_id,
                role,
                invitation_id,
                ..
            } => {
                self.invitations.remove(&invitation_id);
                self.members.insert(user_id, role);
            }
            WorkspaceEvent::MemberRoleChanged { user_id, role } => {
                self.members.insert(user_id, role);
            }
            WorkspaceEvent::MemberRemoved { user_id } => {
                self.members.remove(&user_id);
            }
            WorkspaceEvent::ApiKeyIssued {
                key_id,
                name,
                role,
                secret_hash,
                expires_at,
                created_by,
                at,
            } => {
                self.api_keys.insert(
                    key_id,
                    ApiKey {
                        name,
                        role,
                        secret_hash,
                        expires_at,
                        created_by,
                        created_at: at,
                        last_used_at: None,
                    },
                );
            }
            WorkspaceEvent::ApiKeyUsed { key_id, at } => {
                if let Some(key) = self.api_keys.get_mut(&key_id) {
                    key.last_used_at = Some(at);
                }
            }
            WorkspaceEvent::ApiKeyRevoked { key_id, .. } => {
                self.api_keys.remove(&key_id);
            }
        }
    }
}
