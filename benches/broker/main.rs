//! Certificate issuance throughput and latency of the real `zt-broker dev`, with device
//! posture off and on, against `ssh-keygen -s` (one process per certificate), all measured in
//! the same run on the same machine.
//!
//! Another mode, `cargo bench --bench broker -- --tokens`, sets tokens for other services
//! against certificates (tokens.rs); `-- --stores` sets one broker on SQLite against one on
//! PostgreSQL and three replicas behind HAProxy, with what each certificate costs the
//! database (stores.rs).
//!
//! Efficiency (issue 14): the cryptographic floor of a certificate, measured in this process
//! (floor.rs), the broker's CPU per certificate from `/proc` (cpu.rs) and, in a separate pass,
//! its fsyncs per certificate (fsyncs.rs).
//!
//! Run: `cargo bench --bench broker` (see `benches/README.md`). Prints numbers
//! only; nothing here asserts on timing. What fails the run is correctness: every 200 answer
//! must have its `certificate_issued` row in the broker's SQLite audit log once the level is
//! over, and with posture on, every request must be answered 200, its audit row must record
//! the posture the broker held against the rule, and its nonce must be in the once ledger.
//!
//! Two brokers run side by side, each with a policy file this bench writes: "posture off",
//! the `sre` rule of the starter policy; "posture on", the same rule plus
//! `require.posture.*`. Levels alternate which one goes first.
//!
//! Knobs (environment): `ZT_BENCH_REQUESTS` requests per level (2000),
//! `ZT_BENCH_SECS` time cap per level (30), `ZT_BENCH_LEVELS` concurrency
//! levels (`1,8,64`), `ZT_BENCH_KEYGEN_CERTS` certificates for the
//! ssh-keygen baseline (500), `ZT_BENCH_FLOOR_ITERATIONS` certificates for each
//! number of the floor (4000), `ZT_BROKER_BIN` broker binary (default: the
//! `zt-broker` Cargo builds for this bench, i.e. `target/release/zt-broker`).
//!
//! The brokers run with `--no-rate-limits`: 64 clients of one identity on one
//! address at thousands of requests/s is exactly what the default limits
//! refuse (see docs/decisions.md).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use zt_core::posture::PostureReport;
use zt_core::proto;

// The same client-side API calls the integration tests make.
use zt_testkit::api;

mod audit;
mod clients;
mod cpu;
mod floor;
mod fsyncs;
mod http_floor;
mod keygen;
mod policies;
mod stores;
mod tokens;

use audit::{durability, last_audit_seq};
use clients::timed;
use keygen::{keygen_baseline, run_ok};
use policies::{Posture, compliant_report, policy};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `n` logged-in clients: for each, a fresh ID token from `idp` exchanged at `token_endpoint`
/// (untimed setup of a level).
async fn sessions(
    http: &reqwest::Client,
    idp: &mut api::IdTokens,
    token_endpoint: &str,
    n: usize,
) -> Result<Vec<api::Client>> {
    let mut sessions = Vec::with_capacity(n);
    for _ in 0..n {
        let id_token = idp.fresh().await.map_err(anyhow::Error::msg)?;
        match api::exchange(http, token_endpoint, &id_token)
            .await
            .map_err(anyhow::Error::msg)?
        {
            (_, Some(client)) => sessions.push(client),
            (answer, None) => bail!("token exchange answered {}: {}", answer.status, answer.body),
        }
    }
    Ok(sessions)
}

/// What a mode runs: requests per level (`ZT_BENCH_REQUESTS`, else `requests` in a full run),
/// the time cap per level (`ZT_BENCH_SECS`, else `secs`) and the client levels
/// (`ZT_BENCH_LEVELS`, else 1, 8 and 64; a smoke run: 16 requests at 1 and 4 clients).
struct Knobs {
    total: usize,
    cap: Duration,
    levels: Vec<usize>,
}

