//! Workspaces: create one, set the installation's first owner up, invite
//! members and let them join, change and remove members, issue, check and
//! revoke API keys. The decisions are the `Workspace` aggregate's (who may
//! hand out which role); this module mints the tokens, keeps each member's
//! own list of workspaces in step, and answers "who is this key?".
//!
//! Layout: `tokens` (invitation and API key formats) and the use cases here.

mod tokens;

pub use tokens::{ApiKeyToken, InvitationToken, API_KEY_PREFIX};

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration, Utc};
use flowforge_domain::{
    user::{User, UserCommand, UserError, UserId},
    workspace::{
        ApiKeyId, ClaimFirstOwner, FirstOwner, InvitationId, NewApiKey, Role, Workspace,
        WorkspaceCommand, WorkspaceError, WorkspaceId, API_KEY_USE_PRECISION, FIRST_OWNER_STREAM,
    },
    Aggregate,
};
use flowforge_infra::event_store::EventMetadata;
use uuid::Uuid;

use crate::{CommandBus, CommandError};

/// The name of the workspace the first owner gets.
pub const FIRST_WORKSPACE_NAME: &str = "Default";

/// Why a workspace use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WorkspacesError {
    /// The workspace refused, or the store failed.
    #[error(transparent)]
    Workspace(#[from] CommandError<WorkspaceError>),
    /// The member's account refused, or the store failed.
    #[error(transparent)]
    User(#[from] CommandError<UserError>),
    /// Not an API key of a workspace, or revoked, or expired: one answer for all.
    #[error("the API key is not valid")]
    InvalidApiKey,
    /// Not an invitation token.
    #[error("the invitation is not valid")]
    InvalidInvitation,
}

/// An invitation just made.
#[derive(Debug, Clone)]
pub struct Invited {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The token to give the invitee (shown once).
    pub token: String,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
}

/// The API key a member asks for.
#[derive(Debug, Clone)]
pub struct ApiKeyRequest {
    /// What it is for.
    pub name: String,
    /// The role it acts with (never owner).
    pub role: Role,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The workspace and role an API key acts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHolder {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The key.
    pub key_id: ApiKeyId,
    /// Its role.
    pub role: Role,
}

/// `email` normalised, or the account's refusal of it.
fn normalised(email: &str) -> Result<String, WorkspacesError> {
    flowforge_domain::user::normalise_email(email)
        .map_err(|refusal| WorkspacesError::User(CommandError::Rejected(refusal)))
}

/// The workspace use cases, over the command bus.
#[derive(Clone)]
pub struct Workspaces {
    commands: CommandBus,
    invitation_lifetime: Duration,
    /// The installation's first workspace, once known (it never changes).
    first: Arc<OnceLock<WorkspaceId>>,
}

impl Workspaces {
    /// Workspaces whose invitations lapse after `invitation_lifetime`.
    pub fn new(commands: CommandBus, invitation_lifetime: Duration) -> Self {
        Self {
            commands,
            invitation_lifetime,
            first: Arc::default(),
        }
    }

    /// Creates a workspace owned by `owner`.
    ///
    /// # Errors
    /// [`WorkspacesError`] if the name is refused or the store fails.
    pub async fn create(
        &self,
        name: &str,
        owner: UserId,
        metadata: &EventMetadata,
    ) -> Result<WorkspaceId, WorkspacesError> {
        let workspace_id = WorkspaceId::from_uuid(Uuid::now_v7());
        self.create_with_id(workspace_id, name, owner, metadata)
            .await?;
        Ok(workspace_id)
    }

    /// Creates a workspace with an id the caller chose (so the events can
    /// already carry it as their tenant); creating it again is a no-op.
    ///
    /// # Errors
    /// [`WorkspacesError`] if the name is refused or the store fails.
    pub async fn create_with_id(
        &self,
        workspace_id: WorkspaceId,
        name: &str,
        owner: UserId,
        metadata: &EventMetadata,
    ) -> Result<(), WorkspacesError> {
        let command = WorkspaceCommand::Create {
            workspace_id,
            name: name.to_owned(),
            owner,
            at: Utc::now(),
        };
        let metadata = EventMetadata {
            tenant_id: workspace_id.to_string(),
            ..metadata.clone()
        };
        match self
            .commands
            .execute::<Workspace>(&workspace_id.to_string(), command, None, &metadata)
            .await
        {
            Ok(_) | Err(CommandError::Rejected(WorkspaceError::AlreadyExists)) => {}
            Err(other) => return Err(other.into()),
        }
        self.join(owner, workspace_id, &metadata).await
    }

    /// Makes `user_id` the installation's first owner, with a first
    /// workspace, if nobody is yet; returns that workspace. Called again
    /// for the same account it finishes what a crash interrupted and
    /// returns the same workspace; for another account, `None`.
    ///
    /// # Errors
    /// What the store fails with.
    pub async fn set_up_first_owner(
        &self,
        user_id: UserId,
        metadata: &EventMetadata,
    ) -> Result<Option<WorkspaceId>, WorkspacesError> {
        let claim = ClaimFirstOwner {
            user_id,
            workspace_id: WorkspaceId::from_uuid(Uuid::now_v7()),
        };
        match self
            .commands
            .execute::<FirstOwner>(FIRST_OWNER_STREAM, claim, None, metadata)
            .await
        {
            Ok(_) => {}
            Err(CommandError::Rejected(WorkspaceError::AlreadyExists)) => return Ok(None),
            Err(other) => return Err(other.into()),
        }
        let (first, _) = self.commands.load::<FirstOwner>(FIRST_OWNER_STREAM).await?;
        let Some((_, workspace_id)) = first.claimed() else {
            return Ok(None);
        };
        self.create_with_id(workspace_id, FIRST_WORKSPACE_NAME, user_id, metadata)
            .await?;
        Ok(Some(workspace_id))
    }

    /// The installation's first workspace, if it has one: it also holds
    /// what was recorded before workspaces existed (tenant `default`).
    ///
    /// # Errors
    /// What the store fails with.
    pub async fn first_workspace(&self) -> Result<Option<WorkspaceId>, WorkspacesError> {
        if let Some(first) = self.first.get() {
            return Ok(Some(*first));
        }
        let (first, _) = self.commands.load::<FirstOwner>(FIRST_OWNER_STREAM).await?;
        Ok(first
            .claimed()
            .map(|(_, workspace_id)| *self.first.get_or_init(|| workspace_id)))
    }

    /// Whether the installation has its first owner (after which
    /// registration is by invitation unless configured open).
    ///
    /// # Errors
    /// What the store fails with.
    pub async fn has_first_owner(&self) -> Result<bool, WorkspacesError> {
        let (first, _) = self.commands.load::<FirstOwner>(FIRST_OWNER_STREAM).await?;
        Ok(first.claimed().is_some())
    }

    /// For the installation's first owner only: finishes setting its first
    /// workspace up if a crash cut that short, and returns it. `None` for
    /// every other account.
    ///
    /// # Errors
    /// What the store fails with.
    pub async fn finish_first_owner(
        &self,
        user_id: UserId,
        metadata: &EventMetadata,
    ) -> Result<Option<WorkspaceId>, WorkspacesError> {
        let (first, _) = self.commands.load::<FirstOwner>(FIRST_OWNER_STREAM).await?;
        match first.claimed() {
            Some((owner, workspace_id)) if owner == user_id => {
                self.create_with_id(workspace_id, FIRST_WORKSPACE_NAME, user_id, metadata)
                    .await?;
                Ok(Some(workspace_id))
            }
            _ => Ok(None),
        }
    }

    /// Whether `token` is a live invitation for `email`, decided as taking
    /// it up would be but recording nothing: registration checks it before
    /// it makes the account.
    ///
    /// # Errors
    /// [`WorkspacesError::InvalidInvitation`], or the workspace's refusal.
    pub async fn check_invitation(&self, token: &str, email: &str) -> Result<(), WorkspacesError> {
        let token = InvitationToken::parse(token).ok_or(WorkspacesError::InvalidInvitation)?;
        let email = normalised(email)?;
        let workspace = self
            .workspace(token.workspace_id)
            .await?
            .ok_or(WorkspacesError::InvalidInvitation)?;
        let command = WorkspaceCommand::AcceptInvitation {
            invitation_id: token.invitation_id,
            token_hash: token.hash(),
            user_id: UserId::from_uuid(Uuid::nil()),
            email,
            at: Utc::now(),
        };
        match workspace.handle(command) {
            Ok(_) => Ok(()),
            Err(WorkspaceError::InvalidInvitation(_)) => Err(WorkspacesError::InvalidInvitation),
            Err(other) => Err(CommandError::Rejected(other).into()),
        }
    }

    /// Invites `email` to join `workspace_id` as `role`, on behalf of a member acting as `by`.
    ///
    /// # Errors
    /// [`WorkspacesError`] if the role is not `by`'s to give, or the store fails.
    pub async fn invite(
        &self,
        workspace_id: WorkspaceId,
        email: &str,
        role: Role,
        by: Role,
        metadata: &EventMetadata,
    ) -> Result<Invited, WorkspacesError> {
        let email = normalised(email)?;
        let token = InvitationToken::mint(workspace_id);
        let at = Utc::now();
        let expires_at = at + self.invitation_lifetime;
        let command = WorkspaceCommand::Invite {
            invitation_id: token.invitation_id,
            email,
            role,
            token_hash: token.hash(),
            expires_at,
            by,
            at,
        };
        self.commands
            .execute::<Workspace>(&workspace_id.to_string(), command, None, metadata)
            .await?;
        Ok(Invited {
            invitation_id: token.invitation_id,
            token: token.reveal(),
            expires_at,
        })
    }

    /// `user_id` (whose address is `email`) takes up an invitation token.
    ///
    /// # Errors
    /// [`WorkspacesError::InvalidInvitation`] for anything that is not a
    /// live invitation for this address; what the store fails with.
    pub async fn accept_invitation(
        &self,
        token: &str,
        user_id: UserId,
        email: &str,
        metadata: &EventMetadata,
    ) -> Result<WorkspaceId, WorkspacesError> {
        let token = InvitationToken::parse(token).ok_or(WorkspacesError::InvalidInvitation)?;
        let email = normalised(email)?;
        let command = WorkspaceCommand::AcceptInvitation {
            invitation_id: token.invitation_id,
            token_hash: token.hash(),
            user_id,
            email,
            at: Utc::now(),
        };
        self.commands
            .execute::<Workspace>(&token.workspace_id.to_string(), command, None, metadata)
            .await
            .map_err(|error| match error {
                CommandError::Rejected(
                    WorkspaceError::NotFound | WorkspaceError::InvalidInvitation(_),
                ) => WorkspacesError::InvalidInvitation,
                other => other.into(),
            })?;
        self.join(user_id, token.workspace_id, metadata).await?;
        Ok(token.workspace_id)
    }

    /// Gives a member another role, on behalf of a member acting as `by`.
    ///
    /// # Errors
    /// [`WorkspacesError`] if the change is not `by`'s to make, or the store fails.
    pub async fn change_role(
        &self,
        workspace_id: WorkspaceId,
        user_id: UserId,
        role: Role,
        by: Role,
        metadata: &EventMetadata,
    ) -> Result<(), WorkspacesError> {
        let command = WorkspaceCommand::ChangeRole { user_id, role, by };
        self.commands
            .execute::<Workspace>(&workspace_id.to_string(), command, None, metadata)
            .await?;
        Ok(())
    }

    /// Takes a member out of the workspace, on behalf of a member acting as `by`.
    ///
    /// # Errors
    /// [`WorkspacesError`] if that is not `by`'s to do, or the store fails.
    pub async fn remove_member(
        &self,
        workspace_id: WorkspaceId,
        user_id: UserId,
        by: Role,
        metadata: &EventMetadata,
    ) -> Result<(), WorkspacesError> {
        let command = WorkspaceCommand::RemoveMember { user_id, by };
        self.commands
            .execute::<Workspace>(&workspace_id.to_string(), command, None, metadata)
            .await?;
        let leave = UserCommand::LeaveWorkspace { workspace_id };
        self.commands
            .execute::<User>(&user_id.to_string(), leave, None, metadata)
            .await?;
        Ok(())
    }

    /// Creates an API key; returns its id and the key (shown once).
    ///
    /// # Errors
    /// [`WorkspacesError`] if the key is refused, or the store fails.
    pub async fn issue_api_key(
        &self,
        workspace_id: WorkspaceId,
        request: ApiKeyRequest,
        created_by: UserId,
        by: Role,
        metadata: &EventMetadata,
    ) -> Result<(ApiKeyId, String), WorkspacesError> {
        let token = ApiKeyToken::mint(workspace_id);
        let command = WorkspaceCommand::IssueApiKey(NewApiKey {
            key_id: token.key_id,
            name: request.name,
            role: request.role,
            secret_hash: token.hash(),
            expires_at: request.expires_at,
            created_by,
            by,
            at: Utc::now(),
        });
        self.commands
            .execute::<Workspace>(&workspace_id.to_string(), command, None, metadata)
            .await?;
        Ok((token.key_id, token.reveal()))
    }

    /// Revokes an API key for good.
    ///
    /// # Errors
    /// [`WorkspacesError`] if there is no such key, or the store fails.
    pub async fn revoke_api_key(
        &self,
        workspace_id: WorkspaceId,
        key_id: ApiKeyId,
        metadata: &EventMetadata,
    ) -> Result<(), WorkspacesError> {
        let command = WorkspaceCommand::RevokeApiKey {
            key_id,
            at: Utc::now(),
        };
        self.commands
            .execute::<Workspace>(&workspace_id.to_string(), command, None, metadata)
            .await?;
        Ok(())
    }

    /// Who an API key is: its workspace and role, if it is a live key.
    /// Its use is recorded (at most once per [`API_KEY_USE_PRECISION`]).
    ///
    /// # Errors
    /// [`WorkspacesError::InvalidApiKey`] for anything but a live key;
    /// what the store fails with.
    pub async fn authenticate_key(&self, presented: &str) -> Result<KeyHolder, WorkspacesError> {
        let token = ApiKeyToken::parse(presented).ok_or(WorkspacesError::InvalidApiKey)?;
        let workspace = self
            .workspace(token.workspace_id)
            .await?
            .ok_or(WorkspacesError::InvalidApiKey)?;
        let at = Utc::now();
        let key = workspace
            .api_keys()
            .get(&token.key_id)
            .filter(|key| key.accepts(&token.hash(), at))
            .ok_or(WorkspacesError::InvalidApiKey)?;
        let holder = KeyHolder {
            workspace_id: token.workspace_id,
            key_id: token.key_id,
            role: key.role,
        };
        if key
            .last_used_at
            .is_none_or(|last| at - last >= API_KEY_USE_PRECISION)
        {
            let metadata = EventMetadata {
                tenant_id: token.workspace_id.to_string(),
                actor: Some(format!("api_key:{}", token.key_id)),
                ..EventMetadata::default()
            };
            let command = WorkspaceCommand::RecordApiKeyUse {
                key_id: token.key_id,
                at,
            };
            self.commands
                .execute::<Workspace>(&token.workspace_id.to_string(), command, None, &metadata)
                .await?;
        }
        Ok(holder)
    }

    /// The workspace with this id, if it exists.
    ///
    /// # Errors
    /// What the store fails with.
    pub async fn workspace(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Option<Workspace>, WorkspacesError> {
        let (workspace, _) = self
            .commands
            .load::<Workspace>(&workspace_id.to_string())
            .await?;
        Ok(workspace.exists().then_some(workspace))
    }

    /// Adds the workspace to the account's own list.
    async fn join(
        &self,
        user_id: UserId,
        workspace_id: WorkspaceId,
        metadata: &EventMetadata,
    ) -> Result<(), WorkspacesError> {
        let join = UserCommand::JoinWorkspace { workspace_id };
        self.commands
            .execute::<User>(&user_id.to_string(), join, None, metadata)
            .await?;
        Ok(())
    }
}
