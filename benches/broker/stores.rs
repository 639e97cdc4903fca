//! `cargo bench --bench broker -- --stores`: what the store costs (issue 15). One broker on
//! SQLite, one on PostgreSQL, and three replicas on one PostgreSQL behind HAProxy, at the same
//! concurrency levels, in the same run, with the default mode's clients.
//!
//! This machine has two cores, so three replicas cannot be faster here than one. What carries
//! over to a bigger machine is what one certificate costs, so the mode reports that as well:
//! the CPU of every server process per certificate, from `/proc` (the brokers, PostgreSQL,
//! HAProxy), next to the cryptographic floor measured in this process first (floor.rs); what
//! each certificate costs the database by PostgreSQL's own statistics (transactions, WAL
//! syncs); and, in a second pass with `perf stat` attached, the round trips to PostgreSQL and
//! the fsyncs wherever they happen.
//!
//! The three setups run the same `zt-broker serve` (the release build, as in the default mode)
//! from a directory made by `zt-broker init`, with the default mode's posture-off policy, the
//! per-address and per-identity rates off (as `dev --no-rate-limits`), and the same issuer: a
//! development issuer in this process (`zt_testkit::dev_idp`, approving every login as alice).
//! They differ only in `[store]` and in the number of replicas, so a difference between them
//! is the store's. PostgreSQL is `zt_testkit::postgres` (a private server per setup, with
//! `fsync=on`), migrated by `zt-broker migrate`; the balancer is the shipped
//! `dist/haproxy/zt-broker.cfg` on loopback without TLS, named by the replicas'
//! `server.public_url`, as in tests/cluster.
//!
//! Per level, each setup in turn (the order rotates from level to level):
//!
//! 1. **Untimed.** One ID token and token exchange per client. With PostgreSQL, a wait of
//!    [`STATS_FLUSH`] (a server process reports its counts at most once a second, and up to
//!    10 s after it last did something), then the counts before. Then every request is
//!    prepared as in the default mode.
//! 2. **Timed**: `clients::timed`, the default mode's loop, with the CPU of each process read
//!    from `/proc` before and after.
//! 3. **Counted.** With PostgreSQL, after another [`STATS_FLUSH`], the counts after, less the
//!    setup's background (measured once, idle, before the first level: HAProxy's health
//!    checks are a `SELECT 1` each, six a second) over the time between the two readings.
//! 4. **Checks**, which fail the run after the table: every 200 answer has its
//!    `certificate_issued` audit record, and no request failed. At the end, `zt-broker audit
//!    verify` must find each setup's log one intact chain (three replicas append to one).
//!
//! Then, when `perf` can count syscalls (`fsyncs::Tool::find`, so `ZT_BENCH_FSYNCS=off` skips
//! it), the same levels again with `perf stat` attached to the brokers (`fsync`, `fdatasync`)
//! and to PostgreSQL (the same, and `sendto`: a server process sends once per answer it
//! flushes, so its sends are the round trips). Its rates are not reported.
//!
//! Knobs as in the default mode: `ZT_BENCH_REQUESTS` (2000), `ZT_BENCH_SECS` (30),
//! `ZT_BENCH_LEVELS` (`1,8,64`), `ZT_BENCH_FLOOR_ITERATIONS` (4000), `ZT_BROKER_BIN`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use zt_core::proto;
use zt_testkit::dev_idp::DevIdp;
use zt_testkit::haproxy::{self, Haproxy};
use zt_testkit::postgres::{self, Postgres};
use zt_testkit::process::{GroupChild, wait_until};

use super::api;
use super::audit::{durability, last_audit_seq};
use super::keygen::run_ok;
use super::policies::{Posture, policy};
use super::{Stats, broker_binary, check_policy, clients, cpu, env_or, floor, fsyncs, ms};

