//! The credentials vault's use cases: a workspace's credentials created,
//! changed, listed and deleted, their data sealed under the workspace's data
//! key before any command carries it, and opened again only to be used by a
//! node (`resolve`) or to test a connection. Secret fields are write-only:
//! an update that leaves one out keeps its value. A workspace may share a
//! credential with another (`share`); the other resolves it by id or name,
//! still sealed under the owner's key, for as long as the owner's record
//! says it is shared. Each execution's first use of a credential is
//! recorded (`record_use`) for the owner's audit log.
//!
//! Layout: the vault here; `oauth2_grant` (a user granting an OAuth 2.0
//! authorization-code credential access, and the callback that completes
//! it).

mod oauth2_grant;

pub use oauth2_grant::{GrantError, GRANT_LIFETIME};

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use flowforge_domain::{
    credential::{
        Credential, CredentialCommand, CredentialError, CredentialId, CredentialKind,
        CredentialUse, CredentialUseCommand, Credentials, NoUseError, SealedData, SharedIn,
    },
    execution::ExecutionId,
};
use flowforge_infra::{
    event_store::EventMetadata,
    keys::{Keyring, KeyringError},
};
use flowforge_outbound::{token_http_client, OAuth2Tokens, OutboundPolicy, TlsTrust};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{CommandBus, CommandError};

/// How often an update is merged again after another change won the race.
const UPDATE_TRIES: u32 = 5;

/// How long a connection test waits for the server.
const TEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a vault use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The credentials refused, or the store failed.
    #[error(transparent)]
    Credential(#[from] CommandError<CredentialError>),
    /// Sealing or opening failed: a ciphertext that does not open is
    /// reported, never decrypted to garbage.
    #[error("the credential's data cannot be opened: {0}")]
    Keys(#[from] KeyringError),
    /// Sealed data that opened is not a JSON object (it cannot happen).
    #[error("the credential's data is not an object")]
    Corrupt,
    /// A use could not be recorded.
    #[error("cannot record the credential's use: {0}")]
    Use(#[from] CommandError<NoUseError>),
}

impl VaultError {
    fn rejected(error: CredentialError) -> Self {
        Self::Credential(CommandError::Rejected(error))
    }
}

/// A credential as the API shows it: never a secret value.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialView {
    /// Its id.
    pub id: CredentialId,
    /// The credential.
    pub credential: Credential,
}

/// A credential another workspace shares with this one, as the API shows
/// it.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedView {
    /// Its id.
    pub id: CredentialId,
    /// The workspace that owns it.
    pub owner: String,
    /// The credential as the owner keeps it now.
    pub credential: Credential,
}

/// A credential opened for a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Its id.
    pub id: CredentialId,
    /// The workspace that owns it (the caller's, or the one sharing it).
    pub owner: String,
    /// Its fields.
    pub data: Map<String, Value>,
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// Whether it worked.
    pub ok: bool,
    /// What was checked, or why it failed.
    pub message: String,
}

/// The vault over the command bus and the keyring.
#[derive(Clone)]
pub struct Vault {
    commands: CommandBus,
    keyring: Arc<Keyring>,
    destinations: Arc<OutboundPolicy>,
    oauth2: OAuth2Tokens,
}

impl Vault {
    /// The vault keeping data sealed with `keyring`, testing connections to
    /// public addresses only.
    pub fn new(commands: CommandBus, keyring: Arc<Keyring>) -> Self {
        let destinations = Arc::new(OutboundPolicy::public_only());
        // Public roots always make a client; a default client is only a
        // fallback for the impossible case.
        let oauth2 = OAuth2Tokens::new(
            token_http_client(&TlsTrust::public_roots(), &destinations).unwrap_or_default(),
            destinations.clone(),
        );
        Self {
            commands,
            keyring,
            destinations,
            oauth2,
        }
    }

    /// The same vault testing connections (and asking for OAuth 2.0 tokens)
    /// only to what `destinations` lets through, trusting `trust` (a test is
    /// a connection like a node's, so it is guarded alike: it must not
    /// become a way to scan the private network).
    ///
    /// # Errors
    /// [`flowforge_outbound::TrustError`] when the token client cannot be
    /// built on `trust`.
    pub fn with_outbound(
        mut self,
        trust: &TlsTrust,
        destinations: OutboundPolicy,
    ) -> Result<Self, flowforge_outbound::TrustError> {
        self.destinations = Arc::new(destinations);
        self.oauth2 = OAuth2Tokens::new(
            token_http_client(trust, &self.destinations)?,
            self.destinations.clone(),
        );
        Ok(self)
    }