impl Knobs {
    fn from_env(full: bool, requests: usize, secs: u64) -> Knobs {
        Knobs {
            total: env_or("ZT_BENCH_REQUESTS", if full { requests } else { 16 }),
            cap: Duration::from_secs(env_or("ZT_BENCH_SECS", secs)),
            levels: std::env::var("ZT_BENCH_LEVELS")
                .unwrap_or_else(|_| if full { "1,8,64" } else { "1,4" }.into())
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .filter(|&n| n > 0)
                .collect(),
        }
    }
}

/// The broker process; killed when dropped.
struct BrokerProcess {
    child: Child,
    // Kept open so the broker never writes to a closed pipe.
    _stdout: Option<BufReader<std::process::ChildStdout>>,
    url: String,
    user_ca: String,
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Deserialize)]
struct Ready {
    event: String,
    broker: String,
    user_ca: String,
}

/// `ZT_BROKER_BIN`, or the release `zt-broker` of this workspace, built if needed.
fn broker_binary() -> PathBuf {
    zt_testkit::bins::zt_broker().to_owned()
}

/// `zt-broker policy check FILE`: the policy loads, or the bench stops here.
fn check_policy(policy: &Path) -> Result<()> {
    run_ok(
        Command::new(broker_binary())
            .args(["policy", "check"])
            .arg(policy),
    )
    .with_context(|| format!("the bench's policy {} does not load", policy.display()))
}

