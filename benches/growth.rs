//! How the broker's data grows (issue 15). Four measurements, each next to a peer timed in
//! the same run, printed as one table at the end:
//!
//! 1. **KRL for 10^5 revoked certificates.** A user CA made with `ssh-keygen -t ed25519`, a
//!    `RevocationList` of 10^5 random serials (< 2^63), and a variant of 10^5 key IDs shaped
//!    like the broker's (`ca::key_id`). zt's `build_krl` + `Krl::encode` in process, next to
//!    `ssh-keygen -k -f OUT -s CA.pub SPEC` (a spec of `serial: N` or `id: KEYID` lines) as a
//!    process, rounds interleaved; medians and both KRL sizes. `ssh-keygen -k` takes time
//!    quadratic in the number of key IDs (16,000 take 14 s here, 10^5 was still running after
//!    10 minutes), so for key IDs it runs at 5,000 and 10,000 and zt at those and at 10^5.
//!    `ssh-keygen -Q` on each KRL is timed too (once): it reads the whole KRL, as sshd does
//!    at every connection with `RevokedKeys`. Checks with it: a certificate (made with
//!    `ssh-keygen -s CA -z SERIAL`) whose serial or key ID is in the set is REVOKED by zt's
//!    KRL (and by ssh-keygen's), one outside the set is not (not asked of the 10^5 key-ID
//!    KRL, which takes ssh-keygen most of a minute to read).
//! 2. **`zt-broker audit verify` over 10^6 records.** `zt-broker init`, the database created
//!    by `SqliteStore::open`, then 10^6 `certificate_issued` records (identity, device, rule,
//!    certificate facts with `ca::key_id` key IDs, as the broker writes them) appended in one
//!    transaction with the broker's chain rule (`chain_hash` over `canonical()`), their
//!    `serials` rows, and a checkpoint every 1000 records signed with the broker's own
//!    `audit_signing_key.pem`. The real `zt-broker audit verify --config … --json` is timed,
//!    interleaved with a floor in this process: every row read back with rusqlite and its
//!    chain hash recomputed (no paging, no JSON, no signatures). Checks: the verdict is
//!    intact with every record and checkpoint counted.
//! 3. **`revoke --user` for a user with 10^5 certificates**, in a database of that user's 10^5
//!    certificates and 10^5 of 1000 other users (all unexpired, `serials` rows with owner and
//!    expiry). The real `zt-broker revoke --user ISSUER,SUBJECT --json`, interleaved with
//!    `revoke --serial` of another user's certificate and `zt-broker --version` (process
//!    start); the revoke pre-check's SQL alone; then in process `Store::revocations(now)` and
//!    `build_krl` + `encode` of the result. Checks: `user_serials` is exactly that user's
//!    10^5 serials, `ssh-keygen -Q` finds a certificate of theirs (signed with the broker's
//!    user CA) REVOKED and another user's not, the serial lookup's `EXPLAIN QUERY PLAN` uses
//!    the index `serials_user`, and `audit verify` still finds the chain intact afterwards.
//!    The plan of the pre-check (`Store::issued` for a user) is printed too.
//! 4. **Policy decision time** with 10 and 1,000 rules (`match.groups`, `principals`):
//!    `Policy::evaluate` for an identity with 20 groups that matches the last rule, and one
//!    that matches none; median ns per call over batches, cases interleaved.
//!
//! Run: `cargo bench --bench growth` (about 2–4 minutes on 2 CPUs, plus the build). The
//! audit database of part 2 takes about 1 KB a record (1 GB at 10^6): `ZT_GROWTH_DIR` puts
//! the work directory elsewhere (e.g. `/dev/shm` when the disk is short; the bench refuses
//! to start without room). Knobs: `ZT_GROWTH_SERIALS` (100000), `ZT_GROWTH_RECORDS`
//! (1000000), `ZT_GROWTH_USER_CERTS` (100000 for the user, as many for the others),
//! `ZT_GROWTH_RULES` (1000), `ZT_GROWTH_KEYGEN_IDS` (10000: the peer's largest key-ID set),
//! `ZT_GROWTH_RUNS` (7: KRL rounds, policy parses, revokes, revocation reads),
//! `ZT_GROWTH_VERIFY_RUNS` (3), `ZT_TEST_SEED` (replays the printed seed), `ZT_BROKER_BIN`
//! (another broker; by default the workspace's release build, built if stale),
//! `ZT_GROWTH_PARTS` (`1,2,3,4`: which parts to run).
//!
//! Nothing asserts on timing; the checks above fail the run. Without `--bench` (as
//! `cargo test --all-targets` runs it, debug build) it is a smoke run with small sizes.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use base64::Engine as _;
use rusqlite::{Connection, OpenFlags, params};

use zt_broker::store::Store;
use zt_broker::store::sqlite::SqliteStore;
use zt_core::audit::checkpoint::Checkpoint;
use zt_core::audit::{
    AuditRecord, CertificateFacts, EventKind, GENESIS, Outcome, Subject, chain_hash,
};
use zt_core::ca::{self, KeyIdFields};
use zt_core::policy::{Identity, Policy};
use zt_core::revocation::{Revocation, RevocationList, build_krl};
use zt_testkit::process::run_ok;
use zt_testkit::rng::Rng;
use zt_testkit::{Peer, require_peers};

