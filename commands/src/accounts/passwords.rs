//! Passwords: hashed with Argon2id (parameters from configuration) on a
//! blocking thread, checked against a minimum length and a list of common
//! passwords, and verified in the same time whether the account exists or
//! not (an unknown account is verified against a dummy hash).

use std::sync::Arc;

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, SaltString},
    Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version,
};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted (bounds the hashing work an attacker can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Passwords refused because everyone tries them first.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Why a password cannot be used or hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short, too long, or too common.
    #[error("weak password: {0}")]
    Weak(&'static str),
    /// The Argon2 parameters are out of range, or hashing failed.
    #[error("cannot hash the password: {0}")]
    Hashing(String),
}

/// Argon2id's cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    /// OWASP's recommended minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct Passwords {
    argon2: Arc<Argon2<'static>>,
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// Argon2id with `settings`.
    ///
    /// # Errors
    /// [`PasswordError::Hashing`] when the parameters are out of range.
    pub fn new(settings: Argon2Settings) -> Result<Self, PasswordError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Hashing(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let dummy_hash = argon2
            .hash_password(b"not a password anyone has", &salt)
            .map_err(|e| PasswordError::Hashing(e.to_string()))?
            .to_string();
        Ok(Self {
            argon2: Arc::new(argon2),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Refuses a password that is too short, too long or too common.
    ///
    /// # Errors
    /// [`PasswordError::Weak`] saying which.
    pub fn check_strength(password: &str) -> Result<(), PasswordError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordError::Weak("at least 10 characters"));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::Weak("at most 1024 bytes"));
        }
        let lowered = password.to_lowercase();
        if COMMON_PASSWORDS.lines().any(|common| common == lowered) {
            return Err(PasswordError::Weak("one of the most common passwords"));
        }
        Ok(())
    }

    /// The PHC string of `password`'s Argon2id hash with a fresh salt.
    ///
    /// # Errors
    /// [`PasswordError::Hashing`] if hashing fails.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let argon2 = self.argon2.clone();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| PasswordError::Hashing(e.to_string()))
        })
        .await
        .map_err(|e| PasswordError::Hashing(e.to_string()))?
    }

    /// Whether `password` matches `hash`; with no hash (no such account), the
    /// same work is done against a dummy hash and the answer is false.
    pub async fn verify(&self, hash: Option<String>, password: String) -> bool {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let argon2 = self.argon2.clone();
        let matched = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .is_ok_and(|parsed| argon2.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .unwrap_or(false);
        known && matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .expect("parameters")
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let passwords = cheap();
        let hash = passwords
            .hash("correct horse battery".to_owned())
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(
            passwords
                .verify(Some(hash.clone()), "correct horse battery".to_owned())
                .await
        );
        assert!(
            !passwords
                .verify(Some(hash), "correct horse battery!".to_owned())
                .await
        );
        assert!(
            !passwords
                .verify(None, "not a password anyone has".to_owned())
                .await
        );
    }

    #[test]
    fn short_and_common_passwords_are_weak() {
        assert!(Passwords::check_strength("short").is_err());
        assert!(Passwords::check_strength("Password123").is_err());
        assert!(Passwords::check_strength(&"x".repeat(2000)).is_err());
        assert!(Passwords::check_strength("a long and unusual phrase").is_ok());
    }
}
