//! `cargo bench --bench broker -- --tokens`: tokens for other services (`zt token
//! --audience`, RFC 8693 with `audience`) against certificates, from one broker, one
//! identity, at the same concurrency, in the same run (issue 13).
//!
//! One `zt-broker dev` (`--no-rate-limits`) runs the posture-off policy with
//! `audiences = ["kubernetes"]` added to the `sre` rule. Per level, certificates and tokens
//! in alternating order, the same code for both:
//!
//! 1. **Untimed.** A fresh ID token and one token exchange: one device key and one broker
//!    access token for the level. Then every request is prepared and built into a
//!    `reqwest::Request`: *certificates* as in the default mode (`api::prepare`: a new
//!    Ed25519 key, a DPoP proof with `ath`, the possession proof); *tokens* a DPoP proof
//!    with `ath` and the form `audience_form(access_token, "kubernetes")`.
//! 2. **Timed.** Each client (a tokio task) sends its share one after another; latency is
//!    send → full body; per second = 200 answers / wall time of the level. Clients share a
//!    `reqwest::Client` per source address, 16 per address (127.0.0.1, 127.0.0.2, …; all of
//!    127/8 is loopback), made new for each level. On one address, 64 clients sit exactly at
//!    the broker's per-address connection bound (64): the client's pool now and then opens
//!    a 65th connection, the broker pushes out the oldest connection still waiting for its
//!    request head, and a client whose fresh connection that was waits out the header
//!    timeout (10 s), which then is the level's wall time.
//! 3. **Checks.** The `certificate_issued` or `service_token_issued` audit rows added must
//!    equal the 200 answers, and no request may be refused (an answer other than a
//!    certificate or a token), or the run fails after the table. Transport errors only
//!    count in "OK / sent".
//!
//! Knobs as in the default mode, with other defaults: `ZT_BENCH_REQUESTS` (3000),
//! `ZT_BENCH_SECS` (20), `ZT_BENCH_LEVELS` (`1,8,64`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::api;
use super::audit::{durability, last_audit_seq};
use super::clients;
use super::policies::{Posture, policy};
use super::{Stats, Target, check_policy, ms, start_broker};

/// The audience the bench asks tokens for, listed on the `sre` rule.
const AUDIENCE: &str = "kubernetes";
/// The posture-off policy with `audiences` on the `sre` rule.
fn tokens_policy() -> Result<String> {
    let base = policy(Posture::Off);
    let anchor = "ttl = \"15m\"\n";
    if !base.contains(anchor) {
        bail!("the posture-off policy no longer has {anchor:?} on its sre rule");
    }
    Ok(base.replacen(
        anchor,
        &format!("{anchor}audiences = [\"{AUDIENCE}\"]\n"),
        1,
    ))
}

async fn start(root: &Path, http: &reqwest::Client) -> Result<Target> {
    let dir = root.join("tokens");
    std::fs::create_dir_all(&dir)?;
    let policy_file = dir.join("policy.toml");
    std::fs::write(&policy_file, tokens_policy()?)?;
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
        posture: Posture::Off,
        db: dir.join("broker").join("zt-broker.db"),
        broker,
        config,
        idp,
    })
}

/// `service_token_issued` audit rows after `since`.
fn tokens_issued(db: &Path, since: i64) -> Result<i64> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("open {}", db.display()))?;
    Ok(conn.query_row(
        r#"SELECT count(*) FROM audit WHERE seq > ?1 AND record LIKE '%"kind":"service_token_issued"%'"#,
        [since],
        |row| row.get(0),
    )?)
}

/// The start of a good answer: a certificate, or a JWT.
fn expected_prefix(kind: Kind) -> &'static [u8] {
    match kind {
        Kind::Certificates => b"{\"certificate\":\"ssh-ed25519-cert-v01",
        Kind::Tokens => b"{\"access_token\":\"ey",
    }
}

