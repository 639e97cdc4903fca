//! `zt-broker audit verify` catches tampering: a real log (written through
//! the broker's store, with signed checkpoints and a short unsigned tail)
//! is copied and mutated in many random ways, and the real binary must
//! report every copy as not intact, naming the first bad record where
//! that is well defined. The untouched copy is the positive control.
//!
//! Mutations that no verifier can see are deliberately not generated:
//! appending or rewriting only after the last checkpoint (the unsigned
//! tail, which `verify` reports as such).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use zt_broker::keys::load_audit_key;
use zt_broker::store::sqlite::{Checkpointing, SqliteStore};
use zt_broker::store::{Store, Write};
use zt_core::audit::checkpoint::Checkpoint;
use zt_core::audit::{
    AuditRecord, CertificateFacts, Entry, EventKind, Outcome, Subject, chain_hash,
};
use zt_core::jose::SigningKey;

use super::{verify, verify_with};
use crate::e2e::fixture::{Broker, POLICY};
use zt_testkit::http::block_on;
use zt_testkit::rng::Rng;

const SIGNED: u64 = 400;
const UNSIGNED_TAIL: u64 = 10;
const MUTATIONS: usize = 200;

fn record(i: u64) -> AuditRecord {
    let kinds = [
        EventKind::TokenExchange,
        EventKind::CertificateIssued,
        EventKind::CertificateRefused,
        EventKind::TokenExchangeRefused,
    ];
    let kind = kinds[(i % 4) as usize];
    let refused = matches!(
        kind,
        EventKind::CertificateRefused | EventKind::TokenExchangeRefused
    );
    AuditRecord {
        time: 1_800_000_000 + i,
        kind,
        request_id: format!("req-{i}"),
        identity: (i % 7 != 0).then(|| Subject {
            issuer: "https://idp.example".into(),
            subject: format!("user-{}\n{{\"forged\":1}}", i % 13),
            email: Some(format!("u{}@example.com", i % 13)),
        }),
        client_addr: Some("127.0.0.1".into()),
        device: Some(format!("jkt-{i}")),
        rule: Some("sre".into()),
        certificate: (kind == EventKind::CertificateIssued).then(|| CertificateFacts {
            serial: 1000 + i,
            key_id: format!("zt:req=req-{i}"),
            principals: vec!["ops".into()],
            valid_after: 1_800_000_000,
            valid_before: 1_800_003_600,
            key_fingerprint: "SHA256:x".into(),
        }),
        outcome: Some(if refused {
            Outcome {
                status: 403,
                error: Some("access_denied".into()),
                reason: Some("no rule".into()),
            }
        } else {
            Outcome::success()
        }),
        revocation: None,
        enrolment: None,
        posture: None,
        audience: None,
        workload: None,
    }
}

/// Commit records `range`, ten at a time: each ten are queued on the
/// writer together and committed as one batch (checkpoints fall on batch
/// boundaries).
fn write(store: &SqliteStore, range: std::ops::RangeInclusive<u64>) {
    let all: Vec<u64> = range.collect();
    for chunk in all.chunks(10) {
        block_on(async {
            let commits: Vec<_> = chunk
                .iter()
                .map(|&i| store.commit(Write::record(record(i))))
                .collect();
            for commit in commits {
                commit.await.unwrap();
            }
        });
    }
}

struct Log {
    entries: Vec<Entry>,
    checkpoints: Vec<Checkpoint>,
}

fn read(db: &Path) -> Log {
    let log = zt_broker::store::audit_log::AuditLog::Sqlite(
        zt_broker::store::audit_log::SqliteLog::open(db).unwrap(),
    );
    let mut entries = Vec::new();
    log.for_each(|e| {
        entries.push(e.clone());
        Ok::<_, ()>(())
    })
    .unwrap()
    .unwrap();
    Log {
        entries,
        checkpoints: log.checkpoints().unwrap(),
    }
}

