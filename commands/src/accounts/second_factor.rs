//! The edge's half of the TOTP second factor (the decisions are the `User`
//! aggregate's): a fresh shared secret and the `otpauth://` address an
//! authenticator app reads, the secret sealed with AES-256-GCM under a key
//! the deployment keeps beside the log (never in it) before any command
//! carries it, checking a code against the unsealed secret (RFC 6238: six
//! digits, 30-second steps, one step of clock skew either way), and the
//! recovery codes with their SHA-256. A sealed secret is bound to its
//! account, so it cannot be copied to another one.

use flowforge_domain::user::{SecondFactorProof, UserId, RECOVERY_CODES};
use flowforge_infra::keys::{key_from_text, random_bytes, SealError, SealingKey};

use crate::opaque_secret::sha256_hex;
use totp_rs::{Builder, Secret, Totp};

/// The issuer an authenticator app shows beside the account.
const ISSUER: &str = "FlowForge";
/// The shared secret's length: 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
/// Characters of a recovery code (Crockford's base32: no I, L, O, U).
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Characters per recovery code (80 bits), shown in groups of four.
const RECOVERY_CODE_CHARS: usize = 16;

/// Why the second factor's cryptography failed.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    /// The key is not 32 bytes in hex or base64.
    #[error("the second-factor key is not 32 bytes in hex or base64")]
    InvalidKey,
    /// A sealed secret does not open with this key for this account: it was
    /// altered, or the deployment's key changed.
    #[error("a second-factor secret does not open with this deployment's key")]
    Unsealing,
    /// The operating system's random source or the cipher failed.
    #[error("the second factor's cryptography failed: {0}")]
    Crypto(String),
}

/// The key shared secrets are sealed with.
#[derive(Debug)]
pub struct SecondFactorKey {
    key: SealingKey,
}

impl From<SealError> for SecondFactorError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::DoesNotOpen => Self::Unsealing,
            other => Self::Crypto(other.to_string()),
        }
    }
}

/// What a new enrolment hands the account holder (once).
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    /// The shared secret in base32, to type into an authenticator.
    pub secret: String,
    /// The `otpauth://totp/…` address an authenticator reads (as a QR code).
    pub otpauth_url: String,
}

impl SecondFactorKey {
    /// The key from 32 bytes in 64 hex digits (as the deployment's secrets
    /// hold it) or base64.
    ///
    /// # Errors
    /// [`SecondFactorError::InvalidKey`] for anything else.
    pub fn from_hex(hex: &str) -> Result<Self, SecondFactorError> {
        let bytes = key_from_text(hex).ok_or(SecondFactorError::InvalidKey)?;
        Ok(Self {
            key: SealingKey::new(&bytes)?,
        })
    }

    /// A new shared secret for the account `email` of `user_id`: what to
    /// show, and the secret sealed for the event.
    ///
    /// # Errors
    /// [`SecondFactorError::Crypto`] if the random source or cipher fails.
    pub(super) fn enrol(
        &self,
        user_id: UserId,
        email: &str,
    ) -> Result<(TotpEnrolment, String), SecondFactorError> {
        let secret: [u8; SECRET_BYTES] = random_bytes()?;
        let totp = authenticator(&secret, email)?;
        let enrolment = TotpEnrolment {
            secret: totp.secret().to_base32(),
            otpauth_url: totp
                .to_url()
                .map_err(|e| SecondFactorError::Crypto(e.to_string()))?,
        };
        Ok((enrolment, self.key.seal(&user_id.to_string(), &secret)?))
    }

