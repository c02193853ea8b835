//! Checks a webhook call against its node's [`WebhookAuth`] before anything
//! starts: a header token, basic authentication, an HMAC-SHA256 signature of
//! the raw body with a timestamp within a tolerance, or a JWT. Secrets are
//! compared in constant time; every failure is the same 401 to the caller
//! (the reason goes to the log), so a caller learns nothing about which part
//! was wrong.

use axum::http::{header::AUTHORIZATION, HeaderMap};
use base64::{engine::general_purpose::STANDARD, Engine};
use flowforge_domain::webhook_path::WebhookAuth;
use hmac::{Hmac, Mac};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::authentication::authorization;

/// Why a call failed its webhook's check (logged, not returned).
#[derive(Debug, thiserror::Error)]
pub enum WebhookAuthError {
    /// A header the check reads is missing or not text.
    #[error("header {0} is missing")]
    Missing(String),
    /// The token, password or signature does not match.
    #[error("the credentials do not match")]
    Mismatch,
    /// The signed timestamp is not a number, or too far from now.
    #[error("the timestamp is outside the tolerance")]
    Stale,
    /// The JWT is malformed, expired or signed otherwise.
    #[error("invalid token: {0}")]
    InvalidToken(String),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, WebhookAuthError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or_else(|| WebhookAuthError::Missing(name.to_owned()))
}

/// The credentials of `Authorization: <scheme> …`: missing without the
/// header, a mismatch with another scheme.
fn scheme_credentials<'a>(
    headers: &'a HeaderMap,
    scheme: &str,
) -> Result<&'a str, WebhookAuthError> {
    header(headers, AUTHORIZATION.as_str())?;
    authorization(headers, scheme).ok_or(WebhookAuthError::Mismatch)
}

fn same(a: &[u8], b: &[u8]) -> Result<(), WebhookAuthError> {
    if bool::from(a.ct_eq(b)) {
        Ok(())
    } else {
        Err(WebhookAuthError::Mismatch)
    }
}

/// Checks a call with these headers and raw body, at `now` (Unix seconds).
///
/// # Errors
/// [`WebhookAuthError`] saying what failed.
pub fn verify(
    auth: &WebhookAuth,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), WebhookAuthError> {
    match auth {
        WebhookAuth::Header { name, value } => {
            same(header(headers, name)?.as_bytes(), value.as_bytes())
        }
        WebhookAuth::Basic { user, password } => {
            let expected = STANDARD.encode(format!("{user}:{password}"));
            let credentials = scheme_credentials(headers, "basic")?;
            same(credentials.as_bytes(), expected.as_bytes())
        }
        WebhookAuth::HmacSha256 {
            secret,
            header: signature_header,
            timestamp_header,
            tolerance_secs,
        } => {
            let timestamp = header(headers, timestamp_header)?;
            let signed_at: i64 = timestamp.parse().map_err(|_| WebhookAuthError::Stale)?;
            if now.abs_diff(signed_at) > *tolerance_secs {
                return Err(WebhookAuthError::Stale);
            }
            let presented = header(headers, signature_header)?;
            let presented = presented.strip_prefix("sha256=").unwrap_or(presented);
            let presented = hex_bytes(presented).ok_or(WebhookAuthError::Mismatch)?;
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .map_err(|_| WebhookAuthError::Mismatch)?;
            mac.update(timestamp.as_bytes());
            mac.update(b".");
            mac.update(body);
            mac.verify_slice(&presented)
                .map_err(|_| WebhookAuthError::Mismatch)
        }
        WebhookAuth::Jwt { secret } => {
            let token = scheme_credentials(headers, "bearer")?;
            let mut validation = Validation::new(Algorithm::HS256);
            validation.set_required_spec_claims(&["exp"]);
            decode::<serde_json::Value>(
                token,
                &DecodingKey::from_secret(secret.as_bytes()),
                &validation,
            )
            .map(|_| ())
            .map_err(|e| WebhookAuthError::InvalidToken(e.to_string()))
        }
    }
}

/// Hex digits as bytes; `None` if they are not.
fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                    value.parse().expect("value"),
                )
            })
            .collect()
    }

    fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn a_header_token_must_match_exactly() {
        let auth = WebhookAuth::Header {
            name: "x-token".to_owned(),
            value: "s3cret".to_owned(),
        };
        assert!(verify(&auth, &headers(&[("x-token", "s3cret")]), b"", 0).is_ok());
        assert!(verify(&auth, &headers(&[("x-token", "s3creT")]), b"", 0).is_err());
        assert!(verify(&auth, &headers(&[("x-token", "s3cret!")]), b"", 0).is_err());
        assert!(verify(&auth, &headers(&[]), b"", 0).is_err());
    }

    #[test]
    fn basic_authentication_checks_user_and_password() {
        let auth = WebhookAuth::Basic {
            user: "ci".to_owned(),
            password: "pw".to_owned(),
        };
        let good = format!("Basic {}", STANDARD.encode("ci:pw"));
        let bad = format!("Basic {}", STANDARD.encode("ci:pW"));
        assert!(verify(&auth, &headers(&[("authorization", &good)]), b"", 0).is_ok());
        assert!(verify(&auth, &headers(&[("authorization", &bad)]), b"", 0).is_err());
        assert!(verify(&auth, &headers(&[("authorization", "Bearer x")]), b"", 0).is_err());
    }

    #[test]
    fn an_hmac_signature_covers_the_body_and_a_recent_timestamp() {
        let auth = WebhookAuth::HmacSha256 {
            secret: "key".to_owned(),
            header: "x-signature".to_owned(),
            timestamp_header: "x-timestamp".to_owned(),
            tolerance_secs: 300,
        };
        let body = br#"{"order": 1}"#;
        let signed = signature("key", "1000", body);
        let prefixed = format!("sha256={signed}");
        for (sig, now, body, ok) in [
            (signed.as_str(), 1000, &body[..], true),
            (prefixed.as_str(), 1299, &body[..], true),
            (signed.as_str(), 1301, &body[..], false),
            (signed.as_str(), 699, &body[..], false),
            (signed.as_str(), 1000, &br#"{"order": 2}"#[..], false),
            ("zz", 1000, &body[..], false),
        ] {
            let result = verify(
                &auth,
                &headers(&[("x-signature", sig), ("x-timestamp", "1000")]),
                body,
                now,
            );
            assert_eq!(result.is_ok(), ok, "{sig} at {now}");
        }
    }

    #[test]
    fn a_jwt_must_be_signed_with_the_secret_and_unexpired() {
        use jsonwebtoken::{encode, EncodingKey, Header};
        let auth = WebhookAuth::Jwt {
            secret: "shared".to_owned(),
        };
        let token = |secret: &str, exp: i64| {
            encode(
                &Header::new(Algorithm::HS256),
                &serde_json::json!({"exp": exp, "sub": "caller"}),
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .expect("token")
        };
        let future = chrono::Utc::now().timestamp() + 600;
        let bearer = |t: String| format!("Bearer {t}");
        let ok = bearer(token("shared", future));
        assert!(verify(&auth, &headers(&[("authorization", &ok)]), b"", 0).is_ok());
        for bad in [
            bearer(token("other", future)),
            bearer(token("shared", future - 1200)),
            "Bearer not.a.token".to_owned(),
        ] {
            assert!(
                verify(&auth, &headers(&[("authorization", &bad)]), b"", 0).is_err(),
                "{bad}"
            );
        }
    }
}
