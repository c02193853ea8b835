//! Encryption at rest: the master key from configuration (`master_key`), the
//! data keys it wraps, one per scope, kept beside the log in a table that
//! allows deletion (`keyring`), and the one AEAD seal both use (`sealing`).
//! Secrets reach events only sealed.

mod keyring;
mod master_key;
mod sealing;

pub use keyring::{rotate, Keyring, KeyringError};
pub use master_key::{
    replace_key_file, MasterKey, MasterKeyError, MasterKeyOrigin, DEFAULT_KEY_FILE,
};
pub use sealing::{key_from_text, random_bytes, SealError, SealingKey, KEY_BYTES};
