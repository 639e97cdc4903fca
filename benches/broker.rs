//! Certificate issuance throughput and latency of the real `zt-broker dev`,
//! against `ssh-keygen -s` (one process per certificate) measured in the same
//! run on the same machine.
//!
//! Run: `cargo bench --bench broker` (see `benches/README.md`). Prints numbers
//! only; nothing here asserts on timing. The one check that fails the run is a
//! correctness check: every 200 answer must have its `certificate_issued` row
//! in the broker's SQLite audit log once the level is over.
//!
//! Knobs (environment): `ZT_BENCH_REQUESTS` requests per level (2000),
//! `ZT_BENCH_SECS` time cap per level (30), `ZT_BENCH_LEVELS` concurrency
//! levels (`1,8,64`), `ZT_BENCH_KEYGEN_CERTS` certificates for the
//! ssh-keygen baseline (500), `ZT_BROKER_BIN` broker binary (default: the
//! `zt-broker` Cargo builds for this bench, i.e. `target/release/zt-broker`).
//!
//! The broker runs with `--no-rate-limits`: 64 clients of one identity on one
//! address at thousands of requests/s is exactly what the default limits
//! refuse (see docs/decisions.md).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use zt_core::proto;

// The same client-side API calls the integration tests make.
use zt_testkit::api;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

fn start_broker(dir: &Path) -> Result<BrokerProcess> {
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

struct LevelResult {
    concurrency: usize,
    stats: Stats,
    audit_delta: i64,
}

async fn run_level(
    http: &reqwest::Client,
    idp: &mut api::IdTokens,
    config: &proto::BrokerConfiguration,
    concurrency: usize,
    total: usize,
    cap: Duration,
) -> Result<(Stats, Duration)> {
    // Setup (untimed): one ID token + token exchange per client, then every
    // request's key and proofs.
    let mut clients = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let id_token = idp.fresh().await.map_err(anyhow::Error::msg)?;
        match api::exchange(http, &config.token_endpoint, &id_token)
            .await
            .map_err(anyhow::Error::msg)?
        {
            (_, Some(client)) => clients.push(client),
            (answer, None) => bail!("token exchange answered {}: {}", answer.status, answer.body),
        }
    }
    let url = config.certificate_endpoint.clone();
    let prep_start = Instant::now();
    let mut work: Vec<(Arc<String>, Vec<api::Prepared>)> = Vec::with_capacity(concurrency);
    for (i, client) in clients.iter().enumerate() {
        let count = total / concurrency + usize::from(i < total % concurrency);
        let prepared = (0..count)
            .map(|_| api::prepare(client, &url).map_err(anyhow::Error::msg))
            .collect::<Result<Vec<_>>>()?;
        work.push((Arc::new(format!("DPoP {}", client.access_token)), prepared));
    }
    let prep_per_request = prep_start.elapsed() / total.max(1) as u32;

    let start = Instant::now();
    let deadline = start + cap;
    let mut tasks = Vec::with_capacity(concurrency);
    for (authorization, prepared) in work {
        let http = http.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(prepared.len());
            let (mut ok, mut failed, mut first_error) = (0usize, 0usize, None);
            for request in prepared {
                if Instant::now() >= deadline {
                    break;
                }
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .header("Authorization", authorization.as_str())
                    .header("DPoP", request.dpop)
                    .header("Content-Type", "application/json")
                    .body(request.body)
                    .send()
                    .await;
                let outcome = match response {
                    Ok(r) => {
                        let status = r.status();
                        match r.bytes().await {
                            Ok(body) if status.is_success() => Ok(body),
                            Ok(body) => {
                                Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))
                            }
                            Err(e) => Err(e.to_string()),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                latencies.push(sent.elapsed());
                match outcome {
                    Ok(body) => {
                        // Cheap sanity check outside the broker's hot path:
                        // the answer is a certificate response.
                        if body.starts_with(b"{\"certificate\":\"ssh-ed25519-cert-v01") {
                            ok += 1;
                        } else {
                            failed += 1;
                            first_error.get_or_insert_with(|| {
                                format!("unexpected body: {}", String::from_utf8_lossy(&body))
                            });
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (ok, failed, first_error, latencies)
        }));
    }
    let mut stats = Stats {
        ok: 0,
        failed: 0,
        first_error: None,
        latencies: Vec::with_capacity(total),
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let (ok, failed, first_error, latencies) = task.await?;
        stats.ok += ok;
        stats.failed += failed;
        if stats.first_error.is_none() {
            stats.first_error = first_error;
        }
        stats.latencies.extend(latencies);
    }
    stats.elapsed = start.elapsed();
    stats.latencies.sort_unstable();
    Ok((stats, prep_per_request))
}

fn audit_certificate_rows(db: &Path) -> Result<i64> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("open {}", db.display()))?;
    let count = conn.query_row(
        r#"SELECT count(*) FROM audit WHERE record LIKE '%"kind":"certificate_issued"%'"#,
        [],
        |row| row.get(0),
    )?;
    Ok(count)
}

