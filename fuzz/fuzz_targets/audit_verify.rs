//! The audit-chain verifier against logs the fuzzer tampers with: a real
//! chain of 24 records with signed checkpoints every 5, then a sequence of
//! edits chosen by the input (change bytes of a record, a hash or a
//! checkpoint; delete, duplicate, swap or truncate rows; re-hash the chain
//! from some point on, as a careful forger would). No input may panic, and
//! whenever the verifier says "intact", every record a surviving signed
//! checkpoint covers must be exactly the original.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zt_core::audit::checkpoint::Checkpoint;
use zt_core::audit::{Entry, GENESIS, chain_hash, verify::verify};
use zt_core::jose::SigningKey;

const RECORDS: u64 = 24;
const EVERY: u64 = 5;

struct Log {
    key: SigningKey,
    entries: Vec<Entry>,
    checkpoints: Vec<Checkpoint>,
}

fn original() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let key = SigningKey::generate().unwrap();
        let (mut entries, mut checkpoints) = (Vec::new(), Vec::new());
        let mut head = GENESIS.to_owned();
        let mut prev = 0;
        for seq in 1..=RECORDS {
            let record = format!(r#"{{"time":{seq},"kind":"certificate_issued","n":{seq}}}"#);
            let hash = chain_hash(&head, &record);
            entries.push(Entry {
                seq,
                record,
                prev_hash: head.clone(),
                hash: hash.clone(),
            });
            head = hash;
            if seq % EVERY == 0 {
                checkpoints.push(Checkpoint::sign(&key, seq, &head, seq, prev).unwrap());
                prev = seq;
            }
        }
        Log {
            key,
            entries,
            checkpoints,
        }
    })
}

fn flip(text: &mut String, at: u8, byte: u8) {
    let mut bytes = std::mem::take(text).into_bytes();
    if !bytes.is_empty() {
        let i = at as usize % bytes.len();
        bytes[i] ^= byte | 1;
    }
    *text = String::from_utf8_lossy(&bytes).into_owned();
}

fn rehash_from(entries: &mut [Entry], from: usize) {
    for i in from..entries.len() {
        let prev = if i == 0 {
            GENESIS.to_owned()
        } else {
            entries[i - 1].hash.clone()
        };
        entries[i].prev_hash = prev.clone();
        entries[i].hash = chain_hash(&prev, &entries[i].record);
    }
}

fuzz_target!(|data: &[u8]| {
    let log = original();
    let mut entries = log.entries.clone();
    let mut checkpoints = log.checkpoints.clone();
    for op in data.chunks(3) {
        let [kind, a, b] = [op[0], *op.get(1).unwrap_or(&0), *op.get(2).unwrap_or(&1)];
        let n = entries.len().max(1);
        let i = a as usize % n;
        match kind % 10 {
            0 if !entries.is_empty() => flip(&mut entries[i].record, b, a),
            1 if !entries.is_empty() => flip(&mut entries[i].hash, b, a),
            2 if !entries.is_empty() => flip(&mut entries[i].prev_hash, b, a),
            3 if !entries.is_empty() => {
                entries.remove(i);
            }
            4 if !entries.is_empty() => {
                let copy = entries[i].clone();
                entries.insert(b as usize % n, copy);
            }
            5 if entries.len() > 1 => entries.swap(i, b as usize % n),
            6 => entries.truncate(i),
            7 if !entries.is_empty() => rehash_from(&mut entries, i),
            8 if !checkpoints.is_empty() => {
                let c = a as usize % checkpoints.len();
                match b % 4 {
                    0 => checkpoints[c].seq ^= 1 + u64::from(b >> 2),
                    1 => flip(&mut checkpoints[c].hash, b, a),
                    2 => checkpoints[c].prev_seq = u64::from(b),
                    _ => flip(&mut checkpoints[c].signature, b, a),
                }
            }
            9 if !checkpoints.is_empty() => {
                checkpoints.remove(a as usize % checkpoints.len());
            }
            _ => {}
        }
        if kind >= 200 && !entries.is_empty() {
            // Renumber, as someone hiding a deletion would.
            for (k, e) in entries.iter_mut().enumerate() {
                e.seq = k as u64 + 1;
            }
        }
    }
    if let Ok(summary) = verify(&entries, checkpoints, log.key.public_jwk()) {
        let covered = summary.last_checkpoint_seq as usize;
        assert!(covered <= entries.len());
        for k in 0..covered {
            assert_eq!(
                entries[k].record, log.entries[k].record,
                "record {} changed under a signed checkpoint",
                k + 1
            );
        }
    }
});
