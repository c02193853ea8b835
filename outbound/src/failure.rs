//! TLS failures told apart, so a node can say what to fix: trust the
//! server's CA (`--ca-file`), call it by the name on its certificate, or
//! renew the certificate.

use std::error::Error as StdError;

use rustls::{CertificateError, Error as RustlsError};

/// What went wrong when a TLS connection was set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The server's certificate does not chain to a trusted root.
    Untrusted,
    /// The certificate names other hosts.
    WrongName,
    /// The certificate has expired.
    Expired,
    /// The certificate is not valid yet.
    NotYetValid,
    /// The certificate has been revoked.
    Revoked,
    /// Another certificate problem (a bad encoding, a wrong purpose…).
    BadCertificate(String),
    /// The handshake failed for another reason (no common protocol version
    /// or cipher, an alert from the server, plain text where TLS was expected).
    Handshake(String),
}

impl TlsFailure {
    /// The failure, said about `host`.
    pub fn describe(&self, host: &str) -> String {
        match self {
            TlsFailure::Untrusted => format!(
                "certificate not trusted for {host} (add its CA with --ca-file / FLOWFORGE_CA_FILE)"
            ),
            TlsFailure::WrongName => format!("certificate is not valid for the name {host}"),
            TlsFailure::Expired => format!("certificate of {host} has expired"),
            TlsFailure::NotYetValid => format!("certificate of {host} is not valid yet"),
            TlsFailure::Revoked => format!("certificate of {host} has been revoked"),
            TlsFailure::BadCertificate(reason) => format!("bad certificate from {host}: {reason}"),
            TlsFailure::Handshake(reason) => format!("TLS handshake with {host} failed: {reason}"),
        }
    }
}

/// The TLS failure somewhere in `error`'s chain of causes, if there is one.
pub fn tls_failure(error: &(dyn StdError + 'static)) -> Option<TlsFailure> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(tls) = as_rustls(error) {
            return Some(classify(tls));
        }
        next = error.source();
    }
    None
}

/// `error` as a rustls error, looking inside I/O errors too (hyper's
/// connector wraps rustls' error in an `io::Error` inside another): an
/// `io::Error`'s `source()` skips the error it wraps.
fn as_rustls<'a>(mut error: &'a (dyn StdError + 'static)) -> Option<&'a RustlsError> {
    loop {
        if let Some(tls) = error.downcast_ref::<RustlsError>() {
            return Some(tls);
        }
        let inner = error.downcast_ref::<std::io::Error>()?.get_ref()?;
        error = inner;
    }
}

fn classify(error: &RustlsError) -> TlsFailure {
    match error {
        RustlsError::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                TlsFailure::Untrusted
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::WrongName
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsFailure::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsFailure::NotYetValid
            }
            CertificateError::Revoked => TlsFailure::Revoked,
            other => TlsFailure::BadCertificate(format!("{other:?}")),
        },
        other => TlsFailure::Handshake(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_issuer_inside_an_io_error_is_untrusted() {
        let inner = RustlsError::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        assert_eq!(tls_failure(&io), Some(TlsFailure::Untrusted));
        assert!(TlsFailure::Untrusted
            .describe("127.0.0.1")
            .starts_with("certificate not trusted for 127.0.0.1"));
    }

    #[test]
    fn a_rustls_error_two_io_errors_deep_is_found() {
        let inner = RustlsError::InvalidCertificate(CertificateError::NotValidForName);
        let io = std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, inner));
        assert_eq!(tls_failure(&io), Some(TlsFailure::WrongName));
    }

    #[test]
    fn errors_without_tls_in_their_chain_are_not_tls_failures() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(tls_failure(&io), None);
    }
}