    /// What `code` proves for the account whose sealed secret is `sealed`:
    /// a TOTP code's time step at `unix_secs`, or a recovery code's hash
    /// (the aggregate knows whether that is one). `None` for a TOTP code
    /// the secret does not give now.
    ///
    /// # Errors
    /// [`SecondFactorError::Unsealing`] if the secret does not open.
    pub(super) fn prove(
        &self,
        user_id: UserId,
        email: &str,
        sealed: &str,
        code: &str,
        unix_secs: u64,
    ) -> Result<Option<SecondFactorProof>, SecondFactorError> {
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if !(compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit())) {
            return Ok(Some(SecondFactorProof::RecoveryCode {
                hash: recovery_code_hash(code),
            }));
        }
        let secret = self.key.open(&user_id.to_string(), sealed)?;
        let totp = authenticator(&secret, email)?;
        Ok(totp
            .check(&compact, unix_secs)
            .map(|step| SecondFactorProof::Totp { step }))
    }

    /// Fresh recovery codes, to show once, with the hashes to record.
    ///
    /// # Errors
    /// [`SecondFactorError::Crypto`] if the random source fails.
    pub(super) fn recovery_codes(&self) -> Result<(Vec<String>, Vec<String>), SecondFactorError> {
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let bytes: [u8; RECOVERY_CODE_CHARS] = random_bytes()?;
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b % 32)]))
                .collect();
            let groups: Vec<String> = chars.chunks(4).map(|g| g.iter().collect()).collect();
            codes.push(groups.join("-"));
        }
        let hashes = codes.iter().map(|code| recovery_code_hash(code)).collect();
        Ok((codes, hashes))
    }
}

/// The authenticator for `secret`: SHA-1, six digits, 30-second steps, one
/// step of skew (what every authenticator app does).
fn authenticator(secret: &[u8], email: &str) -> Result<Totp, SecondFactorError> {
    Builder::new()
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        .with_account_name(email.replace(':', ""))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| SecondFactorError::Crypto(e.to_string()))
}

/// What is recorded of a recovery code: the SHA-256 of its characters,
/// lower-cased, without separators (so `ABCD-efgh` and `abcdefgh` match).
pub fn recovery_code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    sha256_hex(normal.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(digit: char) -> SecondFactorKey {
        SecondFactorKey::from_hex(&digit.to_string().repeat(64)).expect("key")
    }

    fn user(n: u128) -> UserId {
        UserId::from_uuid(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_for_its_account() {
        let (enrolment, sealed) = key('1').enrol(user(1), "ada@example.com").expect("enrol");
        assert!(!sealed.contains(&enrolment.secret));
        let secret = Secret::try_from_base32(&enrolment.secret).expect("base32");
        let opened = |key: SecondFactorKey, user: UserId| key.key.open(&user.to_string(), &sealed);
        assert_eq!(opened(key('1'), user(1)).expect("opens"), secret.as_bytes());
        assert_eq!(opened(key('2'), user(1)), Err(SealError::DoesNotOpen));
        assert_eq!(opened(key('1'), user(2)), Err(SealError::DoesNotOpen));
        assert!(enrolment
            .otpauth_url
            .starts_with("otpauth://totp/FlowForge:ada%40example.com?"));
    }

    #[test]
    fn a_code_proves_its_step_and_anything_else_is_a_recovery_code() {
        let key = key('3');
        let (enrolment, sealed) = key.enrol(user(1), "ada@example.com").expect("enrol");
        let secret = Secret::try_from_base32(&enrolment.secret).expect("base32");
        let now = 1_800_000_000;
        let code = authenticator(secret.as_bytes(), "ada@example.com")
            .expect("totp")
            .generate(now)
            .to_string();
        let proof = |code: &str, at| {
            key.prove(user(1), "ada@example.com", &sealed, code, at)
                .expect("proof")
        };
        assert_eq!(
            proof(&code, now),
            Some(SecondFactorProof::Totp { step: now / 30 })
        );
        assert_eq!(
            proof(&code, now + 30),
            Some(SecondFactorProof::Totp { step: now / 30 }),
            "one step of skew"
        );
        assert_eq!(proof(&code, now + 300), None, "too late");
        assert_eq!(
            proof("abcd-EFGH 2345-6789", now),
            Some(SecondFactorProof::RecoveryCode {
                hash: recovery_code_hash("abcdefgh23456789")
            })
        );
    }

    #[test]
    fn recovery_codes_are_distinct_and_recorded_by_hash() {
        let (codes, hashes) = key('4').recovery_codes().expect("codes");
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        assert!(codes
            .iter()
            .all(|c| c.len() == 19 && c.matches('-').count() == 3));
        assert_eq!(hashes[0], recovery_code_hash(&codes[0].to_uppercase()));
        assert!(!hashes.contains(&codes[0]));
    }

    #[test]
    fn a_key_is_64_hex_digits() {
        for bad in [
            "",
            "00",
            &"g".repeat(64),
            &"0".repeat(66),
            "not base64 either",
        ] {
            assert!(matches!(
                SecondFactorKey::from_hex(bad),
                Err(SecondFactorError::InvalidKey)
            ));
        }
    }
}
