//! OAuth 2.0 (RFC 6749) tokens for the credentials that use them, through
//! the `oauth2` crate: the client-credentials grant (a token fetched when
//! needed and reused until shortly before it expires), the authorization
//! code grant with PKCE (the link a user follows to grant access, and the
//! exchange of the code the provider sends back) and refreshing a token.
//! Token requests go through a client that connects only where the
//! destination guard allows and follows no redirect (a token endpoint that
//! redirects is a way to send the client secret elsewhere).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use hashlink::LruCache;
use oauth2::{
    basic::{BasicClient, BasicErrorResponse},
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, HttpClientError, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde_json::{Map, Value};

use crate::{destinations::OutboundPolicy, Refused, TlsTrust, TrustError};

/// A token is used only while it has more than this left.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// How long the longest token request may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Client-credentials tokens kept.
const CACHED_TOKENS: usize = 10_000;
/// How long a token whose provider gave no lifetime is reused.
const UNSTATED_LIFETIME: Duration = Duration::from_secs(300);

/// An OAuth 2.0 client, as a credential describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Client {
    /// Where a user grants access (authorization code grant only).
    pub authorize_url: Option<String>,
    /// Where tokens are issued.
    pub token_url: String,
    /// The client's id.
    pub client_id: String,
    /// The client's secret.
    pub client_secret: String,
    /// The scopes asked for, space-separated.
    pub scope: Option<String>,
    /// Whether the client authenticates in the request body
    /// (`client_id`/`client_secret` form fields) rather than with HTTP
    /// basic authentication (the RFC's recommended default).
    pub credentials_in_body: bool,
}

impl OAuth2Client {
    /// The client an OAuth 2.0 credential's fields describe (`token_url`,
    /// `client_id`, `client_secret`, and optionally `authorize_url`,
    /// `scope`, and `auth_method`: `body` or the default, `header`).
    pub fn from_fields(fields: &Map<String, Value>) -> Self {
        let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
        Self {
            authorize_url: text("authorize_url"),
            token_url: text("token_url").unwrap_or_default(),
            client_id: text("client_id").unwrap_or_default(),
            client_secret: text("client_secret").unwrap_or_default(),
            scope: text("scope").filter(|s| !s.trim().is_empty()),
            credentials_in_body: text("auth_method").as_deref() == Some("body"),
        }
    }
}

/// A token the provider issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The access token to send as `Authorization: Bearer`.
    pub access_token: String,
    /// The refresh token, if the provider issued one.
    pub refresh_token: Option<String>,
    /// When the access token expires (seconds since the Unix epoch), if the
    /// provider said.
    pub expires_at: Option<u64>,
}

impl Token {
    /// The token an authorization-code credential's fields hold
    /// (`access_token`, `refresh_token`, `expires_at`), if any.
    pub fn from_fields(fields: &Map<String, Value>) -> Option<Self> {
        Some(Self {
            access_token: fields.get("access_token")?.as_str()?.to_owned(),
            refresh_token: fields
                .get("refresh_token")
                .and_then(Value::as_str)
                .map(str::to_owned),
            expires_at: fields.get("expires_at").and_then(Value::as_u64),
        })
    }

    /// The token as the fields an authorization-code credential keeps
    /// (`null` removes a field the provider no longer gives).
    pub fn to_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("access_token".to_owned(), self.access_token.clone().into());
        fields.insert(
            "refresh_token".to_owned(),
            self.refresh_token.clone().map_or(Value::Null, Value::from),
        );
        fields.insert(
            "expires_at".to_owned(),
            self.expires_at.map_or(Value::Null, Value::from),
        );
        fields
    }

    /// Whether the access token is still good for a request now (it has
    /// more than a short margin left, or no known expiry).
    pub fn fresh(&self) -> bool {
        self.expires_at
            .is_none_or(|at| at > unix_now().saturating_add(EXPIRY_MARGIN.as_secs()))
    }
}