const ISSUER: &str = "https://idp.example";
/// The broker's default (`[audit] checkpoint_records`).
const CHECKPOINT_EVERY: u64 = 1000;
/// People the records of parts 2 and 3 belong to (besides part 3's one user).
const PEOPLE: usize = 1000;
/// The revoked user of part 3 (a subject as Google issues them).
const TARGET_SUBJECT: &str = "248289761001";

struct Sizes {
    serials: usize,
    records: u64,
    user_certs: usize,
    rules: usize,
    keygen_ids: usize,
    parts: String,
    runs: usize,
    verify_runs: usize,
    policy_rounds: usize,
}

impl Sizes {
    fn new(full: bool) -> Sizes {
        let knob = |name: &str, full_default: usize, smoke: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(if full { full_default } else { smoke })
        };
        Sizes {
            serials: knob("ZT_GROWTH_SERIALS", 100_000, 1000).max(2),
            records: knob("ZT_GROWTH_RECORDS", 1_000_000, 2500).max(1) as u64,
            user_certs: knob("ZT_GROWTH_USER_CERTS", 100_000, 300).max(2),
            rules: knob("ZT_GROWTH_RULES", 1000, 1000).max(1),
            keygen_ids: knob("ZT_GROWTH_KEYGEN_IDS", 10_000, 500).max(2),
            parts: std::env::var("ZT_GROWTH_PARTS").unwrap_or_else(|_| "1,2,3,4".into()),
            runs: knob("ZT_GROWTH_RUNS", 7, 2).max(1),
            verify_runs: knob("ZT_GROWTH_VERIFY_RUNS", 3, 1).max(1),
            policy_rounds: if full { 101 } else { 5 },
        }
    }
}

/// The printed table: sections of rows (what, zt, peer, ratio) and notes.
#[derive(Default)]
struct Table(Vec<Line>);

enum Line {
    Section([String; 4]),
    Row([String; 4]),
    Note(String),
}

impl Table {
    fn section(&mut self, title: &str, zt: &str, peer: &str, ratio: &str) {
        self.0.push(Line::Section([
            title.into(),
            zt.into(),
            peer.into(),
            ratio.into(),
        ]));
    }

    fn row(&mut self, what: &str, zt: String, peer: String, ratio: String) {
        eprintln!("  {what}: {zt} | {peer} | {ratio}");
        self.0.push(Line::Row([what.into(), zt, peer, ratio]));
    }

    fn note(&mut self, text: String) {
        eprintln!("  {text}");
        self.0.push(Line::Note(text));
    }

