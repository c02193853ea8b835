//! How FlowForge reaches other systems over TLS. Every outbound connection
//! the project makes (the HTTP Request node, OTLP export, and the
//! connections later node types open) trusts the same roots: Mozilla's, as
//! compiled into `webpki-roots` (so a minimal container without a system
//! store still verifies public services), plus the PEM bundle the operator
//! names with `--ca-file` / `FLOWFORGE_CA_FILE` for private CAs. rustls with
//! the `ring` provider, no OpenSSL.
//!
//! Which destinations may be reached at all is the other half: public
//! addresses only, unless the operator allows more (`destinations`); a
//! host that keeps failing is left alone for a while (`circuit_breaker`);
//! and no execution or workspace calls out without bound (`call_limits`).
//! OAuth 2.0 tokens are fetched, refreshed and granted through the same
//! guard (`oauth2`).
//!
//! Layout: `trust` (the roots and the rustls client configuration built on
//! them, and HTTP clients over it), `failure` (what a TLS error means, in
//! words a workflow author can act on), `destinations` (the guard against
//! server-side request forgery), `circuit_breaker` (one per host) and
//! `call_limits` (calls per execution and per workspace), `oauth2` (tokens
//! for the credentials that use it).
#![forbid(unsafe_code)]

mod call_limits;
mod circuit_breaker;
mod destinations;
mod failure;
mod oauth2;
mod trust;

pub use call_limits::{CallLimitSettings, CallLimits, LimitReached};
pub use circuit_breaker::{CircuitBreakers, CircuitOpen, CircuitSettings, OpenCircuit};
pub use destinations::{
    special_range, GuardedResolver, InvalidAllowEntry, OutboundPolicy, Refused, Unreachable,
    ALLOW_SETTING,
};
pub use failure::{tls_failure, TlsFailure};
pub use oauth2::{token_http_client, OAuth2Client, OAuth2Failure, OAuth2Tokens, Token};
pub use trust::{TlsTrust, TrustError};
