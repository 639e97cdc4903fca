//! An honest client next to slow clients (slowloris), against a running `zt-broker dev`.
//! `benches/slow_clients.sh` starts the broker and runs this once per phase; see
//! `benches/README.md`. Prints numbers; asserts nothing about timing.
//!
//! One phase: the honest client logs in at the broker's development issuer and exchanges
//! an ID token; then the attack starts (`--attack`): none,
//! `slowloris:CONNECTIONS:ADDRESSES` (written here: every connection sends part of a request
//! head, one more header line every `--interval` seconds, and reconnects as soon as the
//! broker closes it), or `slowhttptest` (the Debian tool in slowloris mode, run as a child,
//! from 127.0.0.1: it cannot bind other source addresses). Once the attack is in place the
//! honest client sends `--rate` × `--secs` certificate requests one after another, `--rate`
//! a second, each prepared just before (a fresh key, DPoP and possession proofs; untimed)
//! and sent on a fresh connection from `--source` (as each `zt` run opens its own). Latency
//! is send → full answer. Then the attack stops, and the broker's VmRSS and VmHWM (peak) are
//! read from /proc.
//!
//! Without arguments (as `cargo test --all-targets` runs it, debug build) it does a
//! smoke run against a debug `zt-broker dev` it starts itself: a few requests, with and
//! without 100 slow connections.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zt_testkit::api;

#[derive(Parser)]
struct Args {
    /// The broker's URL (`zt-broker dev`'s `ready` line).
    #[arg(long)]
    broker: String,
    /// The broker's process id, to read its memory from /proc.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// The honest client's source address.
    #[arg(long, default_value = "127.0.0.100")]
    source: IpAddr,
    /// Requests per second the honest client starts (one after another: a slow answer
    /// delays the next), for `--secs` seconds.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// none, slowloris:CONNECTIONS:ADDRESSES (from 127.0.0.2 up), or slowhttptest[:CONNECTIONS].
    #[arg(long, default_value = "none")]
    attack: String,
    /// Seconds between two header lines of one slow connection.
    #[arg(long, default_value_t = 5)]
    interval: u64,
    /// Unloaded p50 and p99 in ms, to print the ratios.
    #[arg(long)]
    baseline: Option<String>,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    if args.len() == 1 {
        return smoke();
    }
    raise_open_file_limit();
    let args = Args::parse_from(args);
    let line = phase(&args)?;
    println!("{line}");
    Ok(())
}

/// One phase; its result line.
fn phase(args: &Args) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (client, config) = runtime.block_on(honest_setup(&args.broker, args.source))?;
    let target: SocketAddr = args
        .broker
        .trim_start_matches("http://")
        .parse()
        .context("--broker must be http://IP:PORT")?;
    let attack = Attack::start(&args.attack, target, args.interval, &args.broker)?;
    let stats = runtime.block_on(honest(
        args.source,
        &client,
        &config.certificate_endpoint,
        args.rate as usize * args.secs as usize,
        args.rate,
        &attack.over(),
    ))?;
    let attack_note = attack.stop();
    if stats.sent == 0 {
        return Ok(format!(
            "{:<22} the attack was over before the honest client started{attack_note}",
            args.attack
        ));
    }
    let memory = args.broker_pid.map(broker_memory).unwrap_or_default();
    let mut line = format!(
        "{:<22} {:>5}/{:<5} ok ({:>6.2} %) in {:>4.1} s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        args.attack,
        stats.ok,
        stats.sent,
        100.0 * stats.ok as f64 / stats.sent.max(1) as f64,
        stats.elapsed.as_secs_f64(),
        ms(stats.percentile(50.0)),
        ms(stats.percentile(99.0)),
    );
    if let Some((p50, p99)) = args.baseline.as_deref().and_then(parse_baseline) {
        line += &format!(
            "  (×{:.2} / ×{:.2} unloaded)",
            ms(stats.percentile(50.0)) / p50,
            ms(stats.percentile(99.0)) / p99
        );
    }
    line += &memory;
    line += &attack_note;
    if let Some(e) = &stats.first_error {
        line += &format!("\n  first failure: {e}");
    }
    Ok(line)
}

