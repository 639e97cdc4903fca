//! A real zt-broker (from `zt-broker init` + `serve`) in a temp dir, and a
//! user with their own HOME/XDG dirs running the real `zt` binary.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use zt_testkit::idp::TestIdp;
use zt_testkit::postgres::Postgres;
use zt_testkit::process::{GroupChild, run_ok, wait_until};
use zt_testkit::{free_port, tempdir};

pub const ZT: &str = env!("CARGO_BIN_EXE_zt");
/// The `zt-broker` of this build (another crate of the workspace: see `zt_testkit::bins`).
pub const ZT_BROKER: BrokerBin = BrokerBin;

#[derive(Clone, Copy)]
pub struct BrokerBin;

impl AsRef<std::ffi::OsStr> for BrokerBin {
    fn as_ref(&self) -> &std::ffi::OsStr {
        zt_testkit::bins::zt_broker().as_os_str()
    }
}

pub const POLICY: &str = r#"
[defaults]
ttl = "1h"
max_ttl = "8h"

[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops"]
extensions = ["permit-pty"]

[[rules]]
name = "short-lived"
match.groups = ["dev"]
principals = ["dev"]
ttl = "90s"
"#;

pub struct Broker {
    pub url: String,
    pub dir: tempfile::TempDir,
    _child: Option<GroupChild>,
    log: PathBuf,
    /// The broker's database server, with `ZT_TEST_STORE=postgres` (after `_child`: the
    /// broker goes first).
    postgres: Option<Postgres>,
}

/// The environment variable that puts every broker of this file on PostgreSQL.
pub const STORE_ENV: &str = "ZT_TEST_STORE";

/// Whether this run's brokers keep their state in PostgreSQL rather than SQLite:
/// `ZT_TEST_STORE=postgres` gives each broker a private PostgreSQL server of its own
/// (`zt_testkit::postgres`), migrated by `zt-broker migrate`, so that the tests that drive
/// one broker on SQLite drive the PostgreSQL store the same way (tests/README.md).
pub fn on_postgres() -> bool {
    match std::env::var(STORE_ENV).as_deref() {
        Err(_) | Ok("" | "sqlite") => false,
        Ok("postgres") => {
            if let Some(why) = zt_testkit::postgres::unavailable() {
                panic!("{STORE_ENV}=postgres, but {why}");
            }
            true
        }
        Ok(other) => panic!("{STORE_ENV}={other:?}: expected sqlite or postgres"),
    }
}

impl Broker {
    pub fn start(issuer: &str, policy: &str) -> Broker {
        Self::start_with(issuer, policy, |_| {})
    }

    /// A broker serving HTTPS with `tls`'s certificate and key.
    pub fn start_tls(issuer: &str, policy: &str, tls: &TlsFiles) -> Broker {
        Self::start_with(issuer, policy, |config| {
            let server = config["server"].as_table_mut().unwrap();
            let url = server["public_url"]
                .as_str()
                .unwrap()
                .replace("http://", "https://");
            server.insert("public_url".into(), url.into());
            server.insert("tls_certificate".into(), tls.path("cert.pem").into());
            server.insert("tls_key".into(), tls.path("key.pem").into());
        })
    }

    /// Like `start`, trusting `issuers` for workload tokens (CI jobs): `[[workload_issuers]]`.
    pub fn start_trusting(issuer: &str, policy: &str, issuers: &[&str]) -> Broker {
        Self::start_with(issuer, policy, |config| trust_workloads(config, issuers))
    }

    /// Like `start`, with `configure` editing zt-broker.toml before `serve`.
    pub fn start_with(
        issuer: &str,
        policy: &str,
        configure: impl FnOnce(&mut toml::Table),
    ) -> Broker {
        let mut broker = Broker::init_with(issuer, policy, configure);
        broker.serve();
        broker
    }

    /// `zt-broker init` in a new temporary directory, not started yet (so
    /// a test can change `zt-broker.toml` first).
    pub fn init(issuer: &str, policy: &str) -> Broker {
        Broker::init_with(issuer, policy, |_| {})
    }

    /// Like `init`, with `configure` editing zt-broker.toml.
    pub fn init_with(
        issuer: &str,
        policy: &str,
        configure: impl FnOnce(&mut toml::Table),
    ) -> Broker {
        let dir = tempdir();
        let home = dir.path().join("broker");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("policy.toml"), policy).unwrap();
        let port = free_port();
        run_ok(
            Command::new(ZT_BROKER)
                .args(["init", "--client-id", "zt", "--issuer", issuer])
                .arg("--dir")
                .arg(&home)
                .args(["--listen", &format!("127.0.0.1:{port}")]),
        );
        let config_path = home.join("zt-broker.toml");
        let mut config: toml::Table =
            toml::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
        let postgres = on_postgres().then(|| use_postgres(&home, &mut config));
        configure(&mut config);
        std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
        if postgres.is_some() {
            run_ok(
                Command::new(ZT_BROKER)
                    .args(["migrate", "--config"])
                    .arg(&config_path),
            );
        }
        let url = config["server"]["public_url"].as_str().unwrap().to_owned();
        let log = dir.path().join("broker.log");
        Broker {
            url,
            dir,
            _child: None,
            log,
            postgres,
        }
    }

    /// Start (or restart) `zt-broker serve` and wait until it accepts
    /// connections. Its log is appended to.
    pub fn serve(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut command = Command::new(ZT_BROKER);
        command
            .arg("serve")
            .arg("--config")
            .arg(self.config_path())
            .env("ZT_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = GroupChild::spawn(command).expect("spawn zt-broker");
        let addr = self.url.split_once("://").map_or("", |(_, a)| a).to_owned();
        let up = wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).is_ok()
        });
        assert!(up, "zt-broker did not come up; log:\n{}", self.log());
        self._child = Some(child);
    }

    /// `kill -9` the broker (its whole process group) and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self._child.take() {
            child.kill();
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.home().join("zt-broker.toml")
    }

    /// A broker started elsewhere (e.g. `zt-broker dev`), for logging in.
    pub fn attach(url: String) -> Broker {
        let dir = tempdir();
        let log = dir.path().join("none.log");
        Broker {
            url,
            dir,
            _child: None,
            log,
            postgres: None,
        }
    }

    /// The broker's process id, when this fixture started it.
    pub fn pid(&self) -> Option<u32> {
        self._child.as_ref().map(GroupChild::id)
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("broker")
    }

    pub fn user_ca(&self) -> String {
        std::fs::read_to_string(self.home().join("user_ca.pub"))
            .unwrap()
            .trim()
            .to_owned()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sign `host_public_line` with the host CA through `zt-broker sign-host`.
    pub fn sign_host(&self, host_public_line: &str, principals: &str) -> String {
        let key = self.dir.path().join("host_key.pub");
        std::fs::write(&key, format!("{host_public_line}\n")).unwrap();
        run_ok(
            Command::new(ZT_BROKER)
                .arg("sign-host")
                .arg("--config")
                .arg(self.config_path())
                .arg(&key)
                .args(["--principals", principals]),
        );
        std::fs::read_to_string(self.dir.path().join("host_key-cert.pub"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Audit records as JSON, in chain order.
    pub fn audit(&self) -> Vec<Value> {
        self.audit_raw()
            .iter()
            .map(|r| serde_json::from_str(r).unwrap())
            .collect()
    }

    /// Audit records exactly as stored, in chain order.
    pub fn audit_raw(&self) -> Vec<String> {
        if let Some(postgres) = &self.postgres {
            // A record is one line of JSON.
            return postgres
                .psql("postgres", "SELECT record FROM audit ORDER BY seq")
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect();
        }
        let conn = rusqlite::Connection::open(self.home().join("zt-broker.db")).unwrap();
        let mut stmt = conn
            .prepare("SELECT record FROM audit ORDER BY seq")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|r| r.unwrap()).collect()
    }
}

/// Start a PostgreSQL server for the broker in `home`, and point `config`'s store at it (the
/// password in a private file, as in production).
fn use_postgres(home: &std::path::Path, config: &mut toml::Table) -> Postgres {
    let postgres = Postgres::start();
    let password = home.join("db-password");
    zt_os::files::write_private(&password, zt_testkit::postgres::PASSWORD.as_bytes()).unwrap();
    let mut store = toml::Table::new();
    store.insert("postgres".into(), postgres.url().into());
    store.insert(
        "postgres_password_file".into(),
        password.to_str().unwrap().into(),
    );
    config.insert("store".into(), store.into());
    postgres
}

/// A test CA and a server certificate it signed for 127.0.0.1, as PEM
/// files `ca.pem`, `cert.pem` and `key.pem` in a temp dir.
pub struct TlsFiles {
    pub dir: tempfile::TempDir,
}

impl TlsFiles {
    pub fn new() -> TlsFiles {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let ca_issuer = rcgen::Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
        leaf.subject_alt_names = vec![SanType::IpAddress([127, 0, 0, 1].into())];
        let cert = leaf.signed_by(&key, &ca_issuer).unwrap();
        let dir = tempdir();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        TlsFiles { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
}

/// Add `[[workload_issuers]]` entries for `issuers` to a zt-broker.toml.
pub fn trust_workloads(config: &mut toml::Table, issuers: &[&str]) {
    let list: Vec<toml::Value> = issuers
        .iter()
        .map(|issuer| {
            let mut table = toml::Table::new();
            table.insert("issuer".into(), issuer.to_string().into());
            table.into()
        })
        .collect();
    config.insert("workload_issuers".into(), list.into());
}

/// Every path under `dir`, sorted: what a run left behind.
pub fn listing(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A person with a fresh HOME, running the real `zt`.
pub struct User {
    pub home: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

/// The outcome of a `zt` run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl User {
    pub fn new() -> User {
        User {
            home: tempdir(),
            env: Vec::new(),
        }
    }

    /// Set `name=value` for every `zt` this user runs.
    pub fn with_env(mut self, name: &'static str, value: impl Into<String>) -> User {
        self.env.push((name, value.into()));
        self
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.home.path().join("run")
    }

    pub fn zt(&self) -> Command {
        self.command(ZT)
    }

    /// `program` (e.g. ssh, scp, git) with this user's environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let h = self.home.path();
        let runtime = self.runtime_dir();
        std::fs::create_dir_all(&runtime).unwrap();
        let mut command = Command::new(program);
        command
            .env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join("config"))
            .env("XDG_STATE_HOME", h.join("state"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("ZT_CREDENTIAL_STORE", "file")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("ZT_PROFILE")
            .env_remove("ZT_BROKER")
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            // Posture: the machine's own, unless a test lays out a tree; no desktop.
            .env_remove("ZT_POSTURE_ROOT")
            .env_remove("XDG_CURRENT_DESKTOP")
            .stdin(Stdio::null());
        // A person's zt, also when the tests themselves run in a CI job (CI=true).
        zt_testkit::process::outside_ci(&mut command);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.zt().args(args).output().expect("run zt");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Log in as `who` (user name, password) at `idp`, approving through its
    /// pages; panics with the outcome unless the login succeeds.
    pub fn login_as(&self, broker: &Broker, idp: &TestIdp, who: (&str, &str)) -> Run {
        let login = self.login(broker, |code| idp.approve(code, who.0, who.1));
        assert_eq!(
            login.code,
            Some(0),
            "{login:?}\nbroker log:\n{}",
            broker.log()
        );
        login
    }

    /// `zt login --json`: read the device prompt, let `act` answer it
    /// (approve, deny, or nothing), then collect the outcome.
    pub fn login(&self, broker: &Broker, act: impl FnOnce(&str)) -> Run {
        let stderr_path = self.home.path().join("login.stderr");
        let mut child = self
            .zt()
            .args(["login", "--json", "--broker", &broker.url])
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr_path).unwrap())
            .spawn()
            .expect("spawn zt login");
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        let mut stdout = first.clone();
        if let Ok(prompt) = serde_json::from_str::<Value>(&first) {
            assert_eq!(prompt["event"], "device_authorization", "{prompt}");
            act(prompt["user_code"].as_str().expect("user_code"));
        }
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
        stdout.push_str(&rest);
        let status = child.wait().unwrap();
        Run {
            code: status.code(),
            stdout,
            stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
        }
    }

    pub fn session(&self) -> Value {
        let path = self.home.path().join("state/zt/default/session.json");
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    pub fn certificate_path(&self) -> PathBuf {
        self.runtime_dir().join("zt/default/id_ed25519-cert.pub")
    }
}