/// Why a token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum OAuth2Failure {
    /// A URL of the client is not a URL.
    #[error("{which} {url:?} is not a URL: {why}")]
    InvalidUrl {
        /// Which one.
        which: &'static str,
        /// It.
        url: String,
        /// Why.
        why: String,
    },
    /// The provider refused (`invalid_client`, `invalid_grant`, …).
    #[error("the token endpoint refused: {0}")]
    Denied(String),
    /// The request did not reach the provider or its answer is not a token.
    #[error("cannot get a token: {0}")]
    Request(String),
    /// The token endpoint is an address nodes may not reach.
    #[error(transparent)]
    Refused(#[from] Refused),
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn url<T>(
    which: &'static str,
    value: &str,
    make: impl FnOnce(String) -> Result<T, url::ParseError>,
) -> Result<T, OAuth2Failure> {
    make(value.to_owned()).map_err(|e| OAuth2Failure::InvalidUrl {
        which,
        url: value.to_owned(),
        why: e.to_string(),
    })
}

fn scopes(client: &OAuth2Client) -> Vec<Scope> {
    client
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(|s| Scope::new(s.to_owned()))
        .collect()
}

type TokenError = RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>;

fn failure(error: TokenError) -> OAuth2Failure {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let mut said = response.error().to_string();
            if let Some(description) = response.error_description() {
                said = format!("{said}: {description}");
            }
            OAuth2Failure::Denied(said)
        }
        RequestTokenError::Request(request) => {
            OAuth2Failure::Request(std::error::Error::source(&request).map_or_else(
                || request.to_string(),
                |source| format!("{request}: {source}"),
            ))
        }
        RequestTokenError::Parse(parse, _) => {
            OAuth2Failure::Request(format!("the answer is not a token: {parse}"))
        }
        RequestTokenError::Other(other) => OAuth2Failure::Request(other),
    }
}

fn token_of(response: &impl TokenResponse) -> Token {
    Token {
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|r| r.secret().clone()),
        expires_at: response
            .expires_in()
            .map(|d| unix_now().saturating_add(d.as_secs())),
    }
}

/// A client with only its token endpoint set.
type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Gets tokens over a guarded HTTP client.
#[derive(Clone)]
pub struct OAuth2Tokens {
    http: reqwest::Client,
    destinations: Arc<OutboundPolicy>,
    cached: Arc<Mutex<LruCache<[u8; 32], Token>>>,
}

/// The HTTP client for token requests: trusting `trust`, connecting only
/// where `destinations` allows, following no redirect.
///
/// # Errors
/// [`TrustError`] when the client cannot be built.
pub fn token_http_client(
    trust: &TlsTrust,
    destinations: &Arc<OutboundPolicy>,
) -> Result<reqwest::Client, TrustError> {
    let builder = reqwest::Client::builder()
        .dns_resolver(destinations.resolver())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TOKEN_TIMEOUT);
    trust.http_client(builder)
}

impl OAuth2Tokens {
    /// Token requests over `http` (see [`token_http_client`]) to token
    /// endpoints `destinations` lets through: a host written as an address
    /// is checked here, since no resolver sees it.
    pub fn new(http: reqwest::Client, destinations: Arc<OutboundPolicy>) -> Self {
        Self {
            http,
            destinations,
            cached: Arc::new(Mutex::new(LruCache::new(CACHED_TOKENS))),
        }
    }

    /// `client` as the `oauth2` crate's client of its token endpoint: it
    /// authenticates with its secret (by HTTP basic, or in the body), to a
    /// token URL nodes may reach.
    fn token_client(&self, client: &OAuth2Client) -> Result<TokenClient, OAuth2Failure> {
        let token_url = url("token_url", &client.token_url, TokenUrl::new)?;
        self.destinations.check_url(token_url.url())?;
        let auth_type = if client.credentials_in_body {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        };
        Ok(BasicClient::new(ClientId::new(client.client_id.clone()))
            .set_client_secret(ClientSecret::new(client.client_secret.clone()))
            .set_auth_type(auth_type)
            .set_token_uri(token_url))
    }

    /// A client-credentials token for `client`: the one fetched before
    /// while it is fresh, else a new one.
    ///
    /// # Errors
    /// [`OAuth2Failure`], saying what the provider or the connection did.
    pub async fn client_credentials(&self, client: &OAuth2Client) -> Result<Token, OAuth2Failure> {
        let key = cache_key(client);
        let cached = self
            .cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(token) = cached.filter(Token::fresh) {
            return Ok(token);
        }
        self.new_client_credentials(client).await
    }

    /// A new client-credentials token for `client`, never the cached one
    /// (a connection test must reach the provider); it replaces the cached
    /// one.
    ///
    /// # Errors
    /// [`OAuth2Failure`], saying what the provider or the connection did.
    pub async fn new_client_credentials(
        &self,
        client: &OAuth2Client,
    ) -> Result<Token, OAuth2Failure> {
        let oauth = self.token_client(client)?;
        let response = oauth
            .exchange_client_credentials()
            .add_scopes(scopes(client))
            .request_async(&self.http)
            .await
            .map_err(failure)?;
        let mut token = token_of(&response);
        // A token of unstated lifetime is reused for a while, not forever.
        token.expires_at = token
            .expires_at
            .or(Some(unix_now().saturating_add(UNSTATED_LIFETIME.as_secs())));
        self.cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(cache_key(client), token.clone());
        Ok(token)
    }

