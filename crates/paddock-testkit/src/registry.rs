//! A real OCI registry for tests: Debian's `docker-registry` (the reference
//! distribution server) on 127.0.0.1 at a free port, storing blobs in a temp
//! dir, logging JSON lines to a file the test can read. Killed by pid and
//! its dir removed on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use paddock_store::{Digest, RegistriesConfig};

const BINARY: &str = "/usr/bin/docker-registry";

/// How the registry authenticates clients.
#[derive(Debug, Clone, Default)]
pub enum RegistryAuthMode {
    #[default]
    Anonymous,
    /// htpasswd (bcrypt) with one user.
    Basic { username: String, password: String },
    /// Bearer tokens from a token server at `realm`, signed by the key
    /// whose certificate is `cert_pem`.
    Token { realm: String, cert_pem: String },
}

pub struct TestRegistry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

/// A port nothing listens on right now, and one this test process has not
/// handed out before: the kernel may give a just-closed port to the next
/// `bind(0)`, and two tests running in parallel must not both get it
/// before either has started its server.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind 127.0.0.1:0");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// The status line of `GET /v2/` at `addr`, if it answers.
fn probe(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(
        s,
        "GET /v2/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let line = String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()?
        .to_string();
    line.starts_with("HTTP/").then_some(line)
}

impl TestRegistry {
    /// An anonymous registry.
    pub fn start() -> Self {
        Self::start_with(RegistryAuthMode::Anonymous)
    }

    pub fn start_with(auth: RegistryAuthMode) -> Self {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} not found: install docker-registry (apt-get install docker-registry)"
        );
        let dir = tempfile::Builder::new()
            .prefix("paddock-registry-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("storage dir");
        let auth_yaml = match &auth {
            RegistryAuthMode::Anonymous => String::new(),
            RegistryAuthMode::Basic { username, password } => {
                let hash = bcrypt::hash(password, 4).expect("bcrypt");
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{username}:{hash}\n")).expect("htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: paddock-test\n    path: {}\n",
                    htpasswd.display()
                )
            }
            RegistryAuthMode::Token { realm, cert_pem } => {
                let bundle = dir.path().join("token-root.pem");
                std::fs::write(&bundle, cert_pem).expect("root bundle");
                format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    super::token::SERVICE,
                    super::token::ISSUER,
                    bundle.display()
                )
            }
        };
        let config = format!(
            "version: 0.1\n\
             log:\n  level: info\n  formatter: json\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: paddock-test-secret\n\
             {auth_yaml}",
            storage.display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        let mut reg = TestRegistry { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if probe(&reg.host_port()).is_some() {
                break;
            }
            if let Ok(Some(status)) = reg.child.try_wait() {
                panic!("docker-registry exited ({status}):\n{}", reg.log());
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer /v2/ within 15s:\n{}",
                reg.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    /// `127.0.0.1:PORT`.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The registry's filesystem storage root.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Where the registry keeps the bytes of a blob.
    pub fn blob_data_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// How many completed `GET` requests fetched the blob `digest`.
    pub fn blob_gets(&self, digest: &Digest) -> usize {
        let uri = format!("/blobs/{digest}");
        self.log()
            .lines()
            .filter(|l| l.contains("\"response completed\""))
            .filter(|l| l.contains("\"http.request.method\":\"GET\""))
            .filter(|l| l.contains(&uri))
            .count()
    }

    /// Settings that allow plain HTTP to this registry.
    pub fn registries(&self) -> RegistriesConfig {
        RegistriesConfig::default().with_insecure(self.host_port())
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        // Our own child, by pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
