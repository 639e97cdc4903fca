//! Walk a stored audit chain from genesis and name the first thing wrong:
//! a record whose hash does not match its content (edited), one that does
//! not link to the record before it (deleted, inserted or reordered), a gap
//! in the sequence numbers, a checkpoint whose signature fails or whose
//! hash differs from the chain's at that seq (the chain was rewritten), a
//! checkpoint that does not name its predecessor (one was deleted), and a
//! log that ends before its last signed checkpoint (truncated).
//!
//! What no walk can see: records appended after the last checkpoint can be
//! rewritten or cut off together with any checkpoints after them. That is
//! why the broker checkpoints often, logs each checkpoint, and why shipping
//! checkpoints off the host (`audit export`, the broker's log) matters.
//!
//! Pure: rows in, a verdict out. Rows are pushed one at a time so a long
//! log never has to fit in memory.

use serde::Serialize;

use super::checkpoint::Checkpoint;
use super::{Entry, GENESIS, chain_hash};
use crate::jose::EcPublicJwk;

/// The first problem found, with the seq it was found at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    #[error("records {from}..={to} are missing (deleted)")]
    Missing { from: u64, to: u64 },
    #[error(
        "record {seq} does not match its hash (edited, or moved here from elsewhere in the chain)"
    )]
    Edited { seq: u64 },
    #[error(
        "record {seq} does not link to the record before it (a record was deleted, inserted or reordered)"
    )]
    Unlinked { seq: u64 },
    #[error("the checkpoint at record {seq} is not signed by this broker's audit key")]
    BadSignature { seq: u64 },
    #[error(
        "the chain at record {seq} differs from its signed checkpoint (records up to {seq} were rewritten)"
    )]
    Rewritten { seq: u64 },
    #[error(
        "the checkpoint at record {seq} names checkpoint {claimed} as its predecessor, but the one before it is {found} (a checkpoint was deleted)"
    )]
    CheckpointMissing { seq: u64, claimed: u64, found: u64 },
    #[error(
        "the log ends at record {head} but a signed checkpoint covers record {seq} (the tail was truncated)"
    )]
    Truncated { seq: u64, head: u64 },
}

impl Problem {
    /// The first seq that is wrong.
    pub fn seq(&self) -> u64 {
        match *self {
            Problem::Missing { from, .. } => from,
            Problem::Edited { seq }
            | Problem::Unlinked { seq }
            | Problem::BadSignature { seq }
            | Problem::Rewritten { seq }
            | Problem::CheckpointMissing { seq, .. } => seq,
            Problem::Truncated { head, .. } => head + 1,
        }
    }
}

/// What an intact walk saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub records: u64,
    pub head_seq: u64,
    pub head_hash: String,
    pub checkpoints: u64,
    /// 0 when there is none.
    pub last_checkpoint_seq: u64,
    /// Records after the last checkpoint: not yet protected against a
    /// rewrite or a truncation.
    pub unsigned_tail: u64,
}

/// A walk in progress. Feed rows in seq order with [`Walk::push`], then
/// call [`Walk::finish`].
pub struct Walk<'k> {
    key: &'k EcPublicJwk,
    /// Checkpoints sorted by seq, and how many have been checked.
    checkpoints: Vec<Checkpoint>,
    checked: usize,
    next_seq: u64,
    head_hash: String,
    last_checkpoint_seq: u64,
}

impl<'k> Walk<'k> {
    pub fn new(key: &'k EcPublicJwk, mut checkpoints: Vec<Checkpoint>) -> Self {
        checkpoints.sort_by_key(|c| c.seq);
        Walk {
            key,
            checkpoints,
            checked: 0,
            next_seq: 1,
            head_hash: GENESIS.to_owned(),
            last_checkpoint_seq: 0,
        }
    }