fn start_broker(dir: &Path, policy: &Path) -> Result<BrokerProcess> {
    let bin = broker_binary();
    if !bin.exists() {
        bail!(
            "{} is missing; run `cargo build --release --bin zt-broker` or set ZT_BROKER_BIN",
            bin.display()
        );
    }
    let stderr = std::fs::File::create(dir.join("broker.stderr"))?;
    let mut child = Command::new(&bin)
        .args([
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--json",
            "--no-rate-limits",
        ])
        .arg("--auto-approve")
        .arg("alice")
        .arg("--policy")
        .arg(policy)
        .arg("--dir")
        .arg(dir.join("broker"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("start {}", bin.display()))?;
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut process = BrokerProcess {
        child,
        _stdout: None,
        url: String::new(),
        user_ca: String::new(),
    };
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    process._stdout = Some(stdout);
    let ready: Ready = serde_json::from_str(&line).with_context(|| {
        format!(
            "first stdout line of zt-broker dev: {line:?}; see {}",
            dir.join("broker.stderr").display()
        )
    })?;
    if ready.event != "ready" {
        bail!("unexpected first event {:?}", ready.event);
    }
    process.url = ready.broker;
    process.user_ca = ready.user_ca;
    Ok(process)
}

/// One broker under test, logged in at its dev IdP.
struct Target {
    posture: Posture,
    broker: BrokerProcess,
    db: PathBuf,
    config: proto::BrokerConfiguration,
    idp: api::IdTokens,
}

impl Target {
    async fn start(root: &Path, posture: Posture, http: &reqwest::Client) -> Result<Target> {
        let dir = root.join(posture.dir());
        std::fs::create_dir_all(&dir)?;
        let policy_file = dir.join("policy.toml");
        std::fs::write(&policy_file, policy(posture))?;
        check_policy(&policy_file)?;
        let broker = start_broker(&dir, &policy_file)?;
        let config = api::configuration(http, &broker.url)
            .await
            .map_err(anyhow::Error::msg)?;
        let issuer = format!("{}/dev-idp", broker.url);
        let (idp, _first_id_token) = api::IdTokens::login(http, &issuer)
            .await
            .map_err(anyhow::Error::msg)?;
        Ok(Target {
            posture,
            db: dir.join("broker").join("zt-broker.db"),
            broker,
            config,
            idp,
        })
    }
}

struct Stats {
    ok: usize,
    failed: usize,
    first_error: Option<String>,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Stats {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    /// `N ok, N failed in S s = R/s; p50 … ms, p99 … ms`, the start of every level's line
    /// (`unit`: what one success is, e.g. `certs`).
    fn summary(&self, unit: &str) -> String {
        format!(
            "{} ok, {} failed in {:.2} s = {:.0} {unit}/s; p50 {:.2} ms, p99 {:.2} ms",
            self.ok,
            self.failed,
            self.elapsed.as_secs_f64(),
            self.rate(),
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
        )
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One level of one broker: what was timed, and what the untimed setup cost.
struct Level {
    stats: Stats,
    /// Client-side preparation per request (key, proofs; with posture, the report's
    /// digest and serialisation).
    prep_per_request: Duration,
    /// With posture: fetching one nonce per request, and the nonces.
    nonce_fetch: Option<Duration>,
    nonces: Vec<String>,
    /// The broker's CPU during the timed part, in clock ticks.
    cpu_ticks: u64,
    /// The broker's fsync + fdatasync calls during the timed part, when counted.
    fsyncs: Option<u64>,
}

/// Nonce-less posture requests in flight at once while fetching nonces (untimed).
const NONCE_FETCHERS: usize = 8;

async fn run_level(
    http: &reqwest::Client,
    target: &mut Target,
    report: &PostureReport,
    concurrency: usize,
    total: usize,
    cap: Duration,
    count_fsyncs: Option<fsyncs::Tool>,
) -> Result<Level> {
    // Setup (untimed): one ID token + token exchange per client, with posture one
    // fresh nonce per request, then every request's key and proofs.
    let endpoint = target.config.token_endpoint.clone();
    let clients: Vec<Arc<api::Client>> = sessions(http, &mut target.idp, &endpoint, concurrency)
        .await?
        .into_iter()
        .map(Arc::new)
        .collect();
    let url = target.config.certificate_endpoint.clone();
    let counts: Vec<usize> = (0..concurrency)
        .map(|i| total / concurrency + usize::from(i < total % concurrency))
        .collect();

    let (nonce_fetch, nonces) = match target.posture {
        Posture::Off => (None, Vec::new()),
        Posture::On => {
            // Each nonce-less request is refused with 401 use_dpop_nonce and a new nonce,
            // as `zt`'s first try is. A nonce is not bound to a device key, so a few
            // fetchers, taking the level's clients in turn, get them all.
            let started = Instant::now();
            let fetchers = NONCE_FETCHERS.min(total).max(1);
            let mut tasks = Vec::with_capacity(fetchers);
            for f in 0..fetchers {
                let count = total / fetchers + usize::from(f < total % fetchers);
                let client = clients[f % clients.len()].clone();
                let (http, url, report) = (http.clone(), url.clone(), report.clone());
                tasks.push(tokio::spawn(async move {
                    api::fetch_nonces(&http, &client, &url, &report, count).await
                }));
            }
            let mut nonces = Vec::with_capacity(total);
            for task in tasks {
                nonces.extend(task.await?.map_err(anyhow::Error::msg)?);
            }
            (Some(started.elapsed()), nonces)
        }
    };

    let prep_start = Instant::now();
    let mut work: Vec<Vec<api::Prepared>> = Vec::with_capacity(concurrency);
    let mut unused = nonces.iter();
    for (client, &count) in clients.iter().zip(&counts) {
        let prepared = (0..count)
            .map(|_| match target.posture {
                Posture::Off => api::prepare(client, &url),
                Posture::On => {
                    let nonce = unused.next().expect("one nonce per request");
                    api::prepare_with_posture(client, &url, Some(nonce), report)
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        work.push(prepared);
    }
    let prep_per_request = prep_start.elapsed() / total.max(1) as u32;

    let pid = target.broker.child.id();
    let counter = count_fsyncs.map(|tool| tool.attach(pid)).transpose()?;
    let cpu_before = cpu::ticks(pid)?;
    let stats = timed(&url, work, cap).await?;
    let cpu_ticks = cpu::ticks(pid)? - cpu_before;
    let fsyncs = counter.map(fsyncs::Attached::finish).transpose()?;
    Ok(Level {
        stats,
        prep_per_request,
        nonce_fetch,
        nonces,
        cpu_ticks,
        fsyncs,
    })
}

struct LevelResult {
    concurrency: usize,
    posture: Posture,
    stats: Stats,
    audit_delta: i64,
    cpu_micros: Option<f64>,
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`. Without it (`cargo test --all-targets`
    // runs harness-less benches too, in the debug profile) only a smoke run:
    // a few requests, to check the bench still works, with no numbers worth
    // reading.
    let full = std::env::args().any(|a| a == "--bench");
    if std::env::args().any(|a| a == "--tokens") {
        return tokens::run(full);
    }
    if std::env::args().any(|a| a == "--stores") {
        return stores::run(full);
    }
    if !full {
        println!("broker bench: smoke run only (use `cargo bench --bench broker` for numbers)");
    }
    let Knobs { total, cap, levels } = Knobs::from_env(full, 2000, 30);
    let keygen_certs: usize = env_or("ZT_BENCH_KEYGEN_CERTS", if full { 500 } else { 4 });
    // Before the brokers start, so nothing else of the bench's runs meanwhile.
    let floor = floor::measure(env_or(
        "ZT_BENCH_FLOOR_ITERATIONS",
        if full { 4000 } else { 20 },
    ))?;

    let tmp = tempfile::Builder::new().prefix("zt-bench-").tempdir()?;
    let report = compliant_report();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut results = Vec::new();
    let mut problems = Vec::new();
    let mut fsync_counts = Vec::new();
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        let mut targets = [
            Target::start(tmp.path(), Posture::Off, &http).await?,
            Target::start(tmp.path(), Posture::On, &http).await?,
        ];
        println!(
            "zt-broker dev ({}), {} CPUs, {} requests/level, cap {} s",
            broker_binary().display(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            total,
            cap.as_secs()
        );
        for t in &targets {
            println!(
                "{}: {} (pid {}, policy {}), user CA {}",
                t.posture.label(),
                t.broker.url,
                t.broker.child.id(),
                tmp.path().join(t.posture.dir()).join("policy.toml").display(),
                t.broker.user_ca
            );
        }
        println!(
            "posture report: {} bytes of JSON, {} checks, {} processes",
            serde_json::to_string(&report)?.len(),
            report.checks.len(),
            report.processes.len()
        );
        floor.print();
        for (i, &concurrency) in levels.iter().enumerate() {
            // Alternate which broker goes first, so neither always runs on a machine
            // warmed (or still flushing) from the other.
            let order: [usize; 2] = if i % 2 == 0 { [0, 1] } else { [1, 0] };
            for t in order {
                let target = &mut targets[t];
                let posture = target.posture;
                let since = last_audit_seq(&target.db)?;
                let level =
                    run_level(&http, target, &report, concurrency, total, cap, None).await?;
                let check = durability(&target.db, since, &level.nonces)?;
                let stats = level.stats;
                let cpu_micros = cpu::micros_per_certificate(level.cpu_ticks, stats.ok);
                let nonce_note = match level.nonce_fetch {
                    Some(d) => format!(
                        "; {} nonces fetched in {:.0} ms, {}/{} used up in the once ledger",
                        level.nonces.len(),
                        ms(d),
                        check.nonces_used,
                        level.nonces.len()
                    ),
                    None => String::new(),
                };
                println!(
                    "{:<11} concurrency {concurrency:>3}: {}; audit certificate_issued rows +{}; broker CPU {:.0} µs/cert; client prep {:.0} µs/request (untimed){nonce_note}",
                    posture.label(),
                    stats.summary("certs"),
                    check.issued,
                    cpu_micros.unwrap_or(f64::NAN),
                    level.prep_per_request.as_secs_f64() * 1e6,
                );
                if let Some(e) = &stats.first_error {
                    println!("  first failure: {e}");
                }
                if posture == Posture::Off {
                    let per_client = (total / concurrency).max(1);
                    let http_only = http_floor::measure(
                        &target.broker.url,
                        target.broker.child.id(),
                        concurrency,
                        per_client,
                    )
                    .await?;
                    println!(
                        "{:<11} concurrency {concurrency:>3}: HTTP alone (GET {}, {} requests): broker CPU {http_only:.0} µs/request",
                        "",
                        proto::HEALTH_PATH,
                        per_client * concurrency
                    );
                }
                let mut fail = |problem: String| {
                    println!("  FAILED: {problem}");
                    problems.push(format!("{}, concurrency {concurrency}: {problem}", posture.label()));
                };
                if check.issued != stats.ok as i64 {
                    fail(format!(
                        "{} certificates answered 200 but {} audit rows were added",
                        stats.ok, check.issued
                    ));
                }
                if posture == Posture::On {
                    if stats.failed > 0 {
                        fail(format!(
                            "{} requests were refused or failed (see the first failure above; nonces live {} s, proofs {} s around their iat; is ZT_BENCH_SECS too long?)",
                            stats.failed,
                            zt_core::nonce::NONCE_TTL_SECS,
                            zt_core::dpop::IAT_WINDOW_SECS
                        ));
                    }
                    if check.issued_with_posture != stats.ok as i64 {
                        fail(format!(
                            "{} certificates answered 200 but {} audit rows record every posture requirement met",
                            stats.ok, check.issued_with_posture
                        ));
                    }
                    if check.nonces_used != stats.ok as i64 {
                        fail(format!(
                            "{} certificates answered 200 but {} of their nonces are in the once ledger",
                            stats.ok, check.nonces_used
                        ));
                    }
                }
                results.push(LevelResult {
                    concurrency,
                    posture,
                    stats,
                    audit_delta: check.issued,
                    cpu_micros,
                });
            }
        }
        fsync_counts =
            fsyncs::pass(full, &http, &mut targets, &report, &levels, total, cap).await?;
        anyhow::Ok(())
    })?;
    // The brokers were dropped (killed) at the end of the block.

    let keygen = keygen_baseline(tmp.path(), keygen_certs)?;
    for k in &keygen {
        println!(
            "ssh-keygen -s, {} worker(s): {} certs in {:.2} s = {:.0} certs/s; p50 {:.2} ms, p99 {:.2} ms",
            k.workers,
            k.certs,
            k.elapsed.as_secs_f64(),
            k.rate(),
            ms(percentile(&k.latencies, 50.0)),
            ms(percentile(&k.latencies, 99.0)),
        );
    }
    let seq = keygen[0].rate();
    let par = keygen[1].rate();

    println!();
    println!(
        "| Workload | Concurrency | OK / sent | certs/s | p50 ms | p99 ms | posture on ÷ off | × ssh-keygen (1 proc) | × ssh-keygen (2 procs) | audit rows |{}",
        cpu::HEADS
    );
    println!(
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|{}",
        cpu::ALIGN
    );
    results.sort_by_key(|r| (r.concurrency, r.posture == Posture::On));
    for r in &results {
        let s = &r.stats;
        let ratio = match r.posture {
            Posture::Off => "–".to_owned(),
            Posture::On => results
                .iter()
                .find(|o| o.posture == Posture::Off && o.concurrency == r.concurrency)
                .map_or("–".to_owned(), |off| {
                    format!("{:.2}", s.rate() / off.stats.rate())
                }),
        };
        let fsyncs = fsyncs::per_certificate(&fsync_counts, r.posture, r.concurrency);
        println!(
            "| zt-broker `POST /v1/ssh/certificates`, {} | {} | {} / {} | {:.0} | {:.2} | {:.2} | {ratio} | {:.2} | {:.2} | {} |{}",
            r.posture.label(),
            r.concurrency,
            s.ok,
            s.ok + s.failed,
            s.rate(),
            ms(s.percentile(50.0)),
            ms(s.percentile(99.0)),
            s.rate() / seq,
            s.rate() / par,
            r.audit_delta,
            cpu::cells(r.cpu_micros, &floor, fsyncs),
        );
    }
    for k in &keygen {
        println!(
            "| `ssh-keygen -s` (process per cert) | {} | {} / {} | {:.0} | {:.2} | {:.2} | – | {:.2} | {:.2} | – |{}",
            k.workers,
            k.certs,
            k.certs,
            k.rate(),
            ms(percentile(&k.latencies, 50.0)),
            ms(percentile(&k.latencies, 99.0)),
            k.rate() / seq,
            k.rate() / par,
            cpu::cells(None, &floor, None),
        );
    }
    if !problems.is_empty() {
        bail!("the run is not valid:\n  {}", problems.join("\n  "));
    }
    Ok(())
}