fn run_ok(command: &mut Command) -> Result<()> {
    let output = command.stdin(Stdio::null()).output()?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

struct KeygenResult {
    workers: usize,
    certs: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl KeygenResult {
    fn rate(&self) -> f64 {
        self.certs as f64 / self.elapsed.as_secs_f64()
    }
}

/// `ssh-keygen -s CA -I id -n ops -V +1h key.pub`, one process per
/// certificate, split over `workers` threads.
fn keygen_sign(ca: &Path, keys: &[PathBuf], workers: usize) -> Result<KeygenResult> {
    let start = Instant::now();
    let chunks: Vec<Vec<PathBuf>> = (0..workers)
        .map(|w| keys.iter().skip(w).step_by(workers).cloned().collect())
        .collect();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let ca = ca.to_owned();
            std::thread::spawn(move || -> Result<Vec<Duration>> {
                let mut latencies = Vec::with_capacity(chunk.len());
                for public in chunk {
                    let t = Instant::now();
                    run_ok(
                        Command::new("ssh-keygen")
                            .args(["-q", "-s"])
                            .arg(&ca)
                            .args(["-I", "id", "-n", "ops", "-V", "+1h"])
                            .arg(&public),
                    )?;
                    latencies.push(t.elapsed());
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(keys.len());
    for handle in handles {
        latencies.extend(
            handle
                .join()
                .map_err(|_| anyhow!("ssh-keygen worker panicked"))??,
        );
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    Ok(KeygenResult {
        workers,
        certs: keys.len(),
        elapsed,
        latencies,
    })
}

fn keygen_baseline(dir: &Path, count: usize) -> Result<Vec<KeygenResult>> {
    let dir = dir.join("ssh-keygen");
    std::fs::create_dir_all(&dir)?;
    let ca = dir.join("ca");
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "bench-ca", "-f"])
            .arg(&ca),
    )?;
    // Untimed: the subject keys.
    let mut keys = Vec::with_capacity(count);
    for i in 0..count {
        let key = dir.join(format!("k{i}"));
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "k", "-f"])
                .arg(&key),
        )?;
        keys.push(key.with_extension("pub"));
    }
    // `with_extension` on "k12" gives "k12.pub", as ssh-keygen names it.
    let mut results = Vec::new();
    for workers in [1, 2] {
        for key in &keys {
            let _ = std::fs::remove_file(key.with_file_name(format!(
                "{}-cert.pub",
                key.file_stem().unwrap().to_string_lossy()
            )));
        }
        results.push(keygen_sign(&ca, &keys, workers)?);
    }
    Ok(results)
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`. Without it (`cargo test --all-targets`
    // runs harness-less benches too, in the debug profile) only a smoke run:
    // a few requests, to check the bench still works, with no numbers worth
    // reading.
    let full = std::env::args().any(|a| a == "--bench");
    if !full {
        println!("broker bench: smoke run only (use `cargo bench --bench broker` for numbers)");
    }
    let total: usize = env_or("ZT_BENCH_REQUESTS", if full { 2000 } else { 16 });
    let cap = Duration::from_secs(env_or("ZT_BENCH_SECS", 30));
    let keygen_certs: usize = env_or("ZT_BENCH_KEYGEN_CERTS", if full { 500 } else { 4 });
    let levels: Vec<usize> = std::env::var("ZT_BENCH_LEVELS")
        .unwrap_or_else(|_| if full { "1,8,64" } else { "1,4" }.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect();

    let tmp = tempfile::Builder::new().prefix("zt-bench-").tempdir()?;
    let broker = start_broker(tmp.path())?;
    let db = tmp.path().join("broker").join("zt-broker.db");
    println!(
        "zt-broker dev at {} ({}), {} CPUs, {} requests/level, cap {} s",
        broker.url,
        broker_binary().display(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        total,
        cap.as_secs()
    );
    println!("user CA: {}", broker.user_ca);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut results = Vec::new();
    let mut mismatch = false;
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        let config: proto::BrokerConfiguration = http
            .get(format!("{}{}", broker.url, proto::WELL_KNOWN_PATH))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let issuer = format!("{}/dev-idp", broker.url);
        let (mut idp, _first_id_token) = api::IdTokens::login(&http, &issuer)
            .await
            .map_err(anyhow::Error::msg)?;
        for &concurrency in &levels {
            let before = audit_certificate_rows(&db)?;
            let (stats, prep) =
                run_level(&http, &mut idp, &config, concurrency, total, cap).await?;
            let after = audit_certificate_rows(&db)?;
            let delta = after - before;
            println!(
                "concurrency {concurrency:>3}: {} ok, {} failed in {:.2} s = {:.0} certs/s; p50 {:.2} ms, p99 {:.2} ms; audit certificate_issued rows +{delta} (total {after}); client prep {:.0} µs/request (untimed)",
                stats.ok,
                stats.failed,
                stats.elapsed.as_secs_f64(),
                stats.rate(),
                ms(stats.percentile(50.0)),
                ms(stats.percentile(99.0)),
                prep.as_secs_f64() * 1e6,
            );
            if let Some(e) = &stats.first_error {
                println!("  first failure: {e}");
            }
            if delta != stats.ok as i64 {
                println!(
                    "  MISMATCH: {} certificates answered 200 but {delta} audit rows were added",
                    stats.ok
                );
                mismatch = true;
            }
            results.push(LevelResult {
                concurrency,
                stats,
                audit_delta: delta,
            });
        }
        anyhow::Ok(())
    })?;
    drop(broker);

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
        "| Workload | Concurrency | OK / sent | certs/s | p50 ms | p99 ms | × ssh-keygen (1 proc) | × ssh-keygen (2 procs) | audit rows |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &results {
        let s = &r.stats;
        println!(
            "| zt-broker `POST /v1/ssh/certificates` | {} | {} / {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            r.concurrency,
            s.ok,
            s.ok + s.failed,
            s.rate(),
            ms(s.percentile(50.0)),
            ms(s.percentile(99.0)),
            s.rate() / seq,
            s.rate() / par,
            r.audit_delta,
        );
    }
    for k in &keygen {
        println!(
            "| `ssh-keygen -s` (process per cert) | {} | {} / {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | – |",
            k.workers,
            k.certs,
            k.certs,
            k.rate(),
            ms(percentile(&k.latencies, 50.0)),
            ms(percentile(&k.latencies, 99.0)),
            k.rate() / seq,
            k.rate() / par,
        );
    }
    if mismatch {
        bail!("audit rows do not match the certificates issued");
    }
    Ok(())
}