    /// Check the next row (rows must come in ascending seq order).
    pub fn push(&mut self, entry: &Entry) -> Result<(), Problem> {
        if entry.seq > self.next_seq {
            return Err(Problem::Missing {
                from: self.next_seq,
                to: entry.seq - 1,
            });
        }
        if entry.seq < self.next_seq || entry.prev_hash != self.head_hash {
            return Err(Problem::Unlinked { seq: entry.seq });
        }
        if chain_hash(&entry.prev_hash, &entry.record) != entry.hash {
            return Err(Problem::Edited { seq: entry.seq });
        }
        self.head_hash.clone_from(&entry.hash);
        self.next_seq = entry.seq + 1;
        while let Some(checkpoint) = self.checkpoints.get(self.checked) {
            if checkpoint.seq > entry.seq {
                break;
            }
            self.check(checkpoint, entry)?;
            self.last_checkpoint_seq = checkpoint.seq;
            self.checked += 1;
        }
        Ok(())
    }

    fn check(&self, checkpoint: &Checkpoint, entry: &Entry) -> Result<(), Problem> {
        let seq = checkpoint.seq;
        if !checkpoint.is_signed_by(self.key) {
            return Err(Problem::BadSignature { seq });
        }
        if checkpoint.prev_seq != self.last_checkpoint_seq {
            return Err(Problem::CheckpointMissing {
                seq,
                claimed: checkpoint.prev_seq,
                found: self.last_checkpoint_seq,
            });
        }
        // A checkpoint below the current row can only be one whose seq has
        // no row (seq 0); it signs nothing this chain holds.
        if seq != entry.seq || checkpoint.hash != entry.hash {
            return Err(Problem::Rewritten { seq });
        }
        Ok(())
    }

    /// Everything pushed is intact; check no signed checkpoint lies beyond
    /// the end of the log.
    pub fn finish(self) -> Result<Summary, Problem> {
        let head = self.next_seq - 1;
        if let Some(beyond) = self.checkpoints.get(self.checked) {
            // A forged checkpoint past the end is not evidence of a
            // truncation; only a genuine signature is.
            if !beyond.is_signed_by(self.key) {
                return Err(Problem::BadSignature { seq: beyond.seq });
            }
            return Err(Problem::Truncated {
                seq: beyond.seq,
                head,
            });
        }
        Ok(Summary {
            records: head,
            head_seq: head,
            head_hash: self.head_hash,
            checkpoints: self.checked as u64,
            last_checkpoint_seq: self.last_checkpoint_seq,
            unsigned_tail: head - self.last_checkpoint_seq,
        })
    }
}

