//! The kinds of credential and the fields each holds. A field is secret
//! (write-only: it is sealed, and the API only ever says that it is set) or
//! not (shown back, e.g. a host or a header's name). Values are strings,
//! numbers or booleans.

use serde_json::{Map, Value};

use super::CredentialError;

/// One field of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Its name in `data`.
    pub name: &'static str,
    /// Whether it is write-only.
    pub secret: bool,
    /// Whether a credential of the kind must have it.
    pub required: bool,
}

const fn field(name: &'static str, secret: bool, required: bool) -> Field {
    Field {
        name,
        secret,
        required,
    }
}

const NAMED_VALUE: &[Field] = &[field("name", false, true), field("value", true, true)];
const BASIC: &[Field] = &[field("user", false, true), field("password", true, true)];
const BEARER: &[Field] = &[field("token", true, true)];
const DATABASE: &[Field] = &[
    field("host", false, true),
    field("port", false, false),
    field("database", false, true),
    field("user", false, true),
    field("password", true, false),
    field("ssl_mode", false, false),
];
const REDIS: &[Field] = &[
    field("host", false, true),
    field("port", false, false),
    field("user", false, false),
    field("password", true, false),
    field("database", false, false),
];
const MAIL: &[Field] = &[
    field("host", false, true),
    field("port", false, false),
    field("user", false, false),
    field("password", true, false),
    field("secure", false, false),
];
const BROKER: &[Field] = &[
    field("host", false, true),
    field("port", false, false),
    field("user", false, false),
    field("password", true, false),
    field("vhost", false, false),
];
const OAUTH2_CLIENT_CREDENTIALS: &[Field] = &[
    field("token_url", false, true),
    field("client_id", false, true),
    field("client_secret", true, true),
    field("scope", false, false),
    field("auth_method", false, false),
];
const OAUTH2_AUTHORIZATION_CODE: &[Field] = &[
    field("authorize_url", false, true),
    field("token_url", false, true),
    field("client_id", false, true),
    field("client_secret", true, true),
    field("scope", false, false),
    field("auth_method", false, false),
    field("access_token", true, false),
    field("refresh_token", true, false),
    field("expires_at", false, false),
];
const S3: &[Field] = &[
    field("endpoint", false, false),
    field("region", false, false),
    field("access_key_id", false, true),
    field("secret_access_key", true, true),
];

/// What a credential is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::EnumIter)]
pub enum CredentialKind {
    /// A header sent with every request (`Authorization: Bearer …`, `X-API-Key: …`).
    HttpHeaderAuth,
    /// HTTP basic authentication.
    HttpBasicAuth,
    /// `Authorization: Bearer <token>`.
    HttpBearerAuth,
    /// A query parameter added to every request (`?api_key=…`).
    HttpQueryAuth,
    /// OAuth 2.0 client credentials: a token fetched with the client's id
    /// and secret, sent as `Authorization: Bearer`.
    OAuth2ClientCredentials,
    /// OAuth 2.0 authorization code: a user grants access once; the token
    /// is sent as `Authorization: Bearer` and refreshed when it expires.
    OAuth2AuthorizationCode,
    /// A PostgreSQL server.
    Postgres,
    /// A MySQL or MariaDB server.
    Mysql,
    /// A Redis server.
    Redis,
    /// An SMTP server to send mail through.
    Smtp,
    /// An IMAP mailbox.
    Imap,
    /// An AMQP (RabbitMQ) broker.
    Amqp,
    /// An MQTT broker.
    Mqtt,
    /// S3 or an S3-compatible store.
    S3,
}

impl CredentialKind {
    /// Every kind.
    pub fn all() -> impl Iterator<Item = Self> {
        <Self as strum::IntoEnumIterator>::iter()
    }

