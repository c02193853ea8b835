//! Serving HTTPS: the certificate chain and key from files, re-read on
//! SIGHUP and when either file changes (so a renewed certificate is served
//! without a restart; a bad new pair is logged and the old one kept), and
//! `Strict-Transport-Security` on every response while TLS is on.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use axum::{
    http::{header::STRICT_TRANSPORT_SECURITY, HeaderValue},
    response::Response,
};
use axum_server::tls_rustls::RustlsConfig;
use rustls::{
    crypto::ring,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    ServerConfig,
};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

/// How often the certificate files are checked for a change.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);
/// What HSTS tells browsers: HTTPS only, for a year.
const HSTS: &str = "max-age=31536000";

/// Why the certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Unreadable {
        /// The configured path.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{path} holds no PEM certificate")]
    NoCertificate {
        /// The configured path.
        path: String,
    },
    /// The key file holds no PEM private key.
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey {
        /// The configured path.
        path: String,
    },
    /// rustls refused the pair (the key does not match the certificate…).
    #[error("the certificate and key cannot be served: {0}")]
    Refused(#[source] rustls::Error),
}

/// The HTTPS configuration the server runs with, and the files it came from.
#[derive(Clone)]
pub struct ServerTls {
    cert: PathBuf,
    key: PathBuf,
    config: RustlsConfig,
}

impl ServerTls {
    /// Loads the chain at `cert` and the key at `key`.
    ///
    /// # Errors
    /// [`ServerTlsError`] when a file is unreadable, empty of what it should
    /// hold, or the pair is refused.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, ServerTlsError> {
        let config = RustlsConfig::from_config(Arc::new(server_config(cert, key)?));
        Ok(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            config,
        })
    }

    /// The configuration the listener serves with; reloads swap its inside.
    pub fn config(&self) -> RustlsConfig {
        self.config.clone()
    }

    /// Re-reads the pair on SIGHUP and when a file's modification time
    /// changes, until `shutdown`.
    pub async fn watch(self, shutdown: CancellationToken) {
        let mut seen = self.modified();
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        let mut hangups = hangups();
        loop {
            let cause = tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    let now = self.modified();
                    if now == seen {
                        continue;
                    }
                    seen = now;
                    "the certificate files changed"
                }
                () = next_hangup(&mut hangups) => "SIGHUP",
            };
            self.reload(cause);
        }
    }

    fn reload(&self, cause: &str) {
        match server_config(&self.cert, &self.key) {
            Ok(config) => {
                self.config.reload_from_config(Arc::new(config));
                info!(cert = %self.cert.display(), %cause, "TLS certificate reloaded");
            }
            Err(problem) => {
                error!(%problem, %cause, "TLS certificate not reloaded; serving the previous one");
            }
        }
    }

    fn modified(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        let at = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        (at(&self.cert), at(&self.key))
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangups() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
#[cfg(not(unix))]
fn hangups() -> Hangups {}

/// Resolves at the next SIGHUP; never where there are none.
#[cfg(unix)]
async fn next_hangup(hangups: &mut Hangups) {
    let received = match hangups {
        Some(signal) => signal.recv().await.is_some(),
        None => false,
    };
    if !received {
        std::future::pending::<()>().await;
    }
}
#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) {
    std::future::pending().await
}

/// A rustls server configuration for the pair, HTTP/1.1 by ALPN.
fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, ServerTlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| ServerTlsError::Unreadable {
            path: path.display().to_string(),
            source,
        })
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert)?)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(ServerTlsError::NoCertificate {
            path: cert.display().to_string(),
        });
    }
    let key_der =
        PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|_| ServerTlsError::NoKey {
            path: key.display().to_string(),
        })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(ServerTlsError::Refused)?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(ServerTlsError::Refused)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Adds `Strict-Transport-Security` to a response served over TLS.
pub async fn strict_transport_security(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    response
}
