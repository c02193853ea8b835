//! A PostgreSQL server of the test's own, on a free port with a temporary
//! data directory, for tests that stop the database: the shared server is
//! never stopped. Runs the Debian binaries (`initdb`, `pg_ctl`), as the
//! `postgres` user when the test runs as root (PostgreSQL refuses root).

use std::{path::PathBuf, process::Command};

use super::process::free_port;

/// A private PostgreSQL server, stopped and removed on drop.
pub struct PrivatePostgres {
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub url: String,
    bin: PathBuf,
    data: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// Initialises and starts a server; `None` (with a message) when the
    /// binaries are missing and services are not required.
    pub fn start() -> Option<Self> {
        let server = Self::initialised()?;
        server.start_again();
        Some(server)
    }

    /// Like [`start`](Self::start), serving TLS with a certificate for
    /// 127.0.0.1 and `localhost` from `ca`, and refusing TCP connections
    /// without TLS.
    pub fn start_with_tls(ca: &super::pki::TestCa) -> Option<Self> {
        let server = Self::initialised()?;
        let pgdata = PathBuf::from(server.pgdata());
        let leaf = ca.issue(&["127.0.0.1", "localhost"]);
        std::fs::write(pgdata.join("server.crt"), &leaf.cert_pem).expect("write certificate");
        std::fs::write(pgdata.join("server.key"), &leaf.key_pem).expect("write key");
        let mut conf = std::fs::read_to_string(pgdata.join("postgresql.conf")).expect("read conf");
        conf.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(pgdata.join("postgresql.conf"), conf).expect("write conf");
        std::fs::write(
            pgdata.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )
        .expect("write pg_hba.conf");
        for file in ["server.crt", "server.key", "postgresql.conf", "pg_hba.conf"] {
            chown_to_postgres(&pgdata.join(file));
        }
        std::fs::set_permissions(
            pgdata.join("server.key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .expect("key permissions");
        server.start_again();
        Some(server)
    }

    /// An initialised, not yet started server.
    fn initialised() -> Option<Self> {
        let Some(bin) = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                versions
                    .filter_map(Result::ok)
                    .map(|v| v.path().join("bin"))
                    .max()
            })
        else {
            assert!(
                !flowforge_infra::test_support::services_required(),
                "PostgreSQL binaries are required (FLOWFORGE_REQUIRE_SERVICES=1) but /usr/lib/postgresql is missing"
            );
            eprintln!("SKIPPED: no PostgreSQL binaries under /usr/lib/postgresql");
            return None;
        };
        let data = tempfile::tempdir().expect("temporary directory");
        chown_to_postgres(data.path());
        let port = free_port();
        let server = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            data,
            port,
        };
        server.run(
            "initdb",
            &[
                "-D",
                &server.pgdata(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        Some(server)
    }

    fn pgdata(&self) -> String {
        self.data.path().join("pgdata").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let binary = self.bin.join(tool);
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&binary);
            command
        } else {
            Command::new(&binary)
        };
        let output = command.args(args).output().expect("PostgreSQL tool runs");
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the server (again), waiting until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.data.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.pgdata(),
                "-o",
                &options,
                "-w",
                "-l",
                &self.log(),
                "start",
            ],
        );
    }

    /// Stops the server at once (connections are cut).
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.pgdata(), "-m", "fast", "-w", "stop"],
        );
    }

    fn log(&self) -> String {
        self.data.path().join("postgres.log").display().to_string()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let binary = self.bin.join("pg_ctl");
        let pgdata = self.pgdata();
        let args = ["-D", pgdata.as_str(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&binary)
                .args(args)
                .output()
        } else {
            Command::new(&binary).args(args).output()
        };
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

fn chown_to_postgres(path: &std::path::Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(path)
            .status()
            .expect("chown runs");
        assert!(status.success(), "chown {path:?} to postgres");
    }
}
