//! One AEAD seal for every secret FlowForge keeps: AES-256-GCM with a fresh
//! random 96-bit nonce per seal, the nonce and tag kept with the ciphertext,
//! and associated data binding a sealed value to what it belongs to (an
//! account, a workspace, a credential), so it cannot be moved elsewhere.
//! A value that was altered, or is opened with another key or for another
//! owner, fails the tag check: it is refused, never decrypted to garbage.

use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use ring::{
    aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN},
    rand::{SecureRandom, SystemRandom},
};

/// What a sealed value starts with, so another format can follow.
const SEALED_PREFIX: &str = "v1.";
/// A key's length in bytes.
pub const KEY_BYTES: usize = 32;

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The value is not a sealed value, was altered, or belongs to another
    /// key or owner.
    #[error("the sealed value does not open: it was altered, or belongs to another key or owner")]
    DoesNotOpen,
    /// The operating system's random source failed.
    #[error("the random source failed")]
    Random,
    /// The cipher refused the key.
    #[error("the key is not an AES-256 key")]
    InvalidKey,
}

/// A key values are sealed with.
pub struct SealingKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// The key made of `bytes`.
    ///
    /// # Errors
    /// [`SealError::InvalidKey`] if the cipher refuses it (32 bytes never are).
    pub fn new(bytes: &[u8; KEY_BYTES]) -> Result<Self, SealError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::InvalidKey)?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// `plaintext` sealed for `owner`, as text (`v1.` and base64url).
    ///
    /// # Errors
    /// [`SealError::Random`] if no nonce could be drawn.
    pub fn seal(&self, owner: &str, plaintext: &[u8]) -> Result<String, SealError> {
        let nonce: [u8; NONCE_LEN] = random_bytes()?;
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| SealError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// What `sealed` holds, if it was sealed with this key for `owner`.
    ///
    /// # Errors
    /// [`SealError::DoesNotOpen`] otherwise.
    pub fn open(&self, owner: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let bytes = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
            .filter(|bytes| bytes.len() > NONCE_LEN)
            .ok_or(SealError::DoesNotOpen)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::DoesNotOpen)?;
        let mut opened = ciphertext.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut opened)
            .map_err(|_| SealError::DoesNotOpen)?;
        Ok(plaintext.to_vec())
    }
}

/// A key written as 64 hex digits or as base64, if `text` is one.
pub fn key_from_text(text: &str) -> Option<[u8; KEY_BYTES]> {
    let text = text.trim();
    let hex = (text.len() == 2 * KEY_BYTES && text.is_ascii())
        .then(|| {
            (0..text.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .flatten();
    hex.or_else(|| STANDARD.decode(text).ok())
        .and_then(|bytes| <[u8; KEY_BYTES]>::try_from(bytes).ok())
}

/// `N` bytes from the operating system's random source.
///
/// # Errors
/// [`SealError::Random`] if it failed.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SealError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SealError::Random)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_for_its_owner() {
        let key = SealingKey::new(&[1; KEY_BYTES]).expect("key");
        let sealed = key.seal("owner-1", b"s3cret").expect("seal");
        assert!(!sealed.contains("s3cret"));
        assert_ne!(
            sealed,
            key.seal("owner-1", b"s3cret").expect("seal"),
            "fresh nonce"
        );
        assert_eq!(key.open("owner-1", &sealed).expect("opens"), b"s3cret");
        assert_eq!(key.open("owner-2", &sealed), Err(SealError::DoesNotOpen));
        let other = SealingKey::new(&[2; KEY_BYTES]).expect("key");
        assert_eq!(other.open("owner-1", &sealed), Err(SealError::DoesNotOpen));
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("ascii");
        assert_eq!(key.open("owner-1", &altered), Err(SealError::DoesNotOpen));
        for junk in [
            "",
            "v1.",
            "v1.AAAA",
            "v2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "plain",
        ] {
            assert_eq!(key.open("owner-1", junk), Err(SealError::DoesNotOpen));
        }
    }
}
