//! The `Credentials` aggregate: a workspace's credentials (one stream per
//! workspace, so a name is unique within it and a node's reference by name
//! resolves to one credential). A credential's data reaches a command only
//! sealed by the edge; the events hold the ciphertext, the kind, the name,
//! the fields that are not secret, and which secret fields are set —
//! nothing a copy of the log could use.
//!
//! A credential is used only in its workspace unless the workspace shares
//! it with another, explicitly: the share is recorded on both sides (the
//! owner's `CredentialShared`, the other's `SharedCredentialLinked`), and
//! the owner's record is the one that decides.
//!
//! Layout: `kinds` (each kind's fields), `usage` (the audited record of a
//! credential's use by an execution), the aggregate here.

mod kinds;
mod usage;

pub use kinds::{CredentialKind, Field};
pub use usage::{CredentialUse, CredentialUseCommand, CredentialUseEvent, NoUseError};

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::aggregate::{Aggregate, DomainEvent};

/// The longest credential name.
const MAX_NAME_CHARS: usize = 100;

crate::uuid_id!(
    /// Identifies one credential; serialises as a bare UUID string.
    CredentialId,
    InvalidCredentialId
);

/// A string that is not a credential id.
#[derive(Debug, thiserror::Error)]
#[error("{input:?} is not a valid credential id: {source}")]
pub struct InvalidCredentialId {
    /// What was given.
    pub input: String,
    /// Why it is not a UUID.
    #[source]
    pub source: uuid::Error,
}

/// A credential's data as events hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedData {
    /// Every field, sealed by the edge.
    pub sealed: String,
    /// The fields that are not secret, in clear.
    pub public: Map<String, Value>,
    /// The names of the secret fields that are set.
    pub secrets_set: Vec<String>,
}

/// One credential.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    /// Its name, unique in the workspace.
    pub name: String,
    /// Its kind.
    pub kind: CredentialKind,
    /// Its data.
    pub data: SealedData,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The other workspaces (their ids) that may use it.
    pub shared_with: BTreeSet<String>,
}

/// A credential another workspace shares with this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedIn {
    /// The workspace that owns it (its id).
    pub owner: String,
    /// Its name when it was shared (shown; nodes name it by id).
    pub name: String,
    /// Its kind.
    pub kind: CredentialKind,
}

