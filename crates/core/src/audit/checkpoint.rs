//! Signed checkpoints: the broker's audit key signs (seq, chain hash) at
//! intervals, so a chain rewritten from some record onwards (hashes and
//! all) no longer matches a signature the rewriter cannot forge, and a tail
//! cut off below a checkpoint is noticed.
//!
//! Each checkpoint also names the one before it (`prev_seq`), so deleting
//! a checkpoint from the middle is noticed too. Pure: the caller supplies
//! the time and the key.

use serde::{Deserialize, Serialize};

use crate::jose::{self, EcPublicJwk, JoseError, SigningKey};

/// What the signature covers, one field a line, versioned.
const DOMAIN: &str = "zt-audit-checkpoint/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The chain position signed: the record with this seq…
    pub seq: u64,
    /// …has this chain hash.
    pub hash: String,
    pub time: u64,
    /// The seq of the previous checkpoint (0 for the first).
    pub prev_seq: u64,
    /// RFC 7638 thumbprint of the signing key.
    pub key_id: String,
    /// ES256 signature (base64url, raw `r || s`) over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// Sign the chain position `seq`/`hash`.
    pub fn sign(
        key: &SigningKey,
        seq: u64,
        hash: &str,
        time: u64,
        prev_seq: u64,
    ) -> Result<Self, JoseError> {
        let mut checkpoint = Checkpoint {
            seq,
            hash: hash.to_owned(),
            time,
            prev_seq,
            key_id: key.thumbprint(),
            signature: String::new(),
        };
        checkpoint.signature = jose::b64(key.sign(checkpoint.message().as_bytes())?);
        Ok(checkpoint)
    }

    /// The exact bytes signed.
    pub fn message(&self) -> String {
        format!(
            "{DOMAIN}\nseq={}\nhash={}\ntime={}\nprev_seq={}\nkey={}\n",
            self.seq, self.hash, self.time, self.prev_seq, self.key_id
        )
    }

    /// Whether `key` signed exactly this checkpoint.
    pub fn is_signed_by(&self, key: &EcPublicJwk) -> bool {
        if self.key_id != key.thumbprint() {
            return false;
        }
        jose::b64_decode(&self.signature)
            .is_some_and(|sig| jose::verify_es256(key, self.message().as_bytes(), &sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let key = SigningKey::generate().unwrap();
        let good = Checkpoint::sign(&key, 7, "ab", 100, 3).unwrap();
        assert!(good.is_signed_by(key.public_jwk()));
        let changes: [fn(&mut Checkpoint); 5] = [
            |c| c.seq += 1,
            |c| c.hash.push('c'),
            |c| c.time += 1,
            |c| c.prev_seq = 0,
            |c| c.signature = c.signature.replace('A', "B"),
        ];
        for change in changes {
            let mut bad = good.clone();
            change(&mut bad);
            if bad != good {
                assert!(!bad.is_signed_by(key.public_jwk()), "{bad:?}");
            }
        }
        let other = SigningKey::generate().unwrap();
        assert!(!good.is_signed_by(other.public_jwk()));
    }
}