    /// The OAuth 2.0 token client the vault asks through, with its cache of
    /// client-credentials tokens: share it with the node library so a
    /// token is fetched once per process.
    pub fn oauth2_tokens(&self) -> &OAuth2Tokens {
        &self.oauth2
    }

    /// Adds a credential to workspace `tenant`.
    ///
    /// # Errors
    /// An unknown kind, data that is not of the kind, a name taken, and what
    /// the store or keyring fail with.
    pub async fn create(
        &self,
        tenant: &str,
        name: String,
        kind: &str,
        data: Map<String, Value>,
        metadata: &EventMetadata,
    ) -> Result<CredentialId, VaultError> {
        let kind = CredentialKind::parse(kind).map_err(VaultError::rejected)?;
        kind.check(&data).map_err(VaultError::rejected)?;
        let id = CredentialId::from_uuid(Uuid::now_v7());
        let command = CredentialCommand::Create {
            id,
            name,
            kind,
            data: self.seal(tenant, id, kind, &data).await?,
            at: Utc::now(),
        };
        self.commands
            .execute::<Credentials>(tenant, command, None, metadata)
            .await?;
        Ok(id)
    }

    /// Renames credential `id` of `tenant`, changes its data, or both. The
    /// new data is laid over the old: a field left out keeps its value (so a
    /// secret need not be sent again), a field sent as `null` is removed.
    /// `kind`, if given, must be the credential's.
    ///
    /// # Errors
    /// No such credential, another kind, data that is not of the kind, a
    /// name taken, and what the store or keyring fail with.
    pub async fn update(
        &self,
        tenant: &str,
        id: CredentialId,
        name: Option<String>,
        kind: Option<&str>,
        data: Option<Map<String, Value>>,
        metadata: &EventMetadata,
    ) -> Result<(), VaultError> {
        // The new data is merged with what was read and sealed whole, so it
        // is recorded only over that version; another change in between
        // (a refreshed token, a user's edit) is read and merged again.
        let mut tries = 0;
        loop {
            let (credentials, version) = self.commands.load::<Credentials>(tenant).await?;
            let current =
                credentials.all().get(&id).cloned().ok_or_else(|| {
                    VaultError::rejected(CredentialError::NotFound(id.to_string()))
                })?;
            let current_kind = current.kind;
            if let Some(kind) = kind {
                let kind = CredentialKind::parse(kind).map_err(VaultError::rejected)?;
                if kind != current_kind {
                    return Err(VaultError::rejected(CredentialError::InvalidData {
                        kind: current_kind.as_str(),
                        why: format!(
                            "a credential keeps its type; create a new one for {}",
                            kind.as_str()
                        ),
                    }));
                }
            }
            let sealed = match &data {
                None => None,
                Some(changes) => {
                    let mut merged = self.open(tenant, id, &current).await?;
                    for (field, value) in changes {
                        if value.is_null() {
                            merged.remove(field);
                        } else {
                            merged.insert(field.clone(), value.clone());
                        }
                    }
                    current_kind.check(&merged).map_err(VaultError::rejected)?;
                    Some(self.seal(tenant, id, current_kind, &merged).await?)
                }
            };
            let command = CredentialCommand::Update {
                id,
                name: name.clone(),
                data: sealed,
                at: Utc::now(),
            };
            match self
                .commands
                .execute::<Credentials>(tenant, command, Some(version), metadata)
                .await
            {
                Err(CommandError::Conflict { .. }) if tries < UPDATE_TRIES => tries += 1,
                outcome => {
                    outcome?;
                    return Ok(());
                }
            }
        }
    }

    /// Removes credential `id` of `tenant`.
    ///
    /// # Errors
    /// No such credential, and what the store fails with.
    pub async fn delete(
        &self,
        tenant: &str,
        id: CredentialId,
        metadata: &EventMetadata,
    ) -> Result<(), VaultError> {
        let command = CredentialCommand::Delete { id, at: Utc::now() };
        self.commands
            .execute::<Credentials>(tenant, command, None, metadata)
            .await?;
        Ok(())
    }

    /// The credentials of `tenant`, by name.
    ///
    /// # Errors
    /// What the store fails with.
    pub async fn list(&self, tenant: &str) -> Result<Vec<CredentialView>, VaultError> {
        let (credentials, _) = self.commands.load::<Credentials>(tenant).await?;
        let mut views: Vec<CredentialView> = credentials
            .all()
            .iter()
            .map(|(id, credential)| CredentialView {
                id: *id,
                credential: credential.clone(),
            })
            .collect();
        views.sort_by(|a, b| a.credential.name.cmp(&b.credential.name));
        Ok(views)
    }