    fn print(&self) {
        let mut out = String::new();
        for line in &self.0 {
            let _ = match line {
                Line::Section([a, b, c, d]) => {
                    writeln!(out, "\n{a:<60} {b:>15} {c:>15} {d:>10}")
                }
                Line::Row([a, b, c, d]) => writeln!(out, "  {a:<58} {b:>15} {c:>15} {d:>10}"),
                Line::Note(text) => writeln!(out, "  {text}"),
            };
        }
        print!("{out}");
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

fn show(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else if ns < 10_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// `a ÷ b`, written `1/N` when far below 1.
fn ratio(a: Duration, b: Duration) -> String {
    let r = a.as_secs_f64() / b.as_secs_f64().max(1e-12);
    if r >= 0.1 {
        format!("{r:.2}")
    } else {
        format!("1/{:.0}", 1.0 / r.max(1e-12))
    }
}

fn bytes(n: u64) -> String {
    if n < 10_000 {
        format!("{n} B")
    } else if n < 10_000_000 {
        format!("{:.1} KB", n as f64 / 1e3)
    } else {
        format!("{:.1} MB", n as f64 / 1e6)
    }
}

fn unix_now() -> u64 {
    zt_os::clock::unix_now()
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// A random certificate serial as the broker makes them: non-zero, below 2^63.
fn random_serial(rng: &mut Rng) -> u64 {
    loop {
        let serial = rng.next_u64() >> 1;
        if serial != 0 {
            return serial;
        }
    }
}

/// `n` random bytes as unpadded base64url (request IDs, key thumbprints).
fn random_b64(rng: &mut Rng, n: usize) -> String {
    let mut raw = Vec::with_capacity(n + 8);
    while raw.len() < n {
        raw.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    raw.truncate(n);
    zt_core::jose::b64(raw)
}

/// Runs `command`, which must succeed; returns its output and how long it took.
fn timed(command: &mut Command) -> (Output, Duration) {
    let start = Instant::now();
    let output = run_ok(command);
    (output, start.elapsed())
}

// ---------------------------------------------------------------------------------------
// OpenSSH helpers

fn keygen(dir: &Path, name: &str) {
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(dir.join(name)),
    );
}

/// `ssh-keygen -s CA -z SERIAL` on `key.pub`; returns the certificate's path.
fn sign(dir: &Path, ca: &Path, key: &str, serial: u64, key_id: &str) -> PathBuf {
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-s"])
            .arg(ca)
            .args(["-I", key_id, "-n", "ops", "-z", &serial.to_string()])
            .arg(dir.join(format!("{key}.pub"))),
    );
    dir.join(format!("{key}-cert.pub"))
}

/// The SSH wire blob of an OpenSSH public key file: what the KRL names a CA by.
fn public_blob(path: &Path) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    Ok(ssh_key::PublicKey::from_openssh(text.trim())?.to_bytes()?)
}

/// `ssh-keygen -Q`: whether the KRL revokes the certificate.
fn revoked_by(krl: &Path, cert: &Path) -> Result<bool> {
    let out = Command::new("ssh-keygen")
        .arg("-Q")
        .arg("-f")
        .arg(krl)
        .arg(cert)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match out.status.code() {
        Some(0) if stdout.contains(": ok") => Ok(false),
        Some(1) if stdout.contains("REVOKED") => Ok(true),
        _ => bail!(
            "ssh-keygen -Q could not read {}: {:?}\n{stdout}\n{}",
            krl.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

// ---------------------------------------------------------------------------------------
// 1. KRL

/// One KRL to build: what it revokes, the `ssh-keygen -k` spec of the same set (if the peer
/// runs at this size), and a certificate it must revoke.
struct KrlCase {
    what: String,
    entries: Vec<Revocation>,
    spec: Option<String>,
    revoked: PathBuf,
}

fn krl_part(work: &Path, sizes: &Sizes, rng: &mut Rng, table: &mut Table) -> Result<()> {
    let n = sizes.serials;
    let dir = work.join("krl");
    std::fs::create_dir_all(&dir)?;
    for name in ["ca", "in", "out", "in-id"] {
        keygen(&dir, name);
    }
    let ca_pub = dir.join("ca.pub");
    let blob = public_blob(&ca_pub)?;

    let mut serials = BTreeSet::new();
    while serials.len() < n {
        serials.insert(random_serial(rng));
    }
    // Key IDs as the broker makes them (about 150 bytes), in random order: each smaller set
    // is a prefix of the larger ones.
    let people: Vec<Person> = (0..PEOPLE).map(|k| Person::new(rng, k)).collect();
    let key_ids: Vec<String> = (0..n)
        .map(|i| people[i % PEOPLE].key_id(&random_b64(rng, 16)))
        .collect();
    let outside = loop {
        let s = random_serial(rng);
        if !serials.contains(&s) {
            break s;
        }
    };
    let inside = *serials.iter().nth(n / 2).expect("n ≥ 2");
    let ca = dir.join("ca");
    let cert_in = sign(&dir, &ca, "in", inside, "growth-in");
    let cert_out = sign(&dir, &ca, "out", outside, "growth-out");
    let cert_in_id = sign(&dir, &ca, "in-id", outside, &key_ids[0]);

    let mut cases = vec![KrlCase {
        what: format!("{n} serials"),
        entries: serials.iter().map(|s| Revocation::Serial(*s)).collect(),
        spec: Some(serials.iter().map(|s| format!("serial: {s}\n")).collect()),
        revoked: cert_in,
    }];
    // `ssh-keygen -k` takes time quadratic in the number of key IDs (16000: 14 s here), so
    // it runs at two smaller sizes and zt at those and at n.
    let peer_ids = sizes.keygen_ids.min(n);
    let mut id_sizes = vec![(peer_ids / 2).max(1), peer_ids];
    if n > peer_ids {
        id_sizes.push(n);
    }
    for m in id_sizes {
        let ids = &key_ids[..m];
        cases.push(KrlCase {
            what: format!("{m} key IDs"),
            entries: ids.iter().map(|k| Revocation::KeyId(k.clone())).collect(),
            spec: (m <= peer_ids).then(|| ids.iter().map(|k| format!("id: {k}\n")).collect()),
            revoked: cert_in_id.clone(),
        });
    }

    table.section(
        &format!("1. KRL of one CA (zt median of {})", sizes.runs),
        "zt, in process",
        "ssh-keygen -k",
        "zt ÷ peer",
    );
    let spec_path = dir.join("spec");
    let zt_krl = dir.join("zt.krl");
    let keygen_krl = dir.join("ssh-keygen.krl");
    for case in cases {
        let what = &case.what;
        let list = RevocationList {
            version: 1,
            updated_at: unix_now(),
            entries: case.entries,
            user_serials: Vec::new(),
        };
        // The peer runs fewer times when it is slow (key IDs).
        let peer_runs = if what.contains("key ID") {
            sizes.runs.min(3)
        } else {
            sizes.runs
        };
        if let Some(spec) = &case.spec {
            std::fs::write(&spec_path, spec)?;
        }
        let (mut zt_times, mut keygen_times) = (Vec::new(), Vec::new());
        let mut encoded = Vec::new();
        for round in 0..sizes.runs {
            for step in 0..2 {
                if (round + step) % 2 == 0 {
                    let start = Instant::now();
                    encoded = build_krl(black_box(&blob), black_box(&list)).encode();
                    zt_times.push(start.elapsed());
                } else if case.spec.is_some() && round < peer_runs {
                    let _ = std::fs::remove_file(&keygen_krl);
                    let (_, took) = timed(
                        Command::new("ssh-keygen")
                            .args(["-q", "-k", "-f"])
                            .arg(&keygen_krl)
                            .arg("-s")
                            .arg(&ca_pub)
                            .arg(&spec_path),
                    );
                    keygen_times.push(took);
                }
            }
        }
        std::fs::write(&zt_krl, &encoded)?;
        let zt_time = median(zt_times);
        let mut krls = vec![&zt_krl];
        if case.spec.is_some() {
            let keygen_time = median(keygen_times);
            let keygen_size = std::fs::metadata(&keygen_krl)?.len();
            table.row(
                &format!("{what}: build+encode | process, median of {peer_runs}"),
                show(zt_time),
                show(keygen_time),
                ratio(zt_time, keygen_time),
            );
            table.row(
                &format!("{what}: KRL size"),
                bytes(encoded.len() as u64),
                bytes(keygen_size),
                format!("{:.3}", encoded.len() as f64 / keygen_size as f64),
            );
            krls.push(&keygen_krl);
        } else {
            table.row(
                &format!("{what}: build+encode (peer not run: quadratic)"),
                show(zt_time),
                "-".into(),
                String::new(),
            );
            table.row(
                &format!("{what}: KRL size"),
                bytes(encoded.len() as u64),
                "-".into(),
                String::new(),
            );
        }
        // What sshd does at each connection with `RevokedKeys`: read the whole KRL and look
        // the certificate up. Timed once per KRL; the certificate outside the set is checked
        // only where a read is quick (≤ 10^4 key IDs).
        let mut reads = Vec::new();
        for krl in &krls {
            let start = Instant::now();
            ensure!(
                revoked_by(krl, &case.revoked)?,
                "{}: the certificate in the set of {what} is not revoked",
                krl.display()
            );
            reads.push(start.elapsed());
            if case.spec.is_some() {
                ensure!(
                    !revoked_by(krl, &cert_out)?,
                    "{}: a certificate outside the set of {what} is revoked",
                    krl.display()
                );
            }
        }
        let peer_read = reads.get(1).copied();
        table.row(
            &format!("{what}: `ssh-keygen -Q` on the KRL (what sshd reads)"),
            show(reads[0]),
            peer_read.map_or_else(|| "-".into(), show),
            peer_read.map_or_else(String::new, |p| ratio(reads[0], p)),
        );
    }
    table.note(
        "checked: ssh-keygen -Q: the certificate whose serial / key ID is in the set is REVOKED by every KRL, one outside it is not (largest key-ID KRL: REVOKED only)".into(),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Broker databases written the way the broker's writer writes them

/// One person the records belong to: their subject, verified email and device key.
struct Person {
    subject: String,
    email: String,
    device: String,
}

impl Person {
    fn new(rng: &mut Rng, k: usize) -> Person {
        Person {
            subject: (100_000_000_000u64 + k as u64 * 7919).to_string(),
            email: format!("user{k}@example.com"),
            device: random_b64(rng, 32),
        }
    }

    fn key_id(&self, request_id: &str) -> String {
        ca::key_id(&KeyIdFields {
            issuer: ISSUER,
            subject: &self.subject,
            email: Some(&self.email),
            device: &self.device,
            request_id,
        })
    }

    /// A `certificate_issued` record as the broker writes it (posture off, rule `sre`).
    fn issued(&self, rng: &mut Rng, serial: u64, time: u64, ttl: u64) -> AuditRecord {
        let request_id = random_b64(rng, 16);
        let key_id = self.key_id(&request_id);
        let mut fingerprint = [0u8; 32];
        for chunk in fingerprint.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        let address = rng.next_u64();
        AuditRecord {
            time,
            kind: EventKind::CertificateIssued,
            request_id,
            identity: Some(Subject {
                issuer: ISSUER.into(),
                subject: self.subject.clone(),
                email: Some(self.email.clone()),
            }),
            client_addr: Some(format!(
                "10.{}.{}.{}",
                address & 0xff,
                (address >> 8) & 0xff,
                (address >> 16) & 0xff
            )),
            device: Some(self.device.clone()),
            rule: Some("sre".into()),
            certificate: Some(CertificateFacts {
                serial,
                key_id,
                principals: vec!["ops".into()],
                valid_after: time - 60,
                valid_before: time + ttl,
                key_fingerprint: format!(
                    "SHA256:{}",
                    base64::engine::general_purpose::STANDARD_NO_PAD.encode(fingerprint)
                ),
            }),
            outcome: Some(Outcome::success()),
            revocation: None,
            enrolment: None,
            posture: None,
            audience: None,
            workload: None,
        }
    }
}

/// A broker directory made by the real `zt-broker init`, with its database created (empty)
/// by the broker's own store, so the schema and indexes are the broker's.
struct Broker {
    dir: PathBuf,
    config: PathBuf,
    db: PathBuf,
}

impl Broker {
    fn init(dir: &Path) -> Result<Broker> {
        std::fs::create_dir_all(dir)?;
        run_ok(
            Command::new(zt_testkit::bins::zt_broker())
                .args(["init", "--client-id", "zt", "--issuer", ISSUER])
                .arg("--dir")
                .arg(dir)
                .args([
                    "--listen",
                    &format!("127.0.0.1:{}", zt_testkit::free_port()),
                ]),
        );
        let db = dir.join("zt-broker.db");
        drop(SqliteStore::open(&db, None).map_err(|e| anyhow::anyhow!("{e}"))?);
        Ok(Broker {
            dir: dir.to_owned(),
            config: dir.join("zt-broker.toml"),
            db,
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(zt_testkit::bins::zt_broker());
        command.args(args).arg("--config").arg(&self.config);
        command
    }

    /// `zt-broker audit verify --json`, which must say intact; its records and checkpoints.
    fn verify(&self) -> Result<((u64, u64), Duration)> {
        let (output, took) = timed(&mut self.command(&["audit", "verify", "--json"]));
        let verdict: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        ensure!(verdict["intact"] == true, "audit verify: {verdict}");
        let count = |field: &str| {
            verdict[field]
                .as_u64()
                .or_else(|| verdict[field].as_str().and_then(|s| s.parse().ok()))
                .with_context(|| format!("audit verify: no {field} in {verdict}"))
        };
        Ok(((count("records")?, count("checkpoints")?), took))
    }

    fn size(&self) -> u64 {
        ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                let mut path = self.db.clone().into_os_string();
                path.push(suffix);
                std::fs::metadata(path).ok().map(|m| m.len())
            })
            .sum()
    }

    /// Append `records` (each a `certificate_issued` record) after the empty log, as the
    /// broker's writer does: the chain hash of each canonical record, its `serials` row with
    /// owner and expiry, and a checkpoint signed with the broker's audit key every
    /// [`CHECKPOINT_EVERY`] records and after the last one. One transaction, no fsync (setup).
    fn append(&self, records: impl Iterator<Item = AuditRecord>) -> Result<(u64, u64)> {
        let key = zt_broker::keys::load_audit_key(&self.dir.join("audit_signing_key.pem"))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut conn = Connection::open(&self.db)?;
        // A rollback journal for the bulk load: WAL would hold a second copy of every page
        // until the checkpoint. The file goes back to WAL, as the broker keeps it.
        conn.execute_batch("PRAGMA journal_mode=DELETE; PRAGMA synchronous=OFF;")?;
        let tx = conn.transaction()?;
        let empty: i64 = tx.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?;
        ensure!(empty == 0, "{}: the log is not empty", self.db.display());
        let (mut seq, mut checkpoints, mut last_checkpoint) = (0u64, 0u64, 0u64);
        {
            let mut audit = tx.prepare(
                "INSERT INTO audit (seq, record, prev_hash, hash) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut serials = tx.prepare(
                "INSERT INTO serials (serial, audit_seq, issuer, subject, valid_before)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut signed = tx.prepare(
                "INSERT INTO audit_checkpoints (seq, hash, time, prev_seq, key_id, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut sign = |seq: u64, hash: &str, time: u64, prev: u64| -> Result<()> {
                let c = Checkpoint::sign(&key, seq, hash, time, prev)?;
                signed.execute(params![
                    c.seq as i64,
                    c.hash,
                    c.time as i64,
                    c.prev_seq as i64,
                    c.key_id,
                    c.signature
                ])?;
                Ok(())
            };
            let (mut head, mut time) = (GENESIS.to_owned(), 0);
            for record in records {
                seq += 1;
                let canonical = record.canonical();
                let hash = chain_hash(&head, &canonical);
                audit.execute(params![seq as i64, canonical, head, hash])?;
                let (who, cert) = (
                    record.identity.as_ref().context("identity")?,
                    record.certificate.as_ref().context("certificate")?,
                );
                serials.execute(params![
                    cert.serial as i64,
                    seq as i64,
                    who.issuer,
                    who.subject,
                    cert.valid_before as i64
                ])?;
                head = hash;
                time = record.time;
                if seq - last_checkpoint >= CHECKPOINT_EVERY {
                    sign(seq, &head, time, last_checkpoint)?;
                    (last_checkpoint, checkpoints) = (seq, checkpoints + 1);
                }
            }
            if seq > last_checkpoint {
                sign(seq, &head, time, last_checkpoint)?;
                checkpoints += 1;
            }
        }
        tx.commit()?;
        conn.execute_batch("PRAGMA journal_mode=WAL;")?;
        Ok((seq, checkpoints))
    }
}

/// Refuses to start when `dir` has too little room for `records` audit records: about 1 KB
/// each (record, hashes, serial row, indexes), and some to spare.
fn check_room(dir: &Path, records: u64) -> Result<()> {
    let needed = records * 1100 + (200 << 20);
    if let Some(free) = free_bytes(dir) {
        ensure!(
            free > needed,
            "{records} audit records need about {} in {}, which has {} free; set ZT_GROWTH_DIR (e.g. /dev/shm) or ZT_GROWTH_RECORDS",
            bytes(needed),
            dir.display(),
            bytes(free)
        );
    }
    Ok(())
}

/// Free bytes in `dir`'s file system, from `df` (None when it cannot tell).
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kb: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

// ---------------------------------------------------------------------------------------
// 2. audit verify

/// Every row read back and its chain hash recomputed: the least any verification does.
fn rehash_floor(db: &Path) -> Result<(u64, Duration)> {
    let start = Instant::now();
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut statement =
        conn.prepare("SELECT seq, record, prev_hash, hash FROM audit ORDER BY seq")?;
    let mut rows = statement.query([])?;
    let (mut head, mut n) = (GENESIS.to_owned(), 0u64);
    while let Some(row) = rows.next()? {
        let (record, prev, hash) = (
            row.get_ref(1)?.as_str()?,
            row.get_ref(2)?.as_str()?,
            row.get_ref(3)?.as_str()?,
        );
        ensure!(
            prev == head && chain_hash(prev, record) == hash,
            "row {} does not chain",
            row.get::<_, i64>(0)?
        );
        head.clear();
        head.push_str(hash);
        n += 1;
    }
    Ok((n, start.elapsed()))
}

fn audit_part(work: &Path, sizes: &Sizes, rng: &mut Rng, table: &mut Table) -> Result<()> {
    let n = sizes.records;
    let dir = work.join("audit");
    std::fs::create_dir_all(&dir)?;
    let broker = Broker::init(&dir.join("broker"))?;
    let people: Vec<Person> = (0..PEOPLE).map(|k| Person::new(rng, k)).collect();
    let start_time = unix_now() - n * 30;
    let mut taken = std::collections::HashSet::with_capacity(n as usize);
    let records = (0..n).map(|i| {
        let serial = loop {
            let s = random_serial(rng);
            if taken.insert(s) {
                break s;
            }
        };
        let who = &people[(rng.next_u64() % PEOPLE as u64) as usize];
        who.issued(rng, serial, start_time + i * 30, 3600)
    });
    let start = Instant::now();
    let (written, checkpoints) = broker.append(records)?;
    let build = start.elapsed();
    let size = broker.size();
    table.section(
        &format!("2. audit verify, {written} records, {checkpoints} checkpoints"),
        "zt-broker",
        "read+rehash",
        "zt ÷ peer",
    );
    table.note(format!(
        "database {} ({} a record), written in {} (setup, untimed)",
        bytes(size),
        bytes(size / written),
        show(build)
    ));
    let (mut verify_times, mut floor_times) = (Vec::new(), Vec::new());
    for round in 0..sizes.verify_runs {
        for step in 0..2 {
            if (round + step) % 2 == 0 {
                let (counted, took) = broker.verify()?;
                ensure!(
                    counted == (written, checkpoints),
                    "audit verify counted {counted:?}, expected {:?}",
                    (written, checkpoints)
                );
                verify_times.push(took);
            } else {
                let (rows, took) = rehash_floor(&broker.db)?;
                ensure!(rows == written, "the floor read {rows} rows of {written}");
                floor_times.push(took);
            }
        }
    }
    let (verify, floor) = (median(verify_times), median(floor_times));
    table.row(
        &format!(
            "`audit verify --json` | rows read, hashes recomputed, median of {}",
            sizes.verify_runs
        ),
        show(verify),
        show(floor),
        ratio(verify, floor),
    );
    let per_second = |d: Duration| format!("{:.0}/s", written as f64 / d.as_secs_f64());
    table.row(
        "records per second",
        per_second(verify),
        per_second(floor),
        String::new(),
    );
    table.note(format!(
        "checked: verify says intact, {written} records, {checkpoints} signed checkpoints (every {CHECKPOINT_EVERY}, broker's audit key)"
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 3. revoke --user

/// The serial lookup of `Store::revocations` for a revoked user (sqlite_hosts.rs).
const USER_SERIALS_SQL: &str =
    "SELECT serial FROM serials WHERE issuer = ?1 AND subject = ?2 AND valid_before > ?3";
/// `Store::issued` for a user (sqlite_hosts.rs): what `zt-broker revoke` asks first.
const ISSUED_USER_SQL: &str = "SELECT count(*) > 0 FROM audit
     WHERE json_extract(record, '$.kind') IN ('certificate_issued', 'host_certificate_issued')
       AND json_extract(record, '$.identity.issuer') = ?1
       AND json_extract(record, '$.identity.subject') = ?2";

fn query_plan(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<String> {
    let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let details = statement
        .query_map(args, |r| r.get::<_, String>(3))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(details.join("; "))
}

fn revoke_part(
    work: &Path,
    sizes: &Sizes,
    rng: &mut Rng,
    keygen_ok: bool,
    table: &mut Table,
) -> Result<()> {
    let per = sizes.user_certs;
    let broker = Broker::init(&work.join("revoke"))?;
    let target = Person {
        subject: TARGET_SUBJECT.into(),
        email: "alice@example.com".into(),
        device: random_b64(rng, 32),
    };
    let people: Vec<Person> = (0..PEOPLE).map(|k| Person::new(rng, k)).collect();
    let (mut target_serials, mut other_serials) = (Vec::new(), Vec::new());
    let mut taken = std::collections::HashSet::new();
    // All within the last hour and valid for 8 hours: every certificate is unexpired.
    let now = unix_now();
    let records = (0..2 * per).map(|i| {
        let serial = loop {
            let s = random_serial(rng);
            if taken.insert(s) {
                break s;
            }
        };
        let time = now - 3600 + (i as u64 * 3600) / (2 * per as u64);
        if i % 2 == 0 {
            target_serials.push(serial);
            target.issued(rng, serial, time, 8 * 3600)
        } else {
            other_serials.push(serial);
            let who = &people[(rng.next_u64() % PEOPLE as u64) as usize];
            who.issued(rng, serial, time, 8 * 3600)
        }
    });
    let (written, _) = broker.append(records)?;
    table.section(
        &format!("3. revoke --user, {per} certificates + {per} of others"),
        "zt",
        "peer",
        "zt ÷ peer",
    );
    table.note(format!(
        "database: {written} records ({per} of user {TARGET_SUBJECT}, {per} of {PEOPLE} others, all unexpired), {}",
        bytes(broker.size())
    ));

    let conn = Connection::open_with_flags(&broker.db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let lookup_plan = query_plan(&conn, USER_SERIALS_SQL, params![ISSUER, TARGET_SUBJECT, 0])?;
    let issued_plan = query_plan(&conn, ISSUED_USER_SQL, params![ISSUER, TARGET_SUBJECT])?;
    ensure!(
        lookup_plan.contains("USING") && lookup_plan.contains("INDEX serials_user"),
        "the serial lookup does not use serials_user: {lookup_plan}"
    );

    let user = format!("{ISSUER},{TARGET_SUBJECT}");
    let runs = sizes.runs.min(other_serials.len() - 1);
    let (mut by_user, mut by_serial, mut version, mut precheck) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (round, other_serial) in other_serials.iter().take(runs).enumerate() {
        for step in 0..4 {
            match (round + step) % 4 {
                0 => {
                    let (output, took) =
                        timed(&mut broker.command(&["revoke", "--user", &user, "--json"]));
                    let answer: serde_json::Value = serde_json::from_slice(&output.stdout)?;
                    ensure!(answer["issued_here"] == true, "revoke --user: {answer}");
                    by_user.push(took);
                }
                1 => {
                    let serial = other_serial.to_string();
                    let (output, took) =
                        timed(&mut broker.command(&["revoke", "--serial", &serial, "--json"]));
                    let answer: serde_json::Value = serde_json::from_slice(&output.stdout)?;
                    ensure!(answer["issued_here"] == true, "revoke --serial: {answer}");
                    by_serial.push(took);
                }
                2 => {
                    let start = Instant::now();
                    run_ok(Command::new(zt_testkit::bins::zt_broker()).arg("--version"));
                    version.push(start.elapsed());
                }
                _ => {
                    let start = Instant::now();
                    let issued: bool =
                        conn.query_row(ISSUED_USER_SQL, params![ISSUER, TARGET_SUBJECT], |r| {
                            r.get(0)
                        })?;
                    ensure!(
                        issued,
                        "the pre-check does not find the user's certificates"
                    );
                    precheck.push(start.elapsed());
                }
            }
        }
    }
    drop(conn);
    let (by_user, by_serial, version, precheck) = (
        median(by_user),
        median(by_serial),
        median(version),
        median(precheck),
    );
    table.row(
        &format!("`revoke --user` | `revoke --serial` (another's), median of {runs}"),
        show(by_user),
        show(by_serial),
        ratio(by_user, by_serial),
    );
    table.row(
        "`revoke --user` | `zt-broker --version` (process start)",
        show(by_user),
        show(version),
        ratio(by_user, version),
    );
    table.row(
        "revoke's pre-check `Store::issued(user)`, its SQL alone",
        show(precheck),
        String::new(),
        String::new(),
    );

    // The KRL that lists the user's certificates, read through the broker's store.
    let store = SqliteStore::open(&broker.db, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let blob = public_blob(&broker.dir.join("user_ca.pub"))?;
    let (mut read_times, mut krl_times) = (Vec::new(), Vec::new());
    let (mut list, mut krl) = (RevocationList::default(), Vec::new());
    for _ in 0..sizes.runs {
        let start = Instant::now();
        list = runtime
            .block_on(store.revocations(unix_now()))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        read_times.push(start.elapsed());
        let start = Instant::now();
        krl = build_krl(black_box(&blob), black_box(&list)).encode();
        krl_times.push(start.elapsed());
    }
    drop(store);
    let (read, build) = (median(read_times), median(krl_times));
    table.row(
        &format!(
            "`Store::revocations(now)`: {} user serials, median of {}",
            list.user_serials.len(),
            sizes.runs
        ),
        show(read),
        String::new(),
        String::new(),
    );
    table.row(
        &format!("`build_krl` + `encode`: {}", bytes(krl.len() as u64)),
        show(build),
        String::new(),
        String::new(),
    );
    target_serials.sort_unstable();
    ensure!(
        list.user_serials == target_serials,
        "the list has {} user serials, the user has {}",
        list.user_serials.len(),
        target_serials.len()
    );
    let revoked_serials = list
        .entries
        .iter()
        .filter(|r| matches!(r, Revocation::Serial(_)))
        .count();
    ensure!(revoked_serials == runs, "{revoked_serials} serials revoked");
    table.note(format!("serial lookup plan: {lookup_plan}"));
    table.note(format!("pre-check plan:     {issued_plan}"));

    let mut checked =
        format!("checked: user_serials = the user's {per} serials; lookup uses serials_user");
    if keygen_ok {
        let krl_path = broker.dir.join("zt.krl");
        std::fs::write(&krl_path, &krl)?;
        let certs = work.join("revoke-certs");
        std::fs::create_dir_all(&certs)?;
        keygen(&certs, "theirs");
        keygen(&certs, "other");
        let ca_key = broker.dir.join("user_ca");
        let theirs = sign(&certs, &ca_key, "theirs", target_serials[per / 2], "theirs");
        let other = sign(&certs, &ca_key, "other", other_serials[runs], "other");
        ensure!(
            revoked_by(&krl_path, &theirs)?,
            "the user's certificate is not revoked"
        );
        ensure!(
            !revoked_by(&krl_path, &other)?,
            "another user's certificate is revoked"
        );
        checked.push_str("; ssh-keygen -Q: theirs REVOKED, another's ok");
    }
    let ((records, _), _) = broker.verify()?;
    ensure!(
        records == written + 2 * runs as u64,
        "audit verify counted {records} records"
    );
    checked.push_str("; audit verify intact after the revocations");
    table.note(checked);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 4. policy

fn policy_text(rules: usize) -> Result<String> {
    let mut text = String::from("[defaults]\nttl = \"1h\"\nmax_ttl = \"8h\"\n");
    for i in 0..rules {
        write!(
            text,
            "\n[[rules]]\nname = \"team-{i}\"\nmatch.groups = [\"team-{i}\"]\nprincipals = [\"team-{i}\"]\nextensions = [\"permit-pty\"]\n"
        )?;
    }
    Ok(text)
}

/// A person in 19 groups no rule names, and `extra` if given.
fn person_in(extra: Option<String>) -> Identity {
    let mut groups: Vec<String> = (0..19).map(|k| format!("staff-{k}")).collect();
    groups.extend(extra);
    if groups.len() < 20 {
        groups.push("staff-19".into());
    }
    Identity::person(
        ISSUER,
        "248289761001",
        Some("alice@example.com".into()),
        groups,
    )
}

fn policy_part(sizes: &Sizes, table: &mut Table) -> Result<()> {
    let big = sizes.rules;
    let (mut parse, mut policies) = (Vec::new(), Vec::new());
    for rules in [10, big] {
        let text = policy_text(rules)?;
        let (mut times, mut policy) = (Vec::new(), None);
        for _ in 0..sizes.runs {
            let start = Instant::now();
            let parsed =
                Policy::from_toml(&text).map_err(|e| anyhow::anyhow!("{rules} rules: {e}"))?;
            times.push(start.elapsed());
            policy = Some(parsed);
        }
        policies.push(policy.context("no run")?);
        parse.push(median(times));
    }
    // (policy, identity, rule it must match)
    let cases: Vec<(usize, Identity, Option<String>)> = [10, big]
        .iter()
        .enumerate()
        .flat_map(|(p, &rules)| {
            let last = format!("team-{}", rules - 1);
            [
                (p, person_in(Some(last.clone())), Some(last)),
                (p, person_in(None), None),
            ]
        })
        .collect();
    for (p, identity, expected) in &cases {
        let got = policies[*p].evaluate(identity).ok().map(|g| g.rule);
        ensure!(
            &got == expected,
            "evaluate gave {got:?}, expected {expected:?}"
        );
    }
    // Calls per batch: about 200 µs of work each.
    let batch: Vec<u32> = cases
        .iter()
        .map(|(p, identity, _)| {
            let start = Instant::now();
            for _ in 0..100 {
                let _ = black_box(policies[*p].evaluate(black_box(identity)));
            }
            let per_call = start.elapsed().as_nanos().max(100) / 100;
            (200_000 / per_call).clamp(1, 100_000) as u32
        })
        .collect();
    let mut samples = vec![Vec::new(); cases.len()];
    for _ in 0..sizes.policy_rounds {
        for (c, (p, identity, _)) in cases.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..batch[c] {
                let _ = black_box(policies[*p].evaluate(black_box(identity)));
            }
            samples[c].push(start.elapsed() / batch[c]);
        }
    }
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    table.section(
        "4. policy decision (identity in 20 groups)",
        &format!("{big} rules"),
        "10 rules",
        "ratio",
    );
    table.row(
        &format!("`Policy::from_toml` median of {}", sizes.runs),
        show(parse[1]),
        show(parse[0]),
        ratio(parse[1], parse[0]),
    );
    table.row(
        &format!(
            "`evaluate`, matches the last rule, median of {} batches",
            sizes.policy_rounds
        ),
        show(medians[2]),
        show(medians[0]),
        ratio(medians[2], medians[0]),
    );
    table.row(
        "`evaluate`, matches no rule (denial)",
        show(medians[3]),
        show(medians[1]),
        ratio(medians[3], medians[1]),
    );
    table.note(
        "checked: the last rule is the one granted; no rule matches the other identity".into(),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------

fn main() -> Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = Sizes::new(full);
    if !full {
        println!("growth bench: smoke run only (use `cargo bench --bench growth` for numbers)");
    }
    let keygen_ok = require_peers(&[Peer::Sshd]);
    let mut rng = Rng::seeded("growth");
    let base = std::env::var_os("ZT_GROWTH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let work = tempfile::Builder::new()
        .prefix("zt-growth-")
        .tempdir_in(&base)?;
    let broker = zt_testkit::bins::zt_broker();
    let load_before = load();
    let started = Instant::now();
    // One table per part, printed in order; the cheap parts run first.
    let mut tables: [Table; 4] = Default::default();

    let part = |k: &str| sizes.parts.split(',').any(|p| p.trim() == k);
    if part("2") {
        check_room(work.path(), sizes.records)?;
    }
    if part("4") {
        eprintln!("growth: 4. policy");
        policy_part(&sizes, &mut tables[3])?;
    }
    if part("1") && keygen_ok {
        eprintln!("growth: 1. KRL");
        krl_part(work.path(), &sizes, &mut rng, &mut tables[0])?;
    }
    if part("3") {
        eprintln!("growth: 3. revoke --user");
        revoke_part(work.path(), &sizes, &mut rng, keygen_ok, &mut tables[2])?;
    }
    if part("2") {
        eprintln!("growth: 2. audit verify");
        audit_part(work.path(), &sizes, &mut rng, &mut tables[1])?;
    }

    println!(
        "growth: zt-broker {}; work dir {}; {} CPUs; load average {load_before} before, {} after; {}",
        broker.display(),
        work.path().display(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load(),
        show(started.elapsed()),
    );
    if !keygen_ok {
        println!("(no ssh-keygen: part 1 and the ssh-keygen checks of part 3 skipped)");
    }
    for table in &tables {
        table.print();
    }
    Ok(())
}