fn parse_baseline(text: &str) -> Option<(f64, f64)> {
    let (p50, p99) = text.split_once(',')?;
    Some((p50.parse().ok()?, p99.parse().ok()?))
}

/// Log in at the broker's development issuer and exchange an ID token.
async fn honest_setup(
    broker: &str,
    source: IpAddr,
) -> Result<(api::Client, zt_core::proto::BrokerConfiguration)> {
    let http = reqwest::Client::builder().local_address(source).build()?;
    let config = api::configuration(&http, broker)
        .await
        .map_err(anyhow::Error::msg)?;
    let issuer = format!("{broker}/dev-idp");
    let (_, id_token) = api::IdTokens::login(&http, &issuer)
        .await
        .map_err(anyhow::Error::msg)?;
    match api::exchange(&http, &config.token_endpoint, &id_token)
        .await
        .map_err(anyhow::Error::msg)?
    {
        (_, Some(client)) => Ok((client, config)),
        (answer, None) => bail!("token exchange: HTTP {}: {}", answer.status, answer.body),
    }
}

struct Stats {
    ok: usize,
    sent: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    first_error: Option<String>,
}

impl Stats {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The timed part: `count` requests one after another, each on a new connection, `rate` a
/// second at most. Each is prepared (key, proofs) just before it is sent, outside the time.
async fn honest(
    source: IpAddr,
    client: &api::Client,
    url: &str,
    count: usize,
    rate: u32,
    attack_over: &AtomicBool,
) -> Result<Stats> {
    let http = reqwest::Client::builder()
        .local_address(source)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()?;
    let start = tokio::time::Instant::now();
    let period = Duration::from_secs(1) / rate.max(1);
    let mut stats = Stats {
        ok: 0,
        sent: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::with_capacity(count),
        first_error: None,
    };
    for i in 0..count {
        // The pace of the client, not synchronisation.
        tokio::time::sleep_until(start + period * i as u32).await;
        if attack_over.load(Ordering::Relaxed) {
            break;
        }
        let request = api::prepare(client, url).map_err(anyhow::Error::msg)?;
        let sent = Instant::now();
        let answer = api::send_certificate_request(&http, url, request).await;
        stats.latencies.push(sent.elapsed());
        stats.sent += 1;
        match answer {
            Ok(a)
                if a.status == 200 && a.body.starts_with("{\"certificate\":\"ssh-ed25519-cert") =>
            {
                stats.ok += 1
            }
            Ok(a) => {
                stats
                    .first_error
                    .get_or_insert(format!("HTTP {}: {}", a.status, a.body));
            }
            Err(e) => {
                stats.first_error.get_or_insert(e);
            }
        }
    }
    stats.elapsed = start.elapsed();
    stats.latencies.sort_unstable();
    Ok(stats)
}

/// The broker's resident memory now and at its peak, from /proc.
fn broker_memory(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or("?".to_owned(), |kib| format!("{:.1}", kib as f64 / 1024.0))
    };
    format!(
        "  broker RSS {} MiB, peak {} MiB",
        field("VmRSS:"),
        field("VmHWM:")
    )
}

/// The attack of a phase, running until stopped.
enum Attack {
    None,
    Slowloris(Slowloris),
    /// The child, the thread reading its status, and whether it has finished.
    SlowHttpTest(Child, std::thread::JoinHandle<String>, Arc<AtomicBool>),
}

impl Attack {
    fn start(spec: &str, target: SocketAddr, interval: u64, broker: &str) -> Result<Attack> {
        let parts: Vec<&str> = spec.split(':').collect();
        match parts[..] {
            ["none"] => Ok(Attack::None),
            ["slowloris", connections, addresses] => {
                let connections: usize = connections.parse()?;
                let addresses: usize = addresses.parse()?;
                Ok(Attack::Slowloris(Slowloris::start(
                    target,
                    connections,
                    addresses,
                    Duration::from_secs(interval),
                )?))
            }
            ["slowhttptest"] => slowhttptest(broker, 5000, interval),
            ["slowhttptest", connections] => slowhttptest(broker, connections.parse()?, interval),
            _ => bail!("unknown --attack {spec:?}"),
        }
    }

