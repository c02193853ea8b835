//! How FlowForge reaches other systems over TLS. Every outbound connection
//! the project makes (the HTTP Request node, OTLP export, and the
//! connections later node types open) trusts the same roots: Mozilla's, as
//! compiled into `webpki-roots` (so a minimal container without a system
//! store still verifies public services), plus the PEM bundle the operator
//! names with `--ca-file` / `FLOWFORGE_CA_FILE` for private CAs. rustls with
//! the `ring` provider, no OpenSSL.
//!
//! Layout: `trust` (the roots and the rustls client configuration built on
//! them, and HTTP clients over it) and `failure` (what a TLS error means, in
//! words a workflow author can act on).
#![forbid(unsafe_code)]

mod failure;
mod trust;

pub use failure::{tls_failure, TlsFailure};
pub use trust::{TlsTrust, TrustError};