/// Long enough for every PostgreSQL process to have reported its counts: a process that went
/// idle reports what it has not reported yet 10 s later (`PGSTAT_IDLE_INTERVAL`).
const STATS_FLUSH: Duration = Duration::from_secs(11);
/// How long the idle setups are watched for their background transactions.
const BACKGROUND: Duration = Duration::from_secs(22);
/// Time for `perf` to attach to every thread before the level starts (as in fsyncs.rs).
const ATTACH: Duration = Duration::from_millis(500);
const BROKER_EVENTS: &[&str] = &["syscalls:sys_enter_fsync", "syscalls:sys_enter_fdatasync"];
const POSTGRES_EVENTS: &[&str] = &[
    "syscalls:sys_enter_fsync",
    "syscalls:sys_enter_fdatasync",
    "syscalls:sys_enter_sendto",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy)]
struct Setup {
    label: &'static str,
    /// Its directory under the run's temporary one.
    dir: &'static str,
    store: Store,
    /// More than one: behind HAProxy.
    replicas: usize,
}

const SETUPS: [Setup; 3] = [
    Setup {
        label: "SQLite, 1 broker",
        dir: "sqlite",
        store: Store::Sqlite,
        replicas: 1,
    },
    Setup {
        label: "PostgreSQL, 1 broker",
        dir: "postgres",
        store: Store::Postgres,
        replicas: 1,
    },
    Setup {
        label: "PostgreSQL, 3 replicas + HAProxy",
        dir: "postgres-3",
        store: Store::Postgres,
        replicas: 3,
    },
];

impl Setup {
    /// Why this setup cannot run here, if it cannot.
    fn unavailable(self) -> Option<String> {
        if self.store == Store::Postgres {
            if let Some(why) = postgres::unavailable() {
                return Some(why);
            }
            if !psql().is_file() {
                return Some(format!("{} is missing", psql().display()));
            }
        }
        if self.replicas > 1 {
            return haproxy::unavailable();
        }
        None
    }
}

/// Debian's `psql` of the same version as the server.
fn psql() -> PathBuf {
    postgres::bin_dir().map_or_else(|| PathBuf::from("psql"), |bin| bin.join("psql"))
}

/// The broker's database.
const BROKER_DB: &str = "postgres";
/// Where the bench reads the statistics from, so that its own sessions (a few transactions
/// each, when `psql` connects) are not counted against the broker's database.
const STATS_DB: &str = "template1";

/// One row of integers from `sql`, run by `psql` as the test role in `database`.
fn query(server: &Postgres, database: &str, sql: &str) -> Result<Vec<i64>> {
    server
        .psql(database, sql)
        .map_err(anyhow::Error::msg)?
        .split_whitespace()
        .map(|n| {
            n.parse()
                .with_context(|| format!("psql -c {sql:?} printed {n:?}"))
        })
        .collect()
}

/// What PostgreSQL's statistics say at one moment.
#[derive(Debug, Clone, Copy)]
struct DbCounts {
    at: Instant,
    /// `xact_commit + xact_rollback` of the broker's database.
    transactions: i64,
    /// `pg_stat_wal.wal_sync`: WAL flushes to disk, the server's.
    wal_syncs: i64,
}

fn db_counts(server: &Postgres) -> Result<DbCounts> {
    let at = Instant::now();
    let row = query(
        server,
        STATS_DB,
        &format!(
            "SELECT d.xact_commit + d.xact_rollback, w.wal_sync \
             FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = '{BROKER_DB}'"
        ),
    )?;
    match row[..] {
        [transactions, wal_syncs] => Ok(DbCounts {
            at,
            transactions,
            wal_syncs,
        }),
        _ => bail!("expected two numbers from PostgreSQL's statistics, got {row:?}"),
    }
}

/// The last audit record's sequence number, in PostgreSQL.
fn last_seq(server: &Postgres) -> Result<i64> {
    let row = query(server, BROKER_DB, "SELECT coalesce(max(seq), 0) FROM audit")?;
    row.first()
        .copied()
        .context("no sequence number from PostgreSQL")
}

/// `certificate_issued` audit records after `since`, in PostgreSQL.
fn issued_since(server: &Postgres, since: i64) -> Result<i64> {
    let row = query(
        server,
        BROKER_DB,
        &format!(
            "SELECT count(*) FROM audit WHERE seq > {since} \
             AND record::jsonb ->> 'kind' = 'certificate_issued'"
        ),
    )?;
    row.first().copied().context("no count from PostgreSQL")
}