    /// Credential `id` of `tenant`.
    ///
    /// # Errors
    /// [`CredentialError::NotFound`], and what the store fails with.
    pub async fn get(&self, tenant: &str, id: CredentialId) -> Result<CredentialView, VaultError> {
        let (credentials, _) = self.commands.load::<Credentials>(tenant).await?;
        credentials
            .all()
            .get(&id)
            .map(|credential| CredentialView {
                id,
                credential: credential.clone(),
            })
            .ok_or_else(|| VaultError::rejected(CredentialError::NotFound(id.to_string())))
    }

    /// The data of the credential of `kind` that `reference` (an id or a
    /// name) names in `tenant`: one of its own, or else one another
    /// workspace shares with it (still shared), opened for a node to use.
    ///
    /// # Errors
    /// No such credential, one of another kind, a ciphertext that does not
    /// open, and what the store fails with.
    pub async fn resolve(
        &self,
        tenant: &str,
        kind: CredentialKind,
        reference: &str,
    ) -> Result<Resolved, VaultError> {
        let not_found = || {
            VaultError::rejected(CredentialError::NotFound(format!(
                "{reference:?} (of type {kind})"
            )))
        };
        let (credentials, _) = self.commands.load::<Credentials>(tenant).await?;
        let (owner, id, credential) = match credentials.find(reference) {
            Some((id, credential)) => (tenant.to_owned(), id, credential.clone()),
            None => {
                let (id, shared) = credentials.find_shared(reference).ok_or_else(not_found)?;
                let (owners, _) = self.commands.load::<Credentials>(&shared.owner).await?;
                let credential = owners
                    .all()
                    .get(&id)
                    .filter(|c| c.shared_with.contains(tenant))
                    .ok_or_else(not_found)?;
                (shared.owner.clone(), id, credential.clone())
            }
        };
        if credential.kind != kind {
            return Err(VaultError::rejected(CredentialError::InvalidData {
                kind: kind.as_str(),
                why: format!(
                    "credential {reference:?} is of type {}, not {kind}",
                    credential.kind
                ),
            }));
        }
        let data = self.open(&owner, id, &credential).await?;
        Ok(Resolved { id, owner, data })
    }

    /// Lets workspace `with` use credential `id` of `tenant`; recorded on
    /// both sides, owner first (a retry after a failure in between
    /// completes it).
    ///
    /// # Errors
    /// No such credential, sharing with its own workspace, and what the
    /// store fails with.
    pub async fn share(
        &self,
        tenant: &str,
        id: CredentialId,
        with: &str,
        metadata: &EventMetadata,
    ) -> Result<(), VaultError> {
        let view = self.get(tenant, id).await?;
        let share = CredentialCommand::Share {
            id,
            with: with.to_owned(),
            owner: tenant.to_owned(),
            at: Utc::now(),
        };
        self.commands
            .execute::<Credentials>(tenant, share, None, metadata)
            .await?;
        let link = CredentialCommand::Link {
            id,
            shared: SharedIn {
                owner: tenant.to_owned(),
                name: view.credential.name,
                kind: view.credential.kind,
            },
            at: Utc::now(),
        };
        let in_other = EventMetadata {
            tenant_id: with.to_owned(),
            ..metadata.clone()
        };
        self.commands
            .execute::<Credentials>(with, link, None, &in_other)
            .await?;
        Ok(())
    }

    /// Stops sharing credential `id` of `tenant` with workspace `with`: its
    /// nodes fail from their next use.
    ///
    /// # Errors
    /// No such credential, and what the store fails with.
    pub async fn unshare(
        &self,
        tenant: &str,
        id: CredentialId,
        with: &str,
        metadata: &EventMetadata,
    ) -> Result<(), VaultError> {
        let unshare = CredentialCommand::Unshare {
            id,
            with: with.to_owned(),
            at: Utc::now(),
        };
        self.commands
            .execute::<Credentials>(tenant, unshare, None, metadata)
            .await?;
        let in_other = EventMetadata {
            tenant_id: with.to_owned(),
            ..metadata.clone()
        };
        let unlink = CredentialCommand::Unlink { id, at: Utc::now() };
        self.commands
            .execute::<Credentials>(with, unlink, None, &in_other)
            .await?;
        Ok(())
    }

    /// The credentials other workspaces share with `tenant` (and still
    /// share), by name.
    ///
    /// # Errors
    /// What the store fails with.
    pub async fn shared_with(&self, tenant: &str) -> Result<Vec<SharedView>, VaultError> {
        let (credentials, _) = self.commands.load::<Credentials>(tenant).await?;
        let mut views = Vec::new();
        for (id, shared) in credentials.shared_in() {
            let (owners, _) = self.commands.load::<Credentials>(&shared.owner).await?;
            if let Some(credential) = owners
                .all()
                .get(id)
                .filter(|c| c.shared_with.contains(tenant))
            {
                views.push(SharedView {
                    id: *id,
                    owner: shared.owner.clone(),
                    credential: credential.clone(),
                });
            }
        }
        views.sort_by(|a, b| a.credential.name.cmp(&b.credential.name));
        Ok(views)
    }