/// One level of one kind: one exchange, then `total` prepared requests over `concurrency`
/// clients. Returns the stats, the client preparation per request (untimed) and how many
/// requests the broker answered with anything but a certificate or a token.
async fn level(
    http: &reqwest::Client,
    target: &mut Target,
    kind: Kind,
    concurrency: usize,
    total: usize,
    cap: Duration,
) -> Result<(Stats, Duration, usize)> {
    let id_token = target.idp.fresh().await.map_err(anyhow::Error::msg)?;
    let token_url = target.config.token_endpoint.clone();
    let certificate_url = target.config.certificate_endpoint.clone();
    let client = match api::exchange(http, &token_url, &id_token)
        .await
        .map_err(anyhow::Error::msg)?
    {
        (_, Some(client)) => client,
        (answer, None) => bail!("token exchange answered {}: {}", answer.status, answer.body),
    };
    let form = zt_core::requests::audience_form(&client.access_token, AUDIENCE);
    let prep_start = Instant::now();
    let mut work: Vec<Vec<reqwest::Request>> = (0..concurrency).map(|_| Vec::new()).collect();
    for i in 0..total {
        let request = match kind {
            Kind::Tokens => {
                let (proof, _) = zt_core::dpop::create_proof(
                    &client.device,
                    "POST",
                    &token_url,
                    api::unix_now(),
                    Some(&client.access_token),
                )?;
                http.post(&token_url).header("DPoP", proof).form(&form)
            }
            Kind::Certificates => {
                let prepared =
                    api::prepare(&client, &certificate_url).map_err(anyhow::Error::msg)?;
                http.post(&certificate_url)
                    .header("Authorization", prepared.authorization)
                    .header("DPoP", prepared.dpop)
                    .header("Content-Type", "application/json")
                    .body(prepared.body)
            }
        };
        work[i % concurrency].push(request.build()?);
    }
    let prep = prep_start.elapsed() / total.max(1) as u32;

    let senders = clients::by_address(concurrency)?;
    let start = Instant::now();
    let deadline = start + cap;
    let mut tasks = Vec::with_capacity(concurrency);
    for (t, requests) in work.into_iter().enumerate() {
        let sender = senders[t / clients::CLIENTS_PER_ADDRESS].clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(requests.len());
            let (mut ok, mut failed, mut refused, mut first_error) = (0usize, 0usize, 0usize, None);
            for request in requests {
                if Instant::now() >= deadline {
                    break;
                }
                let sent = Instant::now();
                let outcome = match sender.execute(request).await {
                    Ok(r) => {
                        let status = r.status();
                        r.bytes()
                            .await
                            .map_err(|e| e.to_string())
                            .map(|body| (status, body))
                    }
                    Err(e) => Err(e.to_string()),
                };
                latencies.push(sent.elapsed());
                match outcome {
                    // Cheap sanity check outside the broker's hot path.
                    Ok((status, body))
                        if status.is_success() && body.starts_with(expected_prefix(kind)) =>
                    {
                        ok += 1
                    }
                    Ok((status, body)) => {
                        failed += 1;
                        refused += 1;
                        first_error.get_or_insert_with(|| {
                            format!("HTTP {status}: {}", String::from_utf8_lossy(&body))
                        });
                    }
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (ok, failed, refused, first_error, latencies)
        }));
    }
    let mut stats = Stats {
        ok: 0,
        failed: 0,
        first_error: None,
        latencies: Vec::with_capacity(total),
        elapsed: Duration::ZERO,
    };
    let mut refused = 0;
    for task in tasks {
        let (ok, failed, task_refused, first_error, latencies) = task.await?;
        refused += task_refused;
        stats.ok += ok;
        stats.failed += failed;
        if stats.first_error.is_none() {
            stats.first_error = first_error;
        }
        stats.latencies.extend(latencies);
    }
    stats.elapsed = start.elapsed();
    stats.latencies.sort_unstable();
    Ok((stats, prep, refused))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Certificates,
    Tokens,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Certificates => "certificates",
            Kind::Tokens => "tokens",
        }
    }
}

