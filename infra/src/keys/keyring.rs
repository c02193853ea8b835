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
    /// A key changed while a rotation re-wrapped it.
    #[error("a data key changed during the rotation; run it again to finish")]
    Concurrent,
    /// The database failed.
    #[error("cannot read or write data keys: {0}")]
    Database(#[from] sqlx::Error),
}

/// The data keys, unwrapped on first use and kept in memory.
pub struct Keyring {
    database: Database,
    master: MasterKey,
    /// The key being rotated away from, during a rotation.
    previous: Option<MasterKey>,
    unwrapped: RwLock<HashMap<String, Arc<SealingKey>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(..)")
    }
}

impl Keyring {
    /// The keyring of `database` under `master`, checked: the first start
    /// records the check row, every later one must open it — with `master`
    /// or, while a rotation is under way, with `previous` (the key being
    /// rotated away from). New data keys are always wrapped by `master`.
    ///
    /// # Errors
    /// [`KeyringError::WrongMasterKey`], or what the database fails with.
    pub async fn open(
        database: Database,
        master: MasterKey,
        previous: Option<MasterKey>,
    ) -> Result<Self, KeyringError> {
        let check = master.key.seal(CHECK_SCOPE, CHECK_VALUE)?;
        let stored = insert_or_read(&database, CHECK_SCOPE, &check).await?;
        let keyring = Self {
            database,
            master,
            previous,
            unwrapped: RwLock::new(HashMap::new()),
        };
        match keyring.unwrap(CHECK_SCOPE, &stored) {
            Ok(value) if value == CHECK_VALUE => Ok(keyring),
            _ => Err(KeyringError::WrongMasterKey),
        }
    }

    /// What a row wrapped by the master key (or the previous one) holds.
    fn unwrap(&self, row: &str, wrapped: &str) -> Result<Vec<u8>, KeyringError> {
        self.master
            .key
            .open(row, wrapped)
            .or_else(|error| match &self.previous {
                Some(previous) => previous.key.open(row, wrapped),
                None => Err(error),
            })
            .map_err(|_| KeyringError::WrongMasterKey)
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
        let bytes = self.unwrap(&wrap_owner(scope), &stored)?;
        let bytes: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| SealError::DoesNotOpen)?;
        let key = Arc::new(SealingKey::new(&bytes)?);
        if let Ok(mut unwrapped) = self.unwrapped.write() {
            unwrapped.insert(scope.to_owned(), key.clone());
        }
        Ok(key)
    }
}

/// Re-wraps every key of `database` (and the check row) under `new`;
/// answers how many rows it re-wrapped. Each row is replaced on its own,
/// only if it is still what was read, so a rotation can run while instances
/// serve: started with `new` as their key and `old` as the previous one,
/// they open rows under either. A row wrapped by `new` already is
/// re-wrapped too, so an interrupted rotation is finished by running it
/// again. A row neither key opens stops it before anything changes.
///
/// # Errors
/// [`KeyringError::WrongMasterKey`] if a row opens with neither key,
/// [`KeyringError::Concurrent`] if a row changed meanwhile, and what the
/// database fails with.
pub async fn rotate(
    database: &Database,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<usize, KeyringError> {
    let select = "SELECT scope, wrapped FROM flowforge_data_keys ORDER BY scope";
    let rows: Vec<(String, String)> = match database {
        Database::Postgres(pool) => sqlx::query_as(select).fetch_all(pool).await?,
        Database::Sqlite { writer, .. } => sqlx::query_as(select).fetch_all(writer).await?,
    };
    let mut rewrapped = Vec::with_capacity(rows.len());
    for (row, wrapped) in rows {
        let key = old
            .key
            .open(&row, &wrapped)
            .or_else(|_| new.key.open(&row, &wrapped))
            .map_err(|_| KeyringError::WrongMasterKey)?;
        rewrapped.push((row.clone(), wrapped, new.key.seal(&row, &key)?));
    }
    for (row, wrapped, fresh) in &rewrapped {
        if !replace(database, row, wrapped, fresh).await? {
            return Err(KeyringError::Concurrent);
        }
    }
    Ok(rewrapped.len())
}

/// Replaces row `row` by `fresh` if it still holds `wrapped`; whether it did.
async fn replace(
    database: &Database,
    row: &str,
    wrapped: &str,
    fresh: &str,
) -> Result<bool, sqlx::Error> {
    let update = "UPDATE flowforge_data_keys SET wrapped = $1 WHERE scope = $2 AND wrapped = $3";
    let replaced = match database {
        Database::Postgres(pool) => sqlx::query(update)
            .bind(fresh)
            .bind(row)
            .bind(wrapped)
            .execute(pool)
            .await?
            .rows_affected(),
        Database::Sqlite { writer, .. } => sqlx::query(update)
            .bind(fresh)
            .bind(row)
            .bind(wrapped)
            .execute(writer)
            .await?
            .rows_affected(),
    };
    Ok(replaced == 1)
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
    database.insert_or_read(insert, select, scope, value).await
}
