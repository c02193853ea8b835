//! A certificate authority made by the test: a CA certificate and the leaf
//! certificates it issues, as PEM, for servers on loopback.

use std::path::{Path, PathBuf};

use axum::Router;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A test CA.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate and its key, as PEM.
pub struct Leaf {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// The CA certificate, as PEM.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn issue(&self, names: &[&str]) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).expect("leaf params");
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl Leaf {
    /// Writes the pair into `dir` as `cert.pem` and `key.pem`; returns both paths.
    pub fn write_to(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&key, &self.key_pem).expect("write key");
        std::fs::write(&cert, &self.cert_pem).expect("write certificate");
        (cert, key)
    }
}

/// Serves `app` over HTTPS on a free loopback port, with a certificate for
/// 127.0.0.1 from `ca` (written into `dir`); returns its `https://` base URL
/// and the serving task.
pub fn serve_https(app: Router, ca: &TestCa, dir: &Path) -> (String, tokio::task::JoinHandle<()>) {
    let (cert, key) = ca.issue(&["127.0.0.1"]).write_to(dir);
    let tls = flowforge_api::tls::ServerTls::load(&cert, &key).expect("server certificate");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let base = format!("https://{}", listener.local_addr().expect("address"));
    let server = axum_server::from_tcp_rustls(listener, tls.config()).expect("server");
    let task = tokio::spawn(async move {
        server
            .serve(app.into_make_service())
            .await
            .expect("HTTPS server serves");
    });
    (base, task)
}