    /// Set when the attack ends by itself (the honest client stops then).
    fn over(&self) -> Arc<AtomicBool> {
        match self {
            Attack::SlowHttpTest(_, _, over) => over.clone(),
            _ => Arc::new(AtomicBool::new(false)),
        }
    }

    /// Stop the attack; what it did.
    fn stop(self) -> String {
        match self {
            Attack::None => String::new(),
            Attack::Slowloris(s) => s.stop(),
            Attack::SlowHttpTest(mut child, reader, _) => {
                let _ = child.kill();
                let _ = child.wait();
                reader.join().unwrap_or_default()
            }
        }
    }
}

/// Slow clients on their own runtime (two worker threads).
struct Slowloris {
    stop: Arc<AtomicBool>,
    started: Instant,
    opened: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

impl Slowloris {
    /// `connections` slow clients spread over `addresses` source addresses from
    /// 127.0.0.2 up; returns once every client has sent its first partial head.
    fn start(
        target: SocketAddr,
        connections: usize,
        addresses: usize,
        interval: Duration,
    ) -> Result<Slowloris> {
        let stop = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(AtomicUsize::new(0));
        let opened = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        let counters = (stop.clone(), ready.clone(), opened.clone(), closed.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("attack runtime");
            runtime.block_on(async move {
                let (stop, ready, opened, closed) = counters;
                let mut tasks = tokio::task::JoinSet::new();
                for i in 0..connections {
                    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % addresses) as u8));
                    let c = (stop.clone(), ready.clone(), opened.clone(), closed.clone());
                    tasks.spawn(slow_client(target, source, interval, c));
                }
                let _ = tx.send(());
                tasks.join_all().await;
            });
        });
        rx.recv().context("the attack did not start")?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while ready.load(Ordering::Relaxed) < connections {
            if Instant::now() > deadline {
                bail!(
                    "only {} of {connections} slow clients connected in 120 s",
                    ready.load(Ordering::Relaxed)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Slowloris {
            stop,
            started: Instant::now(),
            opened,
            closed,
            thread,
        })
    }

    fn stop(self) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let (opened, closed) = (
            self.opened.load(Ordering::Relaxed),
            self.closed.load(Ordering::Relaxed),
        );
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        format!(
            "\n  slow connections: {opened} opened, {closed} closed by the broker ({:.0}/s while the honest client ran)",
            closed as f64 / secs
        )
    }
}

type Counters = (
    Arc<AtomicBool>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
);