/// Walk `entries` (in seq order) against `checkpoints`.
pub fn verify<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    checkpoints: Vec<Checkpoint>,
    key: &EcPublicJwk,
) -> Result<Summary, Problem> {
    let mut walk = Walk::new(key, checkpoints);
    for entry in entries {
        walk.push(entry)?;
    }
    walk.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SigningKey;

    struct Log {
        key: SigningKey,
        entries: Vec<Entry>,
        checkpoints: Vec<Checkpoint>,
    }

    /// `n` records with a checkpoint after every `every`-th.
    fn log(n: u64, every: u64) -> Log {
        let key = SigningKey::generate().unwrap();
        let mut entries = Vec::new();
        let mut checkpoints: Vec<Checkpoint> = Vec::new();
        let mut head = GENESIS.to_owned();
        for seq in 1..=n {
            let record = format!("{{\"n\":{seq}}}");
            let hash = chain_hash(&head, &record);
            entries.push(Entry {
                seq,
                record,
                prev_hash: head.clone(),
                hash: hash.clone(),
            });
            head = hash;
            if seq % every == 0 {
                let prev = checkpoints.last().map_or(0, |c| c.seq);
                checkpoints.push(Checkpoint::sign(&key, seq, &head, seq, prev).unwrap());
            }
        }
        Log {
            key,
            entries,
            checkpoints,
        }
    }

    impl Log {
        fn verify(&self) -> Result<Summary, Problem> {
            verify(
                &self.entries,
                self.checkpoints.clone(),
                self.key.public_jwk(),
            )
        }

        /// Recompute hashes and links from `index` on, as a forger would.
        fn rehash_from(&mut self, index: usize) {
            for i in index..self.entries.len() {
                let prev = if i == 0 {
                    GENESIS.to_owned()
                } else {
                    self.entries[i - 1].hash.clone()
                };
                self.entries[i].hash = chain_hash(&prev, &self.entries[i].record);
                self.entries[i].prev_hash = prev;
            }
        }
    }

    #[test]
    fn an_intact_log_verifies_and_reports_its_unsigned_tail() {
        let summary = log(25, 10).verify().unwrap();
        assert_eq!(summary.records, 25);
        assert_eq!(summary.checkpoints, 2);
        assert_eq!(summary.last_checkpoint_seq, 20);
        assert_eq!(summary.unsigned_tail, 5);
        let empty = verify([], vec![], SigningKey::generate().unwrap().public_jwk()).unwrap();
        assert_eq!((empty.records, empty.head_hash.as_str()), (0, GENESIS));
    }

    #[test]
    fn an_edited_record_is_named() {
        let mut l = log(30, 10);
        l.entries[11].record = "{\"n\":999}".into();
        assert_eq!(l.verify(), Err(Problem::Edited { seq: 12 }));
    }

    #[test]
    fn a_deleted_record_is_a_gap_and_renumbering_breaks_the_link() {
        let mut l = log(30, 10);
        l.entries.remove(4);
        assert_eq!(l.verify(), Err(Problem::Missing { from: 5, to: 5 }));
        for (i, e) in l.entries.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
        assert_eq!(l.verify(), Err(Problem::Unlinked { seq: 5 }));
    }

    #[test]
    fn swapped_records_do_not_link() {
        let mut l = log(30, 10);
        let (a, b) = (l.entries[3].clone(), l.entries[7].clone());
        l.entries[3] = Entry { seq: 4, ..b };
        l.entries[7] = Entry { seq: 8, ..a };
        assert_eq!(l.verify(), Err(Problem::Unlinked { seq: 4 }));
    }

    #[test]
    fn a_forged_record_with_a_fresh_hash_breaks_the_next_link() {
        let mut l = log(30, 10);
        let prev = l.entries[4].hash.clone();
        let record = "{\"forged\":true}".to_owned();
        l.entries[5] = Entry {
            seq: 6,
            hash: chain_hash(&prev, &record),
            prev_hash: prev,
            record,
        };
        assert_eq!(l.verify(), Err(Problem::Unlinked { seq: 7 }));
    }

    #[test]
    fn a_rehashed_suffix_is_caught_by_the_next_checkpoint_only() {
        let mut l = log(30, 10);
        l.entries[13].record = "{\"n\":0}".into();
        l.rehash_from(13);
        assert_eq!(l.verify(), Err(Problem::Rewritten { seq: 20 }));
        // After the last checkpoint nothing can tell.
        let mut l = log(25, 10);
        l.entries[22].record = "{\"n\":0}".into();
        l.rehash_from(22);
        assert!(l.verify().is_ok());
    }

    #[test]
    fn checkpoints_must_be_genuine_complete_and_not_beyond_the_end() {
        let mut l = log(30, 10);
        l.checkpoints[1].hash = l.entries[19].prev_hash.clone();
        assert_eq!(l.verify(), Err(Problem::BadSignature { seq: 20 }));

        let mut l = log(30, 10);
        l.checkpoints.remove(1);
        assert_eq!(
            l.verify(),
            Err(Problem::CheckpointMissing {
                seq: 30,
                claimed: 20,
                found: 10
            })
        );

        let mut l = log(30, 10);
        l.entries.truncate(25);
        assert_eq!(l.verify(), Err(Problem::Truncated { seq: 30, head: 25 }));
        assert_eq!(l.verify().unwrap_err().seq(), 26);

        // A checkpoint forged by another key proves nothing.
        let mut l = log(30, 10);
        let other = SigningKey::generate().unwrap();
        l.checkpoints[0] = Checkpoint::sign(&other, 10, &l.entries[9].hash, 1, 0).unwrap();
        assert_eq!(l.verify(), Err(Problem::BadSignature { seq: 10 }));
    }
}
