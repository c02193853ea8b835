//! How a webhook checks who calls it. A webhook needs no FlowForge account
//! (other systems call it), so each webhook node may name its own check in
//! its `authentication` parameter; a call that fails it answers 401 and
//! starts nothing. The check is read here, once, so a workflow whose check
//! is malformed is refused when it is saved, not when it is called.
//!
//! ```json
//! {"type": "header", "name": "X-Token", "value": "…"}
//! {"type": "basic", "user": "…", "password": "…"}
//! {"type": "hmac_sha256", "secret": "…", "header": "X-Signature",
//!  "timestamp_header": "X-Timestamp", "tolerance_secs": 300}
//! {"type": "jwt", "secret": "…"}
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The parameter of a webhook node that holds its check.
pub const AUTHENTICATION_PARAMETER: &str = "authentication";

fn signature_header() -> String {
    "x-signature".to_owned()
}

fn timestamp_header() -> String {
    "x-timestamp".to_owned()
}

fn tolerance_secs() -> u64 {
    300
}

/// A webhook's check of its caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WebhookAuth {
    /// A header must carry exactly this value.
    Header {
        /// The header's name.
        name: String,
        /// The value it must carry.
        value: String,
    },
    /// HTTP basic authentication with this user and password.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// An HMAC-SHA256 signature, in hex (optionally `sha256=`-prefixed), of
    /// `<timestamp>.<raw body>` under a shared secret; the timestamp (Unix
    /// seconds, in its own header) must be within the tolerance of now, so a
    /// captured call cannot be replayed later.
    HmacSha256 {
        /// The shared secret.
        secret: String,
        /// The header carrying the signature.
        #[serde(default = "signature_header")]
        header: String,
        /// The header carrying the timestamp.
        #[serde(default = "timestamp_header")]
        timestamp_header: String,
        /// How far the timestamp may be from now, in seconds.
        #[serde(default = "tolerance_secs")]
        tolerance_secs: u64,
    },
    /// A JWT in `Authorization: Bearer`, signed with HS256 under a shared
    /// secret, with an `exp` in the future.
    Jwt {
        /// The shared secret.
        secret: String,
    },
}

impl WebhookAuth {
    /// The check a webhook node with these parameters makes: `None` without
    /// an `authentication` parameter.
    ///
    /// # Errors
    /// Why the parameter is not a check (an unknown type, a missing or
    /// empty field).
    pub fn of_parameters(parameters: &Map<String, Value>) -> Result<Option<Self>, String> {
        let Some(value) = parameters.get(AUTHENTICATION_PARAMETER) else {
            return Ok(None);
        };
        if value.is_null() {
            return Ok(None);
        }
        let auth: Self = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        let empty = match &auth {
            Self::Header { name, value } => name.trim().is_empty() || value.is_empty(),
            Self::Basic { user, password } => user.is_empty() || password.is_empty(),
            Self::HmacSha256 {
                secret,
                header,
                timestamp_header,
                ..
            } => {
                secret.is_empty() || header.trim().is_empty() || timestamp_header.trim().is_empty()
            }
            Self::Jwt { secret } => secret.is_empty(),
        };
        if empty {
            return Err("a name, value, user, password or secret is empty".to_owned());
        }
        Ok(Some(auth))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Result<Option<WebhookAuth>, String> {
        WebhookAuth::of_parameters(
            json!({ "authentication": value })
                .as_object()
                .expect("object"),
        )
    }

    #[test]
    fn each_kind_reads_with_its_defaults() {
        assert_eq!(
            parse(json!({"type": "hmac_sha256", "secret": "s"})),
            Ok(Some(WebhookAuth::HmacSha256 {
                secret: "s".to_owned(),
                header: "x-signature".to_owned(),
                timestamp_header: "x-timestamp".to_owned(),
                tolerance_secs: 300,
            }))
        );
        assert!(matches!(
            parse(json!({"type": "basic", "user": "u", "password": "p"})),
            Ok(Some(WebhookAuth::Basic { .. }))
        ));
        assert_eq!(parse(Value::Null), Ok(None));
        assert_eq!(WebhookAuth::of_parameters(&Map::new()), Ok(None));
    }

    #[test]
    fn malformed_checks_are_refused() {
        for bad in [
            json!({"type": "magic"}),
            json!({"type": "header", "name": "X-Token"}),
            json!({"type": "header", "name": "X-Token", "value": ""}),
            json!({"type": "jwt", "secret": "s", "extra": 1}),
            json!("token"),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }
}