/// A command to a workspace's credentials.
#[derive(Debug, Clone, PartialEq)]
pub enum CredentialCommand {
    /// Add a credential.
    Create {
        /// Its id (made by the edge).
        id: CredentialId,
        /// Its name.
        name: String,
        /// Its kind.
        kind: CredentialKind,
        /// Its data, sealed.
        data: SealedData,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Rename a credential, replace its data, or both.
    Update {
        /// The credential.
        id: CredentialId,
        /// Its new name, if it changes.
        name: Option<String>,
        /// Its new data, if it changes.
        data: Option<SealedData>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Remove a credential: nodes that name it fail from now on.
    Delete {
        /// The credential.
        id: CredentialId,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Let workspace `with` use a credential of this one.
    Share {
        /// The credential.
        id: CredentialId,
        /// The other workspace's id.
        with: String,
        /// This workspace's id (a credential is not shared with its owner).
        owner: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Stop sharing a credential with workspace `with`.
    Unshare {
        /// The credential.
        id: CredentialId,
        /// The other workspace's id.
        with: String,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Record, in the workspace a credential is shared with, that it is.
    Link {
        /// The credential.
        id: CredentialId,
        /// How this workspace sees it.
        shared: SharedIn,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Forget a credential that is no longer shared with this workspace.
    Unlink {
        /// The credential.
        id: CredentialId,
        /// Now.
        at: DateTime<Utc>,
    },
}

/// What happened to a workspace's credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CredentialEvent {
    /// A credential was added.
    #[serde(rename = "CredentialCreated")]
    Created {
        /// It.
        id: CredentialId,
        /// Its name.
        name: String,
        /// Its kind, by name.
        kind: String,
        /// Its data, sealed.
        data: SealedData,
        /// When.
        at: DateTime<Utc>,
    },
    /// A credential was renamed or its data replaced.
    #[serde(rename = "CredentialUpdated")]
    Updated {
        /// It.
        id: CredentialId,
        /// Its new name, if it changed.
        name: Option<String>,
        /// Its new data, if it changed.
        data: Option<SealedData>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A credential was removed.
    #[serde(rename = "CredentialDeleted")]
    Deleted {
        /// It.
        id: CredentialId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Another workspace may use a credential of this one.
    #[serde(rename = "CredentialShared")]
    Shared {
        /// It.
        id: CredentialId,
        /// The other workspace.
        with: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Another workspace may no longer use a credential of this one.
    #[serde(rename = "CredentialUnshared")]
    Unshared {
        /// It.
        id: CredentialId,
        /// The other workspace.
        with: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Another workspace shares a credential with this one.
    #[serde(rename = "SharedCredentialLinked")]
    Linked {
        /// It.
        id: CredentialId,
        /// The workspace that owns it.
        owner: String,
        /// Its name then.
        name: String,
        /// Its kind, by name.
        kind: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A credential is no longer shared with this workspace.
    #[serde(rename = "SharedCredentialUnlinked")]
    Unlinked {
        /// It.
        id: CredentialId,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CredentialEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => "CredentialCreated",
            Self::Updated { .. } => "CredentialUpdated",
            Self::Deleted { .. } => "CredentialDeleted",
            Self::Shared { .. } => "CredentialShared",
            Self::Unshared { .. } => "CredentialUnshared",
            Self::Linked { .. } => "SharedCredentialLinked",
            Self::Unlinked { .. } => "SharedCredentialUnlinked",
        }
    }
}

/// Why a credential command (or its data) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The workspace has no such credential.
    #[error("no credential {0} in this workspace")]
    NotFound(String),
    /// Another credential of the workspace has the name.
    #[error("the workspace has a credential named {0:?} already")]
    NameTaken(String),
    /// The name is empty or too long.
    #[error("a credential's name is 1 to 100 characters")]
    InvalidName,
    /// The kind is not one there is.
    #[error("unknown credential type {0:?}")]
    UnknownKind(String),
    /// A credential is shared with its own workspace.
    #[error("a credential is shared with other workspaces, not its own")]
    ShareWithOwner,
    /// The data is not a credential of its kind.
    #[error("invalid {kind} data: {why}")]
    InvalidData {
        /// The kind.
        kind: &'static str,
        /// What is wrong.
        why: String,
    },
}

/// The parameter a node names its credentials in.
pub const CREDENTIALS_PARAMETER: &str = "credentials";

/// Why a node's `credentials` parameter is not an object of credential type
/// → a credential's name or id, if it is not.
pub fn check_references(parameters: &Map<String, Value>) -> Result<(), String> {
    let Some(named) = parameters.get(CREDENTIALS_PARAMETER) else {
        return Ok(());
    };
    let Value::Object(named) = named else {
        return Err("an object of credential type → credential name or id".to_owned());
    };
    for (kind, reference) in named {
        CredentialKind::parse(kind).map_err(|e| {
            let kinds: Vec<&str> = CredentialKind::all().map(CredentialKind::as_str).collect();
            format!("{e} (the types are {})", kinds.join(", "))
        })?;
        if reference.as_str().is_none_or(|r| r.trim().is_empty()) {
            return Err(format!("{kind}: a credential's name or id"));
        }
    }
    Ok(())
}

/// A workspace's credentials.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Credentials {
    credentials: BTreeMap<CredentialId, Credential>,
    shared_in: BTreeMap<CredentialId, SharedIn>,
}

impl Credentials {
    /// Every credential, by id.
    pub fn all(&self) -> &BTreeMap<CredentialId, Credential> {
        &self.credentials
    }

    /// The credentials other workspaces share with this one, by id.
    pub fn shared_in(&self) -> &BTreeMap<CredentialId, SharedIn> {
        &self.shared_in
    }

    /// The shared credential `reference` names, by id only: a share arrives
    /// without this workspace asking, so a name a node uses must never
    /// start meaning another workspace's credential.
    pub fn find_shared(&self, reference: &str) -> Option<(CredentialId, &SharedIn)> {
        let id = reference.parse::<CredentialId>().ok()?;
        self.shared_in.get(&id).map(|c| (id, c))
    }

    /// The credential `reference` names: its id, or its name.
    pub fn find(&self, reference: &str) -> Option<(CredentialId, &Credential)> {
        let by_id = reference
            .parse::<CredentialId>()
            .ok()
            .and_then(|id| self.credentials.get(&id).map(|c| (id, c)));
        by_id.or_else(|| {
            self.credentials
                .iter()
                .find(|(_, c)| c.name == reference)
                .map(|(id, c)| (*id, c))
        })
    }

    fn name_free(
        &self,
        name: &str,
        except: Option<CredentialId>,
    ) -> Result<String, CredentialError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(CredentialError::InvalidName);
        }
        let taken = self
            .credentials
            .iter()
            .any(|(id, c)| Some(*id) != except && c.name == name);
        if taken {
            return Err(CredentialError::NameTaken(name.to_owned()));
        }
        Ok(name.to_owned())
    }

    fn existing(&self, id: CredentialId) -> Result<&Credential, CredentialError> {
        self.credentials
            .get(&id)
            .ok_or_else(|| CredentialError::NotFound(id.to_string()))
    }
}

impl Aggregate for Credentials {
    const TYPE: &'static str = "credentials";
    type Command = CredentialCommand;
    type Event = CredentialEvent;
    type Error = CredentialError;

    fn handle(&self, command: CredentialCommand) -> Result<Vec<CredentialEvent>, CredentialError> {
        match command {
            CredentialCommand::Create {
                id,
                name,
                kind,
                data,
                at,
            } => {
                if self.credentials.contains_key(&id) {
                    return Ok(Vec::new());
                }
                let name = self.name_free(&name, None)?;
                Ok(vec![CredentialEvent::Created {
                    id,
                    name,
                    kind: kind.as_str().to_owned(),
                    data,
                    at,
                }])
            }
            CredentialCommand::Update { id, name, data, at } => {
                let current = self.existing(id)?;
                let name = match name {
                    Some(name) => {
                        Some(self.name_free(&name, Some(id))?).filter(|name| *name != current.name)
                    }
                    None => None,
                };
                if name.is_none() && data.is_none() {
                    return Ok(Vec::new());
                }
                Ok(vec![CredentialEvent::Updated { id, name, data, at }])
            }
            CredentialCommand::Delete { id, at } => {
                self.existing(id)?;
                Ok(vec![CredentialEvent::Deleted { id, at }])
            }
            CredentialCommand::Share {
                id,
                with,
                owner,
                at,
            } => {
                if with == owner {
                    return Err(CredentialError::ShareWithOwner);
                }
                if self.existing(id)?.shared_with.contains(&with) {
                    return Ok(Vec::new());
                }
                Ok(vec![CredentialEvent::Shared { id, with, at }])
            }
            CredentialCommand::Unshare { id, with, at } => {
                if !self.existing(id)?.shared_with.contains(&with) {
                    return Ok(Vec::new());
                }
                Ok(vec![CredentialEvent::Unshared { id, with, at }])
            }
            CredentialCommand::Link { id, shared, at } => {
                if self.shared_in.get(&id) == Some(&shared) {
                    return Ok(Vec::new());
                }
                Ok(vec![CredentialEvent::Linked {
                    id,
                    owner: shared.owner,
                    name: shared.name,
                    kind: shared.kind.as_str().to_owned(),
                    at,
                }])
            }
            CredentialCommand::Unlink { id, at } => {
                if !self.shared_in.contains_key(&id) {
                    return Ok(Vec::new());
                }
                Ok(vec![CredentialEvent::Unlinked { id, at }])
            }
        }
    }

    fn apply(&mut self, event: CredentialEvent) {
        match event {
            CredentialEvent::Created {
                id,
                name,
                kind,
                data,
                at,
            } => {
                // A kind this version does not know (recorded by a newer
                // one) leaves the credential out rather than guessing.
                if let Ok(kind) = CredentialKind::parse(&kind) {
                    self.credentials.insert(
                        id,
                        Credential {
                            name,
                            kind,
                            data,
                            created_at: at,
                            updated_at: at,
                            shared_with: BTreeSet::new(),
                        },
                    );
                }
            }
            CredentialEvent::Updated { id, name, data, at } => {
                if let Some(credential) = self.credentials.get_mut(&id) {
                    if let Some(name) = name {
                        credential.name = name;
                    }
                    if let Some(data) = data {
                        credential.data = data;
                    }
                    credential.updated_at = at;
                }
            }
            CredentialEvent::Deleted { id, .. } => {
                self.credentials.remove(&id);
            }
            CredentialEvent::Shared { id, with, .. } => {
                if let Some(credential) = self.credentials.get_mut(&id) {
                    credential.shared_with.insert(with);
                }
            }
            CredentialEvent::Unshared { id, with, .. } => {
                if let Some(credential) = self.credentials.get_mut(&id) {
                    credential.shared_with.remove(&with);
                }
            }
            CredentialEvent::Linked {
                id,
                owner,
                name,
                kind,
                ..
            } => {
                if let Ok(kind) = CredentialKind::parse(&kind) {
                    self.shared_in.insert(id, SharedIn { owner, name, kind });
                }
            }
            CredentialEvent::Unlinked { id, .. } => {
                self.shared_in.remove(&id);
            }
        }
    }
}