struct Row {
    kind: Kind,
    concurrency: usize,
    stats: Stats,
    audit: i64,
}

/// The `--tokens` mode; `full` as in the default mode (`--bench` given).
pub fn run(full: bool) -> Result<()> {
    if !full {
        println!(
            "broker bench --tokens: smoke run only (use `cargo bench --bench broker -- --tokens` for numbers)"
        );
    }
    let super::Knobs { total, cap, levels } = super::Knobs::from_env(full, 3000, 20);
    let tmp = tempfile::Builder::new().prefix("zt-bench-").tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        let mut target = start(tmp.path(), &http).await?;
        println!(
            "zt-broker dev ({}), {} CPUs, {} requests/level, cap {} s; {} (policy {}), audience {AUDIENCE:?}",
            super::broker_binary().display(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            total,
            cap.as_secs(),
            target.broker.url,
            tmp.path().join("tokens/policy.toml").display(),
        );
        for (i, &concurrency) in levels.iter().enumerate() {
            let order = if i % 2 == 0 {
                [Kind::Tokens, Kind::Certificates]
            } else {
                [Kind::Certificates, Kind::Tokens]
            };
            for kind in order {
                let since = last_audit_seq(&target.db)?;
                let (stats, prep, refused) =
                    level(&http, &mut target, kind, concurrency, total, cap).await?;
                let audit = match kind {
                    Kind::Tokens => tokens_issued(&target.db, since)?,
                    Kind::Certificates => durability(&target.db, since, &[])?.issued,
                };
                println!(
                    "{:<12} concurrency {concurrency:>3}: {}; audit rows +{audit}; client prep {:.0} µs/request (untimed)",
                    kind.label(),
                    stats.summary(kind.label()),
                    prep.as_secs_f64() * 1e6,
                );
                if let Some(e) = &stats.first_error {
                    println!("  first failure: {e}");
                }
                if audit != stats.ok as i64 || refused > 0 {
                    let problem = format!(
                        "{} concurrency {concurrency}: {} answered 200, {refused} refused, {audit} audit rows added",
                        kind.label(),
                        stats.ok,
                    );
                    println!("  FAILED: {problem}");
                    problems.push(problem);
                }
                rows.push(Row {
                    kind,
                    concurrency,
                    stats,
                    audit,
                });
            }
        }
        anyhow::Ok(())
    })?;

    println!();
    println!(
        "| Workload | Concurrency | OK / sent | per s | p50 ms | p99 ms | tokens ÷ certificates | audit rows |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    rows.sort_by_key(|r| (r.concurrency, r.kind == Kind::Tokens));
    for r in &rows {
        let s = &r.stats;
        let ratio = match r.kind {
            Kind::Certificates => "–".to_owned(),
            Kind::Tokens => rows
                .iter()
                .find(|c| c.kind == Kind::Certificates && c.concurrency == r.concurrency)
                .map_or("–".to_owned(), |c| {
                    format!("{:.2}", s.rate() / c.stats.rate())
                }),
        };
        let workload = match r.kind {
            Kind::Certificates => "zt-broker `POST /v1/ssh/certificates`".to_owned(),
            Kind::Tokens => format!("zt-broker `POST /v1/token`, audience {AUDIENCE}"),
        };
        println!(
            "| {workload} | {} | {} / {} | {:.0} | {:.2} | {:.2} | {ratio} | {} |",
            r.concurrency,
            s.ok,
            s.ok + s.failed,
            s.rate(),
            ms(s.percentile(50.0)),
            ms(s.percentile(99.0)),
            r.audit,
        );
    }
    if !problems.is_empty() {
        bail!("the run is not valid:\n  {}", problems.join("\n  "));
    }
    Ok(())
}