/// One slow client: part of a request head, then one header line per `interval`;
/// reconnects as soon as the broker closes the connection.
async fn slow_client(target: SocketAddr, source: IpAddr, interval: Duration, c: Counters) {
    let (stop, ready, opened, closed) = c;
    let mut counted = false;
    while !stop.load(Ordering::Relaxed) {
        let Ok(socket) = tokio::net::TcpSocket::new_v4() else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if socket.bind(SocketAddr::new(source, 0)).is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let Ok(mut stream) = socket.connect(target).await else {
            continue;
        };
        opened.fetch_add(1, Ordering::Relaxed);
        let head = b"POST /v1/ssh/certificates HTTP/1.1\r\nHost: broker\r\n";
        if stream.write_all(head).await.is_ok() && !counted {
            counted = true;
            ready.fetch_add(1, Ordering::Relaxed);
        }
        let mut buf = [0u8; 512];
        let mut line = 0u64;
        while !stop.load(Ordering::Relaxed) {
            match tokio::time::timeout(interval, stream.read(&mut buf)).await {
                Ok(_) => {
                    closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(_) => {
                    line += 1;
                    let more = format!("X-Slow-{line}: a\r\n");
                    if stream.write_all(more.as_bytes()).await.is_err() {
                        closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
    }
}

/// `slowhttptest -H` (slowloris) against the broker's `/healthz`, as a child; returns
/// once its status (every 5 s) counts half of `connections` connected (or 90 % tried). It
/// does not reconnect: when it has no connection left it exits, and the attack is over.
fn slowhttptest(broker: &str, connections: usize, interval: u64) -> Result<Attack> {
    let mut child = Command::new("slowhttptest")
        .args(["-H", "-c", &connections.to_string(), "-r", "2000"])
        .args([
            "-i",
            &interval.to_string(),
            "-l",
            "600",
            "-x",
            "24",
            "-p",
            "3",
        ])
        .args(["-u", &format!("{broker}/healthz")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("slowhttptest (apt-get install slowhttptest)")?;
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    let over = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let reader_over = over.clone();
    // Its status blocks, in colour: "connected: N", "closed: N", "service available: YES".
    let reader = std::thread::spawn(move || {
        let mut last = std::collections::BTreeMap::new();
        let mut signalled = false;
        let mut peak_connected = 0;
        for line in stdout.lines().map_while(Result::ok) {
            let line = strip_ansi(&line);
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim();
            if ["connected", "error", "closed", "service available"].contains(&key) {
                last.insert(key.to_owned(), value.trim().to_owned());
            }
            let count = |k: &str| last.get(k).and_then(|v| v.parse::<usize>().ok());
            let connected = count("connected").unwrap_or(0);
            peak_connected = peak_connected.max(connected);
            let tried = connected + count("closed").unwrap_or(0) + count("error").unwrap_or(0);
            if !signalled && (connected * 2 >= connections || tried * 10 >= connections * 9) {
                signalled = true;
                let _ = tx.send(());
            }
        }
        reader_over.store(true, Ordering::Relaxed);
        let summary: Vec<String> = last.iter().map(|(k, v)| format!("{k} {v}")).collect();
        format!(
            "\n  slowhttptest: at most {peak_connected} connected at once; last status: {}",
            summary.join(", ")
        )
    });
    rx.recv_timeout(Duration::from_secs(120)).map_err(|_| {
        anyhow!("slowhttptest did not open half of its {connections} connections in 120 s")
    })?;
    Ok(Attack::SlowHttpTest(child, reader, over))
}

/// `text` without its terminal colour sequences.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters… final letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Lift the soft limit on open files to the hard one: the attack holds thousands.
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    let _ = setrlimit(Resource::Nofile, raised);
}

/// A few requests against a debug `zt-broker dev`, with and without 100 slow connections.
fn smoke() -> Result<()> {
    println!("slow_clients bench: smoke run only (benches/slow_clients.sh for numbers)");
    raise_open_file_limit();
    let dir = tempfile::Builder::new().prefix("zt-bench-").tempdir()?;
    let mut broker = Command::new(zt_testkit::bins::zt_broker())
        .args([
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--json",
            "--no-rate-limits",
        ])
        .args(["--auto-approve", "alice", "--dir"])
        .arg(dir.path().join("broker"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdout = BufReader::new(broker.stdout.take().expect("piped"));
    let mut ready = String::new();
    stdout.read_line(&mut ready)?;
    let ready: serde_json::Value = serde_json::from_str(&ready)?;
    let url = ready["broker"].as_str().context("ready line")?.to_owned();
    let mut result = Ok(());
    for attack in ["none", "slowloris:100:2"] {
        let args = Args::parse_from([
            "slow_clients",
            "--broker",
            &url,
            "--broker-pid",
            &broker.id().to_string(),
            "--rate",
            "4",
            "--secs",
            "1",
            "--attack",
            attack,
        ]);
        match phase(&args) {
            Ok(line) => println!("{line}"),
            Err(e) => result = Err(e),
        }
    }
    let _ = broker.kill();
    let _ = broker.wait();
    drop(stdout);
    result
}
