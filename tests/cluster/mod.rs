//! Several broker replicas on one PostgreSQL (issue 15): real `zt-broker serve` processes
//! sharing one zt-broker.toml (keys, policy, public URL) and one private PostgreSQL server,
//! driven over HTTP with the requests `zt` makes (`zt_testkit::broker_client`) and with the
//! admin commands. Each request names the cluster's public URL in its DPoP proof, whichever
//! replica it is sent to, as it would behind a load balancer.

mod balancer;
mod replicas;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::e2e::fixture::{Broker, POLICY, ZT_BROKER};
use zt_testkit::hostile_idp::HostileIdp;
use zt_testkit::postgres::{self, Postgres};
use zt_testkit::process::{GroupChild, run_ok, wait_until};
use zt_testkit::{Peer, free_port, require_peers};

/// One PostgreSQL, one config, `n` replicas, each on its own port; the config's public URL
/// names a port of its own, where a balancer may listen ([`balancer`]).
pub struct Cluster {
    pub idp: HostileIdp,
    pub postgres: Postgres,
    /// Holds the config, keys and policy; not served itself.
    pub broker: Broker,
    /// `server.public_url`: what DPoP proofs name, whichever replica answers.
    pub public_url: String,
    pub public_port: u16,
    /// Every replica's base URL.
    pub replicas: Vec<String>,
    ports: Vec<u16>,
    children: Vec<Option<GroupChild>>,
}

impl Cluster {
    /// `None` when a peer is missing (the test skips, or fails under ZT_REQUIRE_PEERS=1).
    /// Behind a balancer every request comes from its address (README), and the load tests
    /// run a few identities flat out: the request rate limits are off.
    pub fn start(n: usize) -> Option<Cluster> {
        Cluster::start_with(
            n,
            &[
                ("per_address_per_minute", 0),
                ("per_identity_per_minute", 0),
            ],
        )
    }

    /// Like [`Cluster::start`], with `limits` as the config's `[limits]`.
    pub fn start_with(n: usize, limits: &[(&str, i64)]) -> Option<Cluster> {
        if !require_peers(&[Peer::Postgres]) {
            return None;
        }
        let idp = HostileIdp::start();
        let postgres = Postgres::start();
        let url = postgres.url();
        let public_port = free_port();
        let public_url = format!("http://127.0.0.1:{public_port}");
        let broker = Broker::init_with(&idp.issuer, POLICY, |config| {
            let server = config["server"].as_table_mut().unwrap();
            server.insert("public_url".into(), public_url.clone().into());
            let store = config["store"].as_table_mut().unwrap();
            store.remove("sqlite");
            store.insert("postgres".into(), url.into());
            store.insert("postgres_password_file".into(), "db-password".into());
            let limits: toml::Table = limits
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).into()))
                .collect();
            config.insert("limits".into(), limits.into());
        });
        zt_os::files::write_private(
            &broker.home().join("db-password"),
            postgres::PASSWORD.as_bytes(),
        )
        .unwrap();
        run_ok(
            Command::new(ZT_BROKER)
                .args(["migrate", "--config"])
                .arg(broker.config_path()),
        );
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut cluster = Cluster {
            replicas: ports
                .iter()
                .map(|p| format!("http://127.0.0.1:{p}"))
                .collect(),
            children: (0..n).map(|_| None).collect(),
            ports,
            idp,
            postgres,
            broker,
            public_url,
            public_port,
        };
        for replica in 0..n {
            cluster.restart(replica);
        }
        Some(cluster)
    }

    /// Start replica `n` (again) on its port and wait until it accepts connections.
    pub fn restart(&mut self, n: usize) {
        self.kill(n);
        let port = self.ports[n];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(n))
            .unwrap();
        let mut command = Command::new(ZT_BROKER);
        command
            .arg("serve")
            .arg("--config")
            .arg(self.broker.config_path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = GroupChild::spawn(command).unwrap();
        let up = wait_until(Duration::from_secs(15), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "replica {n} did not come up: {}", self.log(n));
        self.children[n] = Some(child);
    }

    /// `kill -9` replica `n`.
    pub fn kill(&mut self, n: usize) {
        if let Some(mut child) = self.children[n].take() {
            child.kill();
        }
    }

    /// Every replica as `host:port`, for a balancer's server lines.
    pub fn servers(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect()
    }

    fn log_path(&self, replica: usize) -> PathBuf {
        self.broker
            .dir
            .path()
            .join(format!("replica-{replica}.log"))
    }

    pub fn log(&self, replica: usize) -> String {
        std::fs::read_to_string(self.log_path(replica)).unwrap_or_default()
    }

    pub fn config(&self) -> PathBuf {
        self.broker.config_path()
    }

    /// `zt-broker ARGS --config <the cluster's config>`; its output.
    pub fn admin(&self, args: &[&str]) -> std::process::Output {
        Command::new(ZT_BROKER)
            .args(args)
            .arg("--config")
            .arg(self.config())
            .output()
            .unwrap()
    }

    /// `zt-broker audit verify --json`, which must find the log intact.
    pub fn verified_records(&self) -> u64 {
        let out = self.admin(&["audit", "verify", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        summary["records"].as_u64().expect("a record count")
    }

    /// Every record, as `audit export --json` prints them.
    pub fn exported(&self) -> Vec<serde_json::Value> {
        let out = self.admin(&["audit", "export", "--json"]);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
