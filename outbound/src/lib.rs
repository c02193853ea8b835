//! How FlowForge reaches other systems over TLS. Every outbound connection
//! the project makes (the HTTP Request node, OTLP export, and the
//! connections later node types open) trusts the same roots: Mozilla's, as
//! compiled into `webpki-roots` (so a minimal container without a system
//! store still verifies public services), plus the PEM bundle the operator
//! names with `--ca-file` / `FLOWFORGE_CA_FILE` for private CAs. rustls with
//! the `ring` provider, no OpenSSL.
//!
//! Which destinations may be reached at all is the other half: public
//! addresses only, unless the operator allows more (`destinations`).
//!
//! Layout: `trust` (the roots and the rustls client configuration built on
//! them, and HTTP clients over it), `failure` (what a TLS error means, in
//! words a workflow author can act on) and `destinations` (the guard against
//! server-side request forgery).
#![forbid(unsafe_code)]

mod destinations;
mod failure;
mod trust;

pub use destinations::{
    special_range, GuardedResolver, InvalidAllowEntry, OutboundPolicy, Refused, ALLOW_SETTING,
};
pub use failure::{tls_failure, TlsFailure};
pub use trust::{TlsTrust, TrustError};