    /// Records that `execution` (in workspace `user`) used credential
    /// `resolved`, in node `node`: once per execution and credential, in the
    /// owner's audit log.
    ///
    /// # Errors
    /// What the store fails with.
    pub async fn record_use(
        &self,
        resolved: &Resolved,
        user: &str,
        execution: ExecutionId,
        node: &str,
    ) -> Result<(), VaultError> {
        let metadata = EventMetadata {
            tenant_id: resolved.owner.clone(),
            actor: Some(format!("execution:{execution}")),
            correlation_id: Some(execution.as_uuid()),
            ..EventMetadata::default()
        };
        let command = CredentialUseCommand {
            credential: resolved.id,
            owner: resolved.owner.clone(),
            user: user.to_owned(),
            execution,
            node: node.to_owned(),
            at: Utc::now(),
        };
        self.commands
            .execute::<CredentialUse>(
                &CredentialUse::stream_id(resolved.id, execution),
                command,
                None,
                &metadata,
            )
            .await?;
        Ok(())
    }

    /// Whether credential `id` of `tenant` is usable: its data opens and is
    /// of its kind, and for a kind with a server, the server accepts a
    /// connection within a few seconds.
    ///
    /// # Errors
    /// No such credential, a ciphertext that does not open, and what the
    /// store fails with.
    pub async fn test(&self, tenant: &str, id: CredentialId) -> Result<TestOutcome, VaultError> {
        let view = self.get(tenant, id).await?;
        let kind = view.credential.kind;
        let data = self.open(tenant, id, &view.credential).await?;
        if let Err(error) = kind.check(&data) {
            return Ok(TestOutcome {
                ok: false,
                message: error.to_string(),
            });
        }
        if let Some(outcome) = self.test_oauth2(tenant, id, kind, &data).await {
            return Ok(outcome);
        }
        let Some(default_port) = kind.default_port() else {
            return Ok(TestOutcome {
                ok: true,
                message: "the data opens and is complete; it is sent with each request".to_owned(),
            });
        };
        let host = data.get("host").and_then(Value::as_str).unwrap_or_default();
        let port = match data.get("port") {
            Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            Some(Value::String(s)) => s.parse().ok(),
            _ => Some(default_port),
        };
        let Some(port) = port else {
            return Ok(TestOutcome {
                ok: false,
                message: "port is not a port number".to_owned(),
            });
        };
        let allowed = match self.destinations.resolve(host, port).await {
            Ok(allowed) => allowed,
            Err(unreachable) => {
                return Ok(TestOutcome {
                    ok: false,
                    message: unreachable.to_string(),
                })
            }
        };
        let connect = tokio::net::TcpStream::connect(allowed.as_slice());
        Ok(match tokio::time::timeout(TEST_TIMEOUT, connect).await {
            Ok(Ok(_)) => TestOutcome {
                ok: true,
                message: format!("{host}:{port} accepts connections"),
            },
            Ok(Err(error)) => TestOutcome {
                ok: false,
                message: format!("cannot connect to {host}:{port}: {error}"),
            },
            Err(_) => TestOutcome {
                ok: false,
                message: format!("{host}:{port} did not answer within {TEST_TIMEOUT:?}"),
            },
        })
    }

    async fn seal(
        &self,
        tenant: &str,
        id: CredentialId,
        kind: CredentialKind,
        data: &Map<String, Value>,
    ) -> Result<SealedData, VaultError> {
        let plaintext = serde_json::to_vec(data).map_err(|_| VaultError::Corrupt)?;
        Ok(SealedData {
            sealed: self
                .keyring
                .seal(&scope(tenant), &owner(id), &plaintext)
                .await?,
            public: kind.public(data),
            secrets_set: kind.secrets_set(data),
        })
    }

    async fn open(
        &self,
        tenant: &str,
        id: CredentialId,
        credential: &Credential,
    ) -> Result<Map<String, Value>, VaultError> {
        let plaintext = self
            .keyring
            .open_sealed(&scope(tenant), &owner(id), &credential.data.sealed)
            .await?;
        match serde_json::from_slice(&plaintext) {
            Ok(Value::Object(data)) => Ok(data),
            _ => Err(VaultError::Corrupt),
        }
    }
}

/// The data key a workspace's credentials are sealed under.
fn scope(tenant: &str) -> String {
    format!("workspace:{tenant}")
}

/// What a credential's sealed data is bound to.
fn owner(id: CredentialId) -> String {
    format!("credential:{id}")
}
