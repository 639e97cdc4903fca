//! Several broker replicas on one PostgreSQL (issue 15): real `zt-broker serve` processes
//! sharing one zt-broker.toml (keys, policy, public URL) and one private PostgreSQL server,
//! driven over HTTP with the requests `zt` makes (`zt_testkit::broker_client`) and with the
//! admin commands. Each request names the cluster's public URL in its DPoP proof, whichever
//! replica it is sent to, as it would behind a load balancer.

mod replicas;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::e2e::fixture::{Broker, ZT_BROKER};
use zt_testkit::hostile_idp::HostileIdp;
use zt_testkit::postgres::{self, Postgres};
use zt_testkit::process::{GroupChild, run_ok, wait_until};
use zt_testkit::{Peer, free_port, require_peers};

pub const POLICY: &str = r#"
[defaults]
ttl = "1h"
max_ttl = "8h"

[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops"]
"#;

/// One PostgreSQL, one config, `n` replicas.
pub struct Cluster {
    pub idp: HostileIdp,
    pub postgres: Postgres,
    /// The first replica serves at the config's public URL; its directory holds the config.
    pub broker: Broker,
    /// Every replica's base URL, the first one included.
    pub replicas: Vec<String>,
    others: Vec<GroupChild>,
}

impl Cluster {
    /// `None` when a peer is missing (the test skips, or fails under ZT_REQUIRE_PEERS=1).
    pub fn start(n: usize) -> Option<Cluster> {
        if !require_peers(&[Peer::Postgres]) {
            return None;
        }
        let idp = HostileIdp::start();
        let postgres = Postgres::start();
        let url = postgres.url();
        let mut broker = Broker::init_with(&idp.issuer, POLICY, |config| {
            let store = config["store"].as_table_mut().unwrap();
            store.remove("sqlite");
            store.insert("postgres".into(), url.into());
            store.insert("postgres_password_file".into(), "db-password".into());
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
        broker.serve();
        let mut cluster = Cluster {
            replicas: vec![broker.url.clone()],
            idp,
            postgres,
            broker,
            others: Vec::new(),
        };
        for _ in 1..n {
            cluster.add_replica();
        }
        Some(cluster)
    }

    fn add_replica(&mut self) {
        let port = free_port();
        let log = std::fs::File::create(self.log_path(self.replicas.len())).unwrap();
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
        assert!(
            up,
            "replica {} did not come up: {}",
            self.replicas.len(),
            std::fs::read_to_string(self.log_path(self.replicas.len())).unwrap_or_default()
        );
        self.replicas.push(format!("http://127.0.0.1:{port}"));
        self.others.push(child);
    }

    fn log_path(&self, replica: usize) -> PathBuf {
        self.broker
            .dir
            .path()
            .join(format!("replica-{replica}.log"))
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
}