/// The pids of this process's children named `name` (in `/proc/PID/stat`).
fn children_named(name: &str) -> Vec<u32> {
    let me = std::process::id().to_string();
    let wanted = format!("({name})");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // `PID (comm) STATE PPID …`
                let fields: Vec<&str> = stat.split_whitespace().collect();
                fields.get(1) == Some(&wanted.as_str()) && fields.get(3) == Some(&me.as_str())
            })
        })
        .collect()
}

/// One setup, running: the brokers, their database and balancer, and a login at the issuer.
struct Deployment {
    setup: Setup,
    /// `zt-broker init`'s directory: zt-broker.toml, keys, policy and the SQLite database.
    home: PathBuf,
    // Dropped in this order: the balancer, the replicas, then their database.
    balancer: Option<(Haproxy, u32)>,
    replicas: Vec<GroupChild>,
    postgres: Option<Postgres>,
    config: proto::BrokerConfiguration,
    idp: api::IdTokens,
    /// Transactions and WAL syncs per second with no load (PostgreSQL).
    background: [f64; 2],
}

impl Deployment {
    async fn start(
        setup: Setup,
        root: &Path,
        issuer: &str,
        http: &reqwest::Client,
    ) -> Result<Deployment> {
        let dir = root.join(setup.dir);
        let home = dir.join("broker");
        std::fs::create_dir_all(&home)?;
        let policy_file = home.join("policy.toml");
        std::fs::write(&policy_file, policy(Posture::Off))?;
        check_policy(&policy_file)?;
        let ports: Vec<u16> = (0..setup.replicas)
            .map(|_| zt_testkit::free_port())
            .collect();
        // Requests name the public URL in their DPoP proofs, whichever replica answers.
        let public_port = if setup.replicas > 1 {
            zt_testkit::free_port()
        } else {
            ports[0]
        };
        let public_url = format!("http://127.0.0.1:{public_port}");
        run_ok(
            Command::new(broker_binary())
                .args(["init", "--client-id", api::CLIENT_ID, "--issuer", issuer])
                .args(["--listen", &format!("127.0.0.1:{}", ports[0])])
                .args(["--public-url", &public_url])
                .arg("--dir")
                .arg(&home),
        )?;
        let config_path = home.join("zt-broker.toml");
        let mut config: toml::Table = toml::from_str(&std::fs::read_to_string(&config_path)?)
            .with_context(|| format!("read {}", config_path.display()))?;
        let limits = config
            .entry("limits")
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .context("zt-broker.toml: [limits] is not a table")?;
        limits.insert("per_address_per_minute".into(), 0.into());
        limits.insert("per_identity_per_minute".into(), 0.into());
        let postgres = match setup.store {
            Store::Sqlite => None,
            Store::Postgres => {
                let server = Postgres::start();
                let store = config
                    .get_mut("store")
                    .and_then(toml::Value::as_table_mut)
                    .context("zt-broker.toml has no [store] table")?;
                store.remove("sqlite");
                store.insert("postgres".into(), server.url().into());
                store.insert("postgres_password_file".into(), "db-password".into());
                zt_os::files::write_private(
                    &home.join("db-password"),
                    postgres::PASSWORD.as_bytes(),
                )?;
                Some(server)
            }
        };
        std::fs::write(&config_path, toml::to_string(&config)?)?;
        if postgres.is_some() {
            run_ok(
                Command::new(broker_binary())
                    .args(["migrate", "--config"])
                    .arg(&config_path),
            )?;
        }

        let mut replicas = Vec::with_capacity(ports.len());
        for (n, &port) in ports.iter().enumerate() {
            let log_path = dir.join(format!("replica-{n}.log"));
            let mut command = Command::new(broker_binary());
            command
                .arg("serve")
                .arg("--config")
                .arg(&config_path)
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log_path)?);
            replicas.push(GroupChild::spawn(command).context("start zt-broker serve")?);
            let up = wait_until(Duration::from_secs(15), || {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            if !up {
                bail!(
                    "{}: replica {n} did not come up; see {}",
                    setup.label,
                    log_path.display()
                );
            }
        }
        let balancer = if setup.replicas > 1 {
            let servers: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
            let haproxy = Haproxy::start(public_port, &servers);
            let pid = match children_named("haproxy")[..] {
                [pid] => pid,
                ref pids => bail!("expected one haproxy child of this process, found {pids:?}"),
            };
            Some((haproxy, pid))
        } else {
            None
        };
        // Until every replica has answered through the balancer: HAProxy puts a server in
        // rotation after its health checks pass.
        let ready = format!("{public_url}{}", proto::READY_PATH);
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut in_a_row = 0;
        while in_a_row < 2 * setup.replicas {
            let ok = http
                .get(&ready)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            in_a_row = if ok { in_a_row + 1 } else { 0 };
            if Instant::now() > deadline {
                bail!("{}: {ready} did not answer 200", setup.label);
            }
            if !ok {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        let config = api::configuration(http, &public_url)
            .await
            .map_err(anyhow::Error::msg)?;
        let (idp, _first_id_token) = api::IdTokens::login(http, issuer)
            .await
            .map_err(anyhow::Error::msg)?;
        Ok(Deployment {
            setup,
            home,
            balancer,
            replicas,
            postgres,
            config,
            idp,
            background: [0.0; 2],
        })
    }

    fn sqlite(&self) -> PathBuf {
        self.home.join("zt-broker.db")
    }

    fn broker_pids(&self) -> Vec<u32> {
        self.replicas.iter().map(GroupChild::id).collect()
    }

    /// The last audit record's sequence number.
    fn last_seq(&self) -> Result<i64> {
        match &self.postgres {
            Some(server) => last_seq(server),
            None => last_audit_seq(&self.sqlite()),
        }
    }

    fn issued_since(&self, since: i64) -> Result<i64> {
        match &self.postgres {
            Some(server) => issued_since(server, since),
            None => Ok(durability(&self.sqlite(), since, &[])?.issued),
        }
    }

    fn cpu(&self) -> Result<Cpu> {
        let mut brokers = 0;
        for pid in self.broker_pids() {
            brokers += cpu::ticks(pid)?;
        }
        let postgres = match &self.postgres {
            Some(server) => Some(
                server
                    .cpu_ticks()
                    .context("PostgreSQL's CPU time (is the server running?)")?,
            ),
            None => None,
        };
        Ok(Cpu {
            brokers,
            postgres,
            balancer: self
                .balancer
                .as_ref()
                .map(|(_, pid)| cpu::ticks(*pid))
                .transpose()?,
            clients: cpu::ticks(std::process::id())?,
        })
    }

    /// `zt-broker audit verify`: the number of records in the intact chain.
    fn verify_audit(&self) -> Result<u64> {
        let out = Command::new(broker_binary())
            .args(["audit", "verify", "--json", "--config"])
            .arg(self.home.join("zt-broker.toml"))
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            bail!(
                "zt-broker audit verify: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
            .context("zt-broker audit verify --json printed no JSON")?;
        summary["records"]
            .as_u64()
            .context("zt-broker audit verify --json: no record count")
    }
}

/// CPU so far, in clock ticks, of each kind of process.
#[derive(Debug, Clone, Copy)]
struct Cpu {
    /// Every replica.
    brokers: u64,
    postgres: Option<u64>,
    balancer: Option<u64>,
    /// This process: the load generator (and the idle issuer).
    clients: u64,
}

impl Cpu {
    fn since(self, before: Cpu) -> Cpu {
        let diff = |a: Option<u64>, b: Option<u64>| Some(a?.saturating_sub(b?));
        Cpu {
            brokers: self.brokers.saturating_sub(before.brokers),
            postgres: diff(self.postgres, before.postgres),
            balancer: diff(self.balancer, before.balancer),
            clients: self.clients.saturating_sub(before.clients),
        }
    }
}

/// `perf stat` counting syscall tracepoints in some processes (and in the threads and
/// processes they start meanwhile) until [finished](Perf::finish).
struct Perf {
    child: Option<Child>,
    out: tempfile::NamedTempFile,
    events: &'static [&'static str],
}

impl Perf {
    fn attach(pids: &[u32], events: &'static [&'static str]) -> Result<Perf> {
        let out = tempfile::NamedTempFile::new()?;
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        let child = Command::new("perf")
            .args([
                "stat",
                "-x",
                ",",
                "-e",
                &events.join(","),
                "-p",
                &pids.join(","),
            ])
            .arg("-o")
            .arg(out.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start perf stat")?;
        Ok(Perf {
            child: Some(child),
            out,
            events,
        })
    }

    /// Stop counting (SIGINT, as at a terminal); the count of each event, in order.
    fn finish(mut self) -> Result<Vec<u64>> {
        let mut child = self.child.take().expect("not finished yet");
        let interrupted = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !interrupted {
            let _ = child.kill();
        }
        child.wait()?;
        let text = std::fs::read_to_string(self.out.path())?;
        self.events
            .iter()
            .map(|event| {
                // `COUNT,,EVENT,…`
                let line = text
                    .lines()
                    .find(|l| l.split(',').nth(2) == Some(event))
                    .with_context(|| format!("perf stat did not report {event}: {text:?}"))?;
                let count = line.split(',').next().unwrap_or_default();
                count
                    .parse()
                    .with_context(|| format!("perf stat could not count {event}: {line}"))
            })
            .collect()
    }
}

impl Drop for Perf {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What the second pass counted during the timed part of a level.
#[derive(Debug, Clone, Copy)]
struct Counted {
    certificates: usize,
    /// `fsync` + `fdatasync`, the brokers' and PostgreSQL's.
    fsyncs: u64,
    /// PostgreSQL's `sendto` calls.
    round_trips: Option<u64>,
}

/// One level of one setup.
struct Level {
    stats: Stats,
    cpu: Cpu,
    /// Transactions and WAL syncs, less the background (first pass, PostgreSQL).
    db: Option<[f64; 2]>,
    /// Second pass.
    counted: Option<Counted>,
    audit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Rates, latencies, CPU and PostgreSQL's statistics; nothing attached.
    Timed,
    /// `perf stat` attached; only its counts are reported.
    Counted,
}

async fn level(
    http: &reqwest::Client,
    d: &mut Deployment,
    concurrency: usize,
    total: usize,
    cap: Duration,
    pass: Pass,
) -> Result<Level> {
    let endpoint = d.config.token_endpoint.clone();
    let sessions = super::sessions(http, &mut d.idp, &endpoint, concurrency).await?;
    let since = d.last_seq()?;
    // The exchanges wrote to the store: their counts must be in before the level's start.
    let before_db = match (&d.postgres, pass) {
        (Some(server), Pass::Timed) => {
            tokio::time::sleep(STATS_FLUSH).await;
            Some(db_counts(server)?)
        }
        _ => None,
    };

    let url = d.config.certificate_endpoint.clone();
    let mut work: Vec<Vec<api::Prepared>> = Vec::with_capacity(concurrency);
    for (i, client) in sessions.iter().enumerate() {
        let count = total / concurrency + usize::from(i < total % concurrency);
        work.push(
            (0..count)
                .map(|_| api::prepare(client, &url))
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?,
        );
    }

    let counters = match pass {
        Pass::Timed => None,
        Pass::Counted => {
            let brokers = Perf::attach(&d.broker_pids(), BROKER_EVENTS)?;
            let server = d
                .postgres
                .as_ref()
                .map(|server| Perf::attach(&server.pids(), POSTGRES_EVENTS))
                .transpose()?;
            tokio::time::sleep(ATTACH).await;
            Some((brokers, server))
        }
    };
    let cpu_before = d.cpu()?;
    let stats = clients::timed(&url, work, cap).await?;
    let cpu = d.cpu()?.since(cpu_before);
    let counted = match counters {
        None => None,
        Some((brokers, server)) => {
            let brokers = brokers.finish()?;
            let server = server.map(Perf::finish).transpose()?;
            Some(Counted {
                certificates: stats.ok,
                fsyncs: brokers.iter().sum::<u64>() + server.as_ref().map_or(0, |s| s[0] + s[1]),
                round_trips: server.map(|s| s[2]),
            })
        }
    };

    let db = match (&d.postgres, before_db) {
        (Some(server), Some(before)) => {
            tokio::time::sleep(STATS_FLUSH).await;
            let after = db_counts(server)?;
            let secs = after.at.duration_since(before.at).as_secs_f64();
            let less_background =
                |delta: i64, per_second: f64| (delta as f64 - per_second * secs).max(0.0);
            Some([
                less_background(after.transactions - before.transactions, d.background[0]),
                less_background(after.wal_syncs - before.wal_syncs, d.background[1]),
            ])
        }
        _ => None,
    };
    let audit = d.issued_since(since)?;
    Ok(Level {
        stats,
        cpu,
        db,
        counted,
        audit,
    })
}

/// Background transactions and WAL syncs per second of the idle PostgreSQL setups, watched
/// together for [`BACKGROUND`].
async fn measure_background(deployments: &mut [Deployment]) -> Result<()> {
    let mut before = Vec::new();
    for d in deployments.iter() {
        before.push(d.postgres.as_ref().map(db_counts).transpose()?);
    }
    if before.iter().all(Option::is_none) {
        return Ok(());
    }
    tokio::time::sleep(BACKGROUND).await;
    for (d, before) in deployments.iter_mut().zip(before) {
        let (Some(server), Some(before)) = (&d.postgres, before) else {
            continue;
        };
        let after = db_counts(server)?;
        let secs = after.at.duration_since(before.at).as_secs_f64();
        d.background = [
            (after.transactions - before.transactions) as f64 / secs,
            (after.wal_syncs - before.wal_syncs) as f64 / secs,
        ];
        println!(
            "{}: idle, {:.2} transactions/s and {:.2} WAL syncs/s (subtracted from each level)",
            d.setup.label, d.background[0], d.background[1]
        );
    }
    Ok(())
}

struct Row {
    setup: Setup,
    concurrency: usize,
    level: Level,
}

fn per_cert(count: Option<f64>, certificates: usize) -> String {
    match count {
        Some(n) if certificates > 0 => format!("{:.2}", n / certificates as f64),
        _ => "–".to_owned(),
    }
}

fn micros(ticks: Option<u64>, certificates: usize) -> Option<f64> {
    cpu::micros_per_certificate(ticks?, certificates)
}

fn cell(us: Option<f64>) -> String {
    us.map_or("–".to_owned(), |us| format!("{us:.0}"))
}

impl Level {
    /// CPU µs per certificate: brokers, PostgreSQL, HAProxy, clients.
    fn micros(&self) -> [Option<f64>; 4] {
        let (cpu, ok) = (self.cpu, self.stats.ok);
        [
            micros(Some(cpu.brokers), ok),
            micros(cpu.postgres, ok),
            micros(cpu.balancer, ok),
            micros(Some(cpu.clients), ok),
        ]
    }

    /// Cores kept busy by every process of the setup and the clients during the timed part.
    fn cores_busy(&self) -> f64 {
        let cpu = self.cpu;
        let ticks =
            cpu.brokers + cpu.postgres.unwrap_or(0) + cpu.balancer.unwrap_or(0) + cpu.clients;
        ticks as f64 / cpu::ticks_per_second() as f64 / self.stats.elapsed.as_secs_f64()
    }
}

fn print_level(setup: Setup, concurrency: usize, level: &Level) {
    let s = &level.stats;
    let [brokers, postgres, balancer, clients] = level.micros().map(cell);
    println!(
        "{:<33} clients {concurrency:>3}: {}; audit +{}; CPU µs/cert: brokers {brokers}, PostgreSQL {postgres}, HAProxy {balancer}, clients {clients} ({:.2} cores busy); per cert: {} transactions, {} WAL syncs",
        setup.label,
        s.summary("certs"),
        level.audit,
        level.cores_busy(),
        per_cert(level.db.map(|db| db[0]), s.ok),
        per_cert(level.db.map(|db| db[1]), s.ok),
    );
}

/// The checks of a level: every 200 answer has its audit record, and nothing failed.
fn check(problems: &mut Vec<String>, setup: Setup, concurrency: usize, level: &Level) {
    let s = &level.stats;
    let mut fail = |problem: String| {
        println!("  FAILED: {problem}");
        problems.push(format!("{}, {concurrency} clients: {problem}", setup.label));
    };
    if level.audit != s.ok as i64 {
        fail(format!(
            "{} certificates answered 200 but {} certificate_issued audit records were added",
            s.ok, level.audit
        ));
    }
    if s.failed > 0 {
        fail(format!(
            "{} requests failed; the first: {}",
            s.failed,
            s.first_error.as_deref().unwrap_or("?")
        ));
    }
}

/// The second pass: every level again with `perf stat` attached; its counts go to `rows`.
async fn count_pass(
    http: &reqwest::Client,
    deployments: &mut [Deployment],
    levels: &[usize],
    (total, cap): (usize, Duration),
    rows: &mut [Row],
    problems: &mut Vec<String>,
) -> Result<()> {
    println!(
        "count pass (the same levels again, perf stat attached to the brokers and PostgreSQL; rates not reported):"
    );
    for &concurrency in levels {
        for d in deployments.iter_mut() {
            let level = level(http, d, concurrency, total, cap, Pass::Counted).await?;
            let counted = level.counted.context("perf was attached")?;
            println!(
                "  {:<33} clients {concurrency:>3}: {} certificates, {} fsync + fdatasync, {} PostgreSQL sends",
                d.setup.label,
                counted.certificates,
                counted.fsyncs,
                counted
                    .round_trips
                    .map_or("–".to_owned(), |n| n.to_string()),
            );
            check(problems, d.setup, concurrency, &level);
            let row = rows
                .iter_mut()
                .find(|r| r.setup.label == d.setup.label && r.concurrency == concurrency);
            if let Some(row) = row {
                row.level.counted = Some(counted);
            }
        }
    }
    Ok(())
}

fn print_table(rows: &mut [Row], floor: &floor::Floor) {
    println!();
    println!(
        "| Setup | Clients | OK / sent | certs/s | p50 ms | p99 ms | brokers CPU µs/cert | PostgreSQL CPU µs/cert | HAProxy CPU µs/cert | servers ÷ floor | clients CPU µs/cert | cores busy | transactions/cert | WAL syncs/cert | DB round trips/cert | fsyncs/cert | audit rows |"
    );
    println!(
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    rows.sort_by_key(|r| {
        let setup = SETUPS.iter().position(|s| s.label == r.setup.label);
        (r.concurrency, setup)
    });
    for r in rows.iter() {
        let s = &r.level.stats;
        let us = r.level.micros();
        let servers: f64 = us[..3].iter().map(|us| us.unwrap_or(0.0)).sum();
        let counted = |count: fn(&Counted) -> Option<f64>| {
            r.level
                .counted
                .map_or("–".to_owned(), |c| per_cert(count(&c), c.certificates))
        };
        println!(
            "| {} | {} | {} / {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {:.2} | {} | {:.2} | {} | {} | {} | {} | {} |",
            r.setup.label,
            r.concurrency,
            s.ok,
            s.ok + s.failed,
            s.rate(),
            ms(s.percentile(50.0)),
            ms(s.percentile(99.0)),
            cell(us[0]),
            cell(us[1]),
            cell(us[2]),
            servers / floor.well_written.per_certificate,
            cell(us[3]),
            r.level.cores_busy(),
            per_cert(r.level.db.map(|db| db[0]), s.ok),
            per_cert(r.level.db.map(|db| db[1]), s.ok),
            counted(|c| c.round_trips.map(|n| n as f64)),
            counted(|c| Some(c.fsyncs as f64)),
            r.level.audit,
        );
    }
    println!(
        "(floor: a well-written caller's {:.1} µs/cert, one thread, measured above)",
        floor.well_written.per_certificate
    );
}

/// The `--stores` mode; `full` as in the default mode (`--bench` given).
pub fn run(full: bool) -> Result<()> {
    if !full {
        println!(
            "broker bench --stores: smoke run only (use `cargo bench --bench broker -- --stores` for numbers)"
        );
    }
    let super::Knobs { total, cap, levels } = super::Knobs::from_env(full, 2000, 30);
    let mut setups = Vec::new();
    for setup in SETUPS {
        match setup.unavailable() {
            None => setups.push(setup),
            Some(why) if std::env::var(zt_testkit::REQUIRE_PEERS_ENV).is_ok_and(|v| v == "1") => {
                bail!(
                    "{}: {why} (and {}=1 forbids skipping)",
                    setup.label,
                    zt_testkit::REQUIRE_PEERS_ENV
                )
            }
            Some(why) => println!("SKIPPED {}: {why}", setup.label),
        }
    }
    // Before anything else starts, so nothing of the bench's runs meanwhile.
    let floor = floor::measure(env_or(
        "ZT_BENCH_FLOOR_ITERATIONS",
        if full { 4000 } else { 20 },
    ))?;
    let count_tool = if full {
        fsyncs::Tool::find()
    } else {
        Err("skipped in the smoke run".to_owned())
    };

    let tmp = tempfile::Builder::new().prefix("zt-bench-").tempdir()?;
    let issuer = DevIdp::start("alice");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut rows: Vec<Row> = Vec::new();
    let mut problems = Vec::new();
    let mut chains = Vec::new();
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        let mut deployments = Vec::new();
        for &setup in &setups {
            deployments.push(Deployment::start(setup, tmp.path(), &issuer.issuer, &http).await?);
        }
        println!(
            "zt-broker serve ({}), {} CPUs, {} requests/level, cap {} s, issuer {}",
            broker_binary().display(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            total,
            cap.as_secs(),
            issuer.issuer,
        );
        for d in &deployments {
            let postgres = d.postgres.as_ref().map_or(String::new(), |s| {
                format!(", PostgreSQL {} pid {:?}", s.url(), s.pids().first())
            });
            let balancer = d.balancer.as_ref().map_or(String::new(), |(h, pid)| {
                format!(", HAProxy {} pid {pid}", h.url())
            });
            println!(
                "{}: {} (brokers {:?}{postgres}{balancer}), {}",
                d.setup.label,
                d.config.broker,
                d.broker_pids(),
                d.home.display(),
            );
        }
        floor.print();
        measure_background(&mut deployments).await?;

        for (i, &concurrency) in levels.iter().enumerate() {
            // Rotate the order, so that no setup always runs first, or after the same one.
            let n = deployments.len();
            for k in 0..n {
                let d = &mut deployments[(i + k) % n];
                let level = level(&http, d, concurrency, total, cap, Pass::Timed).await?;
                print_level(d.setup, concurrency, &level);
                check(&mut problems, d.setup, concurrency, &level);
                rows.push(Row {
                    setup: d.setup,
                    concurrency,
                    level,
                });
            }
        }
        match count_tool {
            Ok(fsyncs::Tool::Perf) => {
                let (deployments, rows, problems) = (&mut deployments, &mut rows, &mut problems);
                count_pass(&http, deployments, &levels, (total, cap), rows, problems).await?;
            }
            Ok(fsyncs::Tool::Strace) => {
                println!("count pass: skipped: it needs perf's syscall tracepoints, not strace")
            }
            Err(why) => println!("count pass: skipped: {why}"),
        }
        for d in &deployments {
            match d.verify_audit() {
                Ok(records) => chains.push(format!("{}: {records}", d.setup.label)),
                Err(e) => problems.push(format!(
                    "{}: the audit log is not intact: {e:#}",
                    d.setup.label
                )),
            }
        }
        anyhow::Ok(())
    })?;
    // The setups were dropped (killed) at the end of the block.
    println!(
        "audit verify, records in one intact chain: {}",
        chains.join("; ")
    );
    print_table(&mut rows, &floor);
    if !problems.is_empty() {
        bail!("the run is not valid:\n  {}", problems.join("\n  "));
    }
    Ok(())
}
