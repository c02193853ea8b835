//! Data keys: one random AES-256 key per scope (a workspace's credentials,
//! later a data subject or an execution), kept in `flowforge_data_keys`
//! wrapped by the master key — beside the log, never in it, in a table whose
//! rows may be deleted, so destroying a key makes everything it sealed
//! unreadable for good. A row named `check` holds a known value sealed by
//! the master key, so a start with another master key is refused at once
//! instead of failing later on every secret.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use super::{
    master_key::MasterKey,
    sealing::{random_bytes, SealError, SealingKey, KEY_BYTES},
};
use crate::database::Database;

/// The scope of the row that tells whether the master key is the right one.
const CHECK_SCOPE: &str = "check";
/// What the check row seals.
const CHECK_VALUE: &[u8] = b"flowforge master key check";

/// Why a data key could not be had or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The master key does not open this database's keys.
    #[error("the master key does not open this database's data keys: FLOWFORGE_ENCRYPTION_KEY (or the key file) is not the one this database was set up with; every instance must use the same key")]
    WrongMasterKey,
    /// A sealed value does not open (altered, or sealed for something else).
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The database failed.
    #[error("cannot read or write data keys: {0}")]
    Database(#[from] sqlx::Error),
}

/// The data keys, unwrapped on first use and kept in memory.
pub struct Keyring {
    database: Database,
    master: MasterKey,
    unwrapped: RwLock<HashMap<String, Arc<SealingKey>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(..)")
    }
}

impl Keyring {
    /// The keyring of `database` under `master`, checked: the first start
    /// records the check row, every later one must open it.
    ///
    /// # Errors
    /// [`KeyringError::WrongMasterKey`], or what the database fails with.
    pub async fn open(database: Database, master: MasterKey) -> Result<Self, KeyringError> {
        let check = master.key.seal(CHECK_SCOPE, CHECK_VALUE)?;
        let stored = insert_or_read(&database, CHECK_SCOPE, &check).await?;
        match master.key.open(CHECK_SCOPE, &stored) {
            Ok(value) if value == CHECK_VALUE => Ok(Self {
                database,
                master,
                unwrapped: RwLock::new(HashMap::new()),
            }),
            _ => Err(KeyringError::WrongMasterKey),
        }
    }

    /// `plaintext` sealed for `owner` under the data key of `scope` (made on
    /// first use).
    ///
    /// # Errors
    /// What reading or making the key fails with.
    pub async fn seal(
        &self,
        scope: &str,
        owner: &str,
        plaintext: &[u8],
    ) -> Result<String, KeyringError> {
        Ok(self.data_key(scope).await?.seal(owner, plaintext)?)
    }

    /// What `sealed` holds, sealed for `owner` under the data key of `scope`.
    ///
    /// # Errors
    /// [`KeyringError::Seal`] for a value that does not open, and what
    /// reading the key fails with.
    pub async fn open_sealed(
        &self,
        scope: &str,
        owner: &str,
        sealed: &str,
    ) -> Result<Vec<u8>, KeyringError> {
        Ok(self.data_key(scope).await?.open(owner, sealed)?)
    }

    async fn data_key(&self, scope: &str) -> Result<Arc<SealingKey>, KeyringError> {
        if let Some(key) = self
            .unwrapped
            .read()
            .ok()
            .and_then(|k| k.get(scope).cloned())
        {
            return Ok(key);
        }
        let fresh: [u8; KEY_BYTES] = random_bytes()?;
        let wrapped = self.master.key.seal(&wrap_owner(scope), &fresh)?;
        let stored = insert_or_read(&self.database, &wrap_owner(scope), &wrapped).await?;
        let bytes = self
            .master
            .key
            .open(&wrap_owner(scope), &stored)
            .map_err(|_| KeyringError::WrongMasterKey)?;
        let bytes: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| SealError::DoesNotOpen)?;
        let key = Arc::new(SealingKey::new(&bytes)?);
        if let Ok(mut unwrapped) = self.unwrapped.write() {
            unwrapped.insert(scope.to_owned(), key.clone());
        }
        Ok(key)
    }
}

/// The row (and associated data) of a scope's data key.
fn wrap_owner(scope: &str) -> String {
    format!("data_key:{scope}")
}

/// Stores `value` under `scope` unless a value is there, and answers the
/// value that is (of two instances racing, both get the winner's).
async fn insert_or_read(
    database: &Database,
    scope: &str,
    value: &str,
) -> Result<String, sqlx::Error> {
    let insert = "INSERT INTO flowforge_data_keys (scope, wrapped) VALUES ($1, $2) \
                  ON CONFLICT (scope) DO NOTHING";
    let select = "SELECT wrapped FROM flowforge_data_keys WHERE scope = $1";
    match database {
        Database::Postgres(pool) => {
            sqlx::query(insert)
                .bind(scope)
                .bind(value)
                .execute(pool)
                .await?;
            sqlx::query_scalar(select).bind(scope).fetch_one(pool).await
        }
        Database::Sqlite { writer, .. } => {
            sqlx::query(insert)
                .bind(scope)
                .bind(value)
                .execute(writer)
                .await?;
            sqlx::query_scalar(select)
                .bind(scope)
                .fetch_one(writer)
                .await
        }
    }
}