    /// A new access token for `refresh_token`.
    ///
    /// # Errors
    /// [`OAuth2Failure`], saying what the provider or the connection did.
    pub async fn refresh(
        &self,
        client: &OAuth2Client,
        refresh_token: &str,
    ) -> Result<Token, OAuth2Failure> {
        let oauth = self.token_client(client)?;
        let response = oauth
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(failure)?;
        let mut token = token_of(&response);
        // A provider that does not rotate refresh tokens keeps the old one.
        token.refresh_token = token.refresh_token.or(Some(refresh_token.to_owned()));
        Ok(token)
    }

    /// A new random PKCE verifier (RFC 7636), to keep secret until the code
    /// is exchanged.
    pub fn new_pkce_verifier() -> String {
        PkceCodeChallenge::new_random_sha256().1.secret().clone()
    }

    /// The link a user follows to grant `client` access, coming back to
    /// `redirect_uri` with `state`; it carries the S256 challenge of
    /// `pkce_verifier`.
    ///
    /// # Errors
    /// [`OAuth2Failure::InvalidUrl`] for a client without a valid
    /// authorization URL, or an invalid `redirect_uri`.
    pub fn grant_link(
        client: &OAuth2Client,
        redirect_uri: &str,
        state: String,
        pkce_verifier: &str,
    ) -> Result<String, OAuth2Failure> {
        let authorize = client.authorize_url.as_deref().unwrap_or_default();
        let oauth = BasicClient::new(ClientId::new(client.client_id.clone()))
            .set_auth_uri(url("authorize_url", authorize, AuthUrl::new)?)
            .set_redirect_uri(url("redirect_uri", redirect_uri, RedirectUrl::new)?);
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.to_owned(),
        ));
        let (link, _) = oauth
            .authorize_url(|| CsrfToken::new(state))
            .add_scopes(scopes(client))
            .set_pkce_challenge(challenge)
            .url();
        Ok(link.to_string())
    }

    /// The token for the code the provider sent back to `redirect_uri`.
    ///
    /// # Errors
    /// [`OAuth2Failure`], saying what the provider or the connection did.
    pub async fn exchange_code(
        &self,
        client: &OAuth2Client,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<Token, OAuth2Failure> {
        let oauth = self.token_client(client)?.set_redirect_uri(url(
            "redirect_uri",
            redirect_uri,
            RedirectUrl::new,
        )?);
        let response = oauth
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(failure)?;
        Ok(token_of(&response))
    }
}

/// The cache key of `client`'s tokens: a digest, so the cache holds no
/// client secret.
fn cache_key(client: &OAuth2Client) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [
        client.token_url.as_str(),
        client.client_id.as_str(),
        client.client_secret.as_str(),
        client.scope.as_deref().unwrap_or_default(),
        if client.credentials_in_body {
            "body"
        } else {
            "basic"
        },
    ] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part.as_bytes());
    }
    let mut key = [0; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> OAuth2Client {
        OAuth2Client {
            authorize_url: Some("https://auth.example.com/authorize".to_owned()),
            token_url: "https://auth.example.com/token".to_owned(),
            client_id: "app".to_owned(),
            client_secret: "s3cret".to_owned(),
            scope: Some("read write".to_owned()),
            credentials_in_body: false,
        }
    }

    #[test]
    fn a_token_is_fresh_until_shortly_before_it_expires() {
        let token = |expires_at| Token {
            access_token: "a".to_owned(),
            refresh_token: None,
            expires_at,
        };
        assert!(token(None).fresh());
        assert!(token(Some(unix_now() + 3600)).fresh());
        assert!(!token(Some(unix_now() + 5)).fresh());
    }

    #[test]
    fn a_grant_link_asks_for_a_code_with_pkce_the_scopes_and_the_state() {
        let verifier = OAuth2Tokens::new_pkce_verifier();
        let link = OAuth2Tokens::grant_link(
            &client(),
            "https://ff.example.com/cb",
            "st4te".to_owned(),
            &verifier,
        )
        .expect("a link");
        let url = url::Url::parse(&link).expect("a URL");
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], "app");
        assert_eq!(query["state"], "st4te");
        assert_eq!(query["scope"], "read write");
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(query["redirect_uri"], "https://ff.example.com/cb");
        assert!(!link.contains("s3cret"), "no secret in the link");
        assert!(!link.contains(&verifier), "only the challenge is sent");
        assert!(verifier.len() >= 43);
    }

    #[test]
    fn the_cache_key_tells_clients_apart_and_holds_no_secret() {
        let mut other = client();
        other.client_secret = "another".to_owned();
        assert_ne!(cache_key(&client()), cache_key(&other));
        assert_eq!(cache_key(&client()), cache_key(&client()));
    }
}