    /// Its name in the API and in a node's `credentials`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HttpHeaderAuth => "http_header_auth",
            Self::HttpBasicAuth => "http_basic_auth",
            Self::HttpBearerAuth => "http_bearer_auth",
            Self::HttpQueryAuth => "http_query_auth",
            Self::OAuth2ClientCredentials => "oauth2_client_credentials",
            Self::OAuth2AuthorizationCode => "oauth2_authorization_code",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
            Self::Redis => "redis",
            Self::Smtp => "smtp",
            Self::Imap => "imap",
            Self::Amqp => "amqp",
            Self::Mqtt => "mqtt",
            Self::S3 => "s3",
        }
    }

    /// The kind named `name`.
    ///
    /// # Errors
    /// [`CredentialError::UnknownKind`] naming the kinds there are.
    pub fn parse(name: &str) -> Result<Self, CredentialError> {
        Self::all()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| CredentialError::UnknownKind(name.to_owned()))
    }

    /// The fields a credential of this kind holds.
    pub const fn fields(self) -> &'static [Field] {
        match self {
            Self::HttpHeaderAuth | Self::HttpQueryAuth => NAMED_VALUE,
            Self::HttpBasicAuth => BASIC,
            Self::HttpBearerAuth => BEARER,
            Self::OAuth2ClientCredentials => OAUTH2_CLIENT_CREDENTIALS,
            Self::OAuth2AuthorizationCode => OAUTH2_AUTHORIZATION_CODE,
            Self::Postgres | Self::Mysql => DATABASE,
            Self::Redis => REDIS,
            Self::Smtp | Self::Imap => MAIL,
            Self::Amqp | Self::Mqtt => BROKER,
            Self::S3 => S3,
        }
    }

    /// The port a kind with a `host` connects to when `port` is not given.
    pub const fn default_port(self) -> Option<u16> {
        match self {
            Self::Postgres => Some(5432),
            Self::Mysql => Some(3306),
            Self::Redis => Some(6379),
            Self::Smtp => Some(587),
            Self::Imap => Some(993),
            Self::Amqp => Some(5672),
            Self::Mqtt => Some(1883),
            Self::HttpHeaderAuth
            | Self::HttpBasicAuth
            | Self::HttpBearerAuth
            | Self::HttpQueryAuth
            | Self::OAuth2ClientCredentials
            | Self::OAuth2AuthorizationCode
            | Self::S3 => None,
        }
    }

    /// Refuses `data` that is not a credential of this kind: an unknown
    /// field, a value that is not a string, number or boolean, or a required
    /// field missing or empty.
    ///
    /// # Errors
    /// [`CredentialError::InvalidData`] naming the field.
    pub fn check(self, data: &Map<String, Value>) -> Result<(), CredentialError> {
        let invalid = |why: String| CredentialError::InvalidData {
            kind: self.as_str(),
            why,
        };
        for (name, value) in data {
            if !self.fields().iter().any(|f| f.name == name) {
                let known: Vec<&str> = self.fields().iter().map(|f| f.name).collect();
                return Err(invalid(format!(
                    "unknown field {name:?} (it has {})",
                    known.join(", ")
                )));
            }
            if !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                return Err(invalid(format!(
                    "{name:?} must be a string, number or boolean"
                )));
            }
        }
        for required in self.fields().iter().filter(|f| f.required) {
            match data.get(required.name) {
                None => return Err(invalid(format!("{:?} is required", required.name))),
                Some(Value::String(s)) if s.trim().is_empty() => {
                    return Err(invalid(format!("{:?} is empty", required.name)))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The fields of `data` that are not secret, to show back.
    pub fn public(self, data: &Map<String, Value>) -> Map<String, Value> {
        data.iter()
            .filter(|(name, _)| self.fields().iter().any(|f| f.name == *name && !f.secret))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }

    /// The names of the secret fields `data` sets.
    pub fn secrets_set(self, data: &Map<String, Value>) -> Vec<String> {
        self.fields()
            .iter()
            .filter(|f| f.secret && data.contains_key(f.name))
            .map(|f| f.name.to_owned())
            .collect()
    }
}

impl std::fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn every_kind_reads_back_by_name() {
        for kind in CredentialKind::all() {
            assert_eq!(CredentialKind::parse(kind.as_str()).expect("known"), kind);
            assert!(
                kind.fields().iter().any(|f| f.secret),
                "{kind} has a secret"
            );
        }
        assert!(matches!(
            CredentialKind::parse("oauth9"),
            Err(CredentialError::UnknownKind(_))
        ));
    }

    #[test]
    fn data_is_checked_against_the_kind() {
        let kind = CredentialKind::HttpHeaderAuth;
        let good = data(json!({"name": "Authorization", "value": "Bearer x"}));
        assert!(kind.check(&good).is_ok());
        assert_eq!(kind.public(&good), data(json!({"name": "Authorization"})));
        assert_eq!(kind.secrets_set(&good), ["value"]);
        for bad in [
            json!({"name": "A"}),
            json!({"name": "A", "value": ""}),
            json!({"name": "A", "value": "v", "extra": 1}),
            json!({"name": "A", "value": {"nested": true}}),
        ] {
            assert!(
                matches!(
                    kind.check(&data(bad.clone())),
                    Err(CredentialError::InvalidData { .. })
                ),
                "{bad}"
            );
        }
        let postgres = data(json!({"host": "db", "port": 5432, "database": "app", "user": "u"}));
        assert!(CredentialKind::Postgres.check(&postgres).is_ok());
    }
}