fn store(db: &Path, log: &Log) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute_batch("DELETE FROM audit; DELETE FROM audit_checkpoints;")
        .unwrap();
    for e in &log.entries {
        tx.execute(
            "INSERT INTO audit (seq, record, prev_hash, hash) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![e.seq as i64, e.record, e.prev_hash, e.hash],
        )
        .unwrap();
    }
    for c in &log.checkpoints {
        tx.execute(
            "INSERT INTO audit_checkpoints (seq, hash, time, prev_seq, key_id, signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![c.seq as i64, c.hash, c.time as i64, c.prev_seq as i64, c.key_id, c.signature],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn renumber(entries: &mut [Entry]) {
    for (i, e) in entries.iter_mut().enumerate() {
        e.seq = i as u64 + 1;
    }
}

/// Recompute links and hashes from `index` on, as a forger would.
fn rehash_from(entries: &mut [Entry], index: usize) {
    for i in index..entries.len() {
        let prev = if i == 0 {
            zt_core::audit::GENESIS.to_owned()
        } else {
            entries[i - 1].hash.clone()
        };
        entries[i].hash = chain_hash(&prev, &entries[i].record);
        entries[i].prev_hash = prev;
    }
}

fn edit(record: &str, rng: &mut Rng) -> String {
    let mut value: Value = serde_json::from_str(record).unwrap();
    match rng.below(4) {
        0 => value["time"] = json!(value["time"].as_u64().unwrap() + 1),
        1 => value["identity"] = json!({"issuer": "https://idp.example", "subject": "mallory"}),
        2 => value["outcome"] = json!({"status": 200}),
        _ => value["rule"] = json!("admins"),
    }
    let text = value.to_string();
    assert_ne!(text, record);
    text
}

/// Apply mutation number `n` (the kinds take turns); returns its name and
/// the first bad seq `verify` must report, where that is well defined.
fn mutate(n: usize, log: &mut Log, rng: &mut Rng, last_signed: u64) -> (String, Option<u64>) {
    let len = log.entries.len() as u64;
    // A record strictly inside the chain (never the last one: changing
    // only the unsigned tail's end is undetectable by design).
    let pick = |rng: &mut Rng| rng.in_range(1..=len - 1);
    // A record at or before the last checkpoint.
    let pick_signed = |rng: &mut Rng| rng.in_range(1..=last_signed);
    let first_checkpoint_from = |log: &Log, seq: u64| {
        log.checkpoints
            .iter()
            .map(|c| c.seq)
            .find(|&c| c >= seq)
            .unwrap()
    };
    match n % 11 {
        0 => {
            let k = rng.in_range(1..=len);
            let e = &mut log.entries[k as usize - 1];
            e.record = edit(&e.record, rng);
            (format!("edit record {k}"), Some(k))
        }
        1 => {
            let k = pick(rng);
            log.entries.remove(k as usize - 1);
            (format!("delete record {k}"), Some(k))
        }
        2 => {
            let k = pick(rng);
            log.entries.remove(k as usize - 1);
            renumber(&mut log.entries);
            (format!("delete record {k} and renumber"), Some(k))
        }
        3 => {
            let a = rng.in_range(1..=len - 1);
            let b = rng.in_range(a + 1..=len);
            let (ea, eb) = (
                log.entries[a as usize - 1].clone(),
                log.entries[b as usize - 1].clone(),
            );
            log.entries[a as usize - 1] = Entry { seq: a, ..eb };
            log.entries[b as usize - 1] = Entry { seq: b, ..ea };
            (format!("swap records {a} and {b}"), Some(a))
        }
        4 => {
            let k = pick(rng);
            let prev = log.entries[k as usize - 1].hash.clone();
            let forged = record(9999).canonical();
            let entry = Entry {
                seq: k + 1,
                hash: chain_hash(&prev, &forged),
                prev_hash: prev,
                record: forged,
            };
            log.entries.insert(k as usize, entry);
            renumber(&mut log.entries);
            // The forgery (at k + 1) links and hashes; a checkpoint at k + 1
            // names it, otherwise the next record does not link to it.
            let at = if log.checkpoints.iter().any(|c| c.seq == k + 1) {
                k + 1
            } else {
                k + 2
            };
            (format!("insert a forged record after {k}"), Some(at))
        }
        5 => {
            let keep = rng.in_range(0..=last_signed - 1);
            log.entries.truncate(keep as usize);
            (format!("truncate to {keep} records"), Some(keep + 1))
        }
        6 => {
            let j = rng.below(log.checkpoints.len() as u64) as usize;
            let c = &mut log.checkpoints[j];
            let seq = c.seq;
            match rng.below(4) {
                0 => c.hash = log.entries[0].hash.clone(),
                1 => c.time += 1,
                2 => c.prev_seq += 1,
                _ => {
                    let mut sig = zt_core::jose::b64_decode(&c.signature).unwrap();
                    sig[5] ^= 1;
                    c.signature = zt_core::jose::b64(sig);
                }
            }
            (format!("alter the checkpoint at {seq}"), Some(seq))
        }
        7 => {
            // From 3 on: record 2's prev_hash is record 1's hash already, so pointing it
            // there would change nothing (seed 1796009970887154346 drew k = 2).
            let k = rng.in_range(3..=len);
            log.entries[k as usize - 1].prev_hash = log.entries[0].hash.clone();
            (format!("change prev_hash of {k}"), Some(k))
        }
        8 => {
            let k = pick_signed(rng);
            let i = k as usize - 1;
            log.entries[i].record = edit(&log.entries[i].record, rng);
            rehash_from(&mut log.entries, i);
            let at = first_checkpoint_from(log, k);
            (format!("edit {k} and re-hash the rest"), Some(at))
        }
        9 => {
            let k = rng.in_range(0..=last_signed - 1);
            let forged = record(7777).canonical();
            log.entries.insert(
                k as usize,
                Entry {
                    seq: 0,
                    record: forged,
                    prev_hash: String::new(),
                    hash: String::new(),
                },
            );
            renumber(&mut log.entries);
            rehash_from(&mut log.entries, k as usize);
            let at = first_checkpoint_from(log, k + 1);
            (
                format!("insert a forged record after {k} and re-hash the rest"),
                Some(at),
            )
        }
        _ => {
            // Rewrite everything from k and sign fresh checkpoints with a
            // key that is not the broker's.
            let k = pick_signed(rng);
            let i = k as usize - 1;
            log.entries[i].record = edit(&log.entries[i].record, rng);
            rehash_from(&mut log.entries, i);
            let other = SigningKey::generate().unwrap();
            let at = first_checkpoint_from(log, k);
            for c in log.checkpoints.iter_mut().filter(|c| c.seq >= k) {
                let hash = log.entries[c.seq as usize - 1].hash.clone();
                *c = Checkpoint::sign(&other, c.seq, &hash, c.time, c.prev_seq).unwrap();
            }
            (
                format!("edit {k}, re-hash and re-sign with another key"),
                Some(at),
            )
        }
    }
}

#[test]
fn verify_catches_every_random_mutation_of_a_copied_log() {
    let mut rng = Rng::seeded("mutation test");
    let broker = Broker::init("http://127.0.0.1:9/idp", POLICY);
    let config = broker.config_path();
    let keys = zt_broker::config::BrokerConfig::load(&config).unwrap().keys;
    let pristine = broker.home().join("pristine.db");
    {
        let checkpointing = Checkpointing {
            key: load_audit_key(&keys.audit_signing).unwrap(),
            every_records: 23,
            every: Duration::from_secs(3600),
        };
        let store = SqliteStore::open(&pristine, Some(checkpointing)).unwrap();
        write(&store, 1..=SIGNED);
        // Closing signs the head.
    }
    {
        // An unsigned tail, as a crash between checkpoints leaves.
        let store = SqliteStore::open(&pristine, None).unwrap();
        write(&store, SIGNED + 1..=SIGNED + UNSIGNED_TAIL);
    }
    let original = read(&pristine);
    let last_signed = original.checkpoints.last().unwrap().seq;
    assert_eq!(last_signed, SIGNED);
    assert!(
        original.checkpoints.len() >= 10,
        "{}",
        original.checkpoints.len()
    );

    // The broker's config points at zt-broker.db: that is the copy.
    let copy = broker.home().join("zt-broker.db");
    std::fs::copy(&pristine, &copy).unwrap();
    let (code, verdict) = verify(&config);
    assert_eq!(code, Some(0), "the untouched copy must verify: {verdict}");
    assert_eq!(verdict["records"], SIGNED + UNSIGNED_TAIL);
    assert_eq!(verdict["unsigned_tail"], UNSIGNED_TAIL);

    for n in 0..MUTATIONS {
        let mut log = Log {
            entries: original.entries.clone(),
            checkpoints: original.checkpoints.clone(),
        };
        let (what, first_bad) = mutate(n, &mut log, &mut rng, last_signed);
        std::fs::copy(&pristine, &copy).unwrap();
        store(&copy, &log);
        let (code, verdict) = verify(&config);
        assert_eq!(code, Some(8), "mutation {n} ({what}) not caught: {verdict}");
        assert_eq!(verdict["intact"], false, "mutation {n} ({what}): {verdict}");
        if let Some(seq) = first_bad {
            assert_eq!(
                verdict["first_bad_seq"],
                seq.to_string(),
                "mutation {n} ({what}): {verdict}"
            );
        }
    }

    // And the positive control once more, after all that copying; also
    // with only the public key, as an auditor elsewhere would run it.
    std::fs::copy(&pristine, &copy).unwrap();
    assert_eq!(verify(&config).0, Some(0));
    let public = broker.home().join("audit_signing_key.pub.json");
    let (code, verdict) = verify_with(&config, &["--public-key", public.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{verdict}");
    // Someone else's key: the first checkpoint is not signed by it.
    let other = broker.home().join("other.pub.json");
    let other_key = SigningKey::generate().unwrap();
    std::fs::write(
        &other,
        serde_json::to_string(other_key.public_jwk()).unwrap(),
    )
    .unwrap();
    let (code, verdict) = verify_with(&config, &["--public-key", other.to_str().unwrap()]);
    assert_eq!(code, Some(8), "{verdict}");
    assert_eq!(verdict["problem"], "bad_signature", "{verdict}");
}
