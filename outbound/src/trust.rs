//! The roots outbound TLS trusts, and the clients built on them.

use std::{path::Path, sync::Arc};

use rustls::{
    crypto::ring,
    pki_types::{pem::PemObject, CertificateDer},
    ClientConfig, RootCertStore,
};

/// Why the configured trust could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The CA bundle could not be read.
    #[error("cannot read the CA bundle {path}")]
    Unreadable {
        /// The configured path.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The CA bundle holds no PEM certificate, or a malformed one.
    #[error("the CA bundle {path} holds no usable PEM certificate: {reason}")]
    NotPem {
        /// The configured path (or `inline` for bytes).
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// A certificate of the bundle is not one rustls accepts as a root.
    #[error("the CA bundle {path} holds a certificate that cannot be a root: {source}")]
    BadRoot {
        /// The configured path (or `inline` for bytes).
        path: String,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// The rustls configuration could not be built.
    #[error("cannot set up TLS: {0}")]
    Config(#[source] rustls::Error),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// What outbound TLS trusts: the webpki roots, plus extra CA certificates.
#[derive(Debug, Clone, Default)]
pub struct TlsTrust {
    extra: Vec<CertificateDer<'static>>,
    /// Where the extra certificates came from, for errors and logs.
    source: Option<String>,
}

impl TlsTrust {
    /// The webpki roots alone.
    pub fn public_roots() -> Self {
        Self::default()
    }

    /// The webpki roots plus every certificate in the PEM bundle at `path`.
    ///
    /// # Errors
    /// [`TrustError`] when the file cannot be read, holds no certificate, or
    /// holds one that cannot be a root.
    pub fn with_ca_file(path: &Path) -> Result<Self, TrustError> {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| TrustError::Unreadable {
            path: shown.clone(),
            source,
        })?;
        Self::with_ca_pem(&pem, shown)
    }

    /// The webpki roots plus every certificate in `pem`, a PEM bundle that
    /// came from `source` (for messages).
    ///
    /// # Errors
    /// [`TrustError`] when `pem` holds no certificate, or one that cannot be
    /// a root.
    pub fn with_ca_pem(pem: &[u8], source: impl Into<String>) -> Result<Self, TrustError> {
        let source = source.into();
        let extra = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TrustError::NotPem {
                path: source.clone(),
                reason: e.to_string(),
            })?;
        if extra.is_empty() {
            return Err(TrustError::NotPem {
                path: source,
                reason: "no CERTIFICATE block".to_owned(),
            });
        }
        let trust = Self {
            extra,
            source: Some(source),
        };
        trust.roots()?;
        Ok(trust)
    }

    /// Where the extra certificates came from, if there are any.
    pub fn ca_source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// How many certificates the CA bundle added.
    pub fn extra_roots(&self) -> usize {
        self.extra.len()
    }

    fn roots(&self) -> Result<RootCertStore, TrustError> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in &self.extra {
            roots
                .add(cert.clone())
                .map_err(|source| TrustError::BadRoot {
                    path: self.source.clone().unwrap_or_default(),
                    source,
                })?;
        }
        Ok(roots)
    }

    /// A rustls client configuration verifying servers against these roots,
    /// with the `ring` provider and HTTP/1.1 offered by ALPN.
    ///
    /// # Errors
    /// [`TrustError::Config`] if rustls refuses the protocol versions (a bug).
    pub fn client_config(&self) -> Result<ClientConfig, TrustError> {
        let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(TrustError::Config)?
            .with_root_certificates(self.roots()?)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// `builder` finished with TLS verified against these roots.
    ///
    /// # Errors
    /// [`TrustError`] when the configuration or the client cannot be built.
    pub fn http_client(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::Client, TrustError> {
        builder
            .use_preconfigured_tls(self.client_config()?)
            .build()
            .map_err(TrustError::Client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).expect("self-signed").pem()
    }

    #[test]
    fn a_pem_bundle_adds_its_certificates_to_the_public_roots() {
        let bundle = format!("{}{}", ca_pem(), ca_pem());
        let trust = TlsTrust::with_ca_pem(bundle.as_bytes(), "test").expect("trust");
        assert_eq!(trust.extra_roots(), 2);
        assert_eq!(
            trust.roots().expect("roots").len(),
            webpki_roots::TLS_SERVER_ROOTS.len() + 2
        );
    }

    #[test]
    fn a_file_without_certificates_is_refused_with_its_name() {
        let error = TlsTrust::with_ca_pem(b"hello", "/etc/ca.pem").expect_err("no certificate");
        assert!(error.to_string().contains("/etc/ca.pem"), "{error}");
    }

    #[test]
    fn a_missing_file_is_refused_with_its_name() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("missing.pem");
        let error = TlsTrust::with_ca_file(&path).expect_err("missing");
        assert!(error.to_string().contains("missing.pem"), "{error}");
    }

    #[test]
    fn a_file_with_a_bundle_is_read() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca_pem()).expect("write");
        let trust = TlsTrust::with_ca_file(&path).expect("trust");
        assert_eq!(trust.extra_roots(), 1);
        assert!(trust.client_config().is_ok());
    }
}
