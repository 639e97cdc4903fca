//! Broker nonces for DPoP proofs (RFC 9449 §8): short-lived and stateless. A nonce is the
//! time it was made, random bytes and an HMAC over both under a key derived from the
//! broker's CA key, so every replica that holds the keys can check any replica's nonces
//! without shared state. Single use is the caller's ledger's business; this module checks
//! that the broker made the nonce and that it is fresh.

use aws_lc_rs::{digest, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a nonce is good for after the broker made it.
pub const NONCE_TTL_SECS: u64 = 120;

const VERSION: u8 = 1;
const RANDOM_LEN: usize = 12;
const TAG_LEN: usize = 16;
const LEN: usize = 1 + 8 + RANDOM_LEN + TAG_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    #[error("the DPoP nonce is not one this broker made")]
    Forged,
    #[error("the DPoP nonce has expired; use the fresh one in the DPoP-Nonce header")]
    Expired,
}

pub struct NonceKey(hmac::Key);

impl NonceKey {
    /// A key derived from `secret` (the broker's private CA key bytes) for this purpose
    /// only.
    pub fn derive(secret: &[u8]) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"zt dpop-nonce key v1\0");
        ctx.update(secret);
        NonceKey(hmac::Key::new(hmac::HMAC_SHA256, ctx.finish().as_ref()))
    }

    /// A fresh nonce made at `now`.
    pub fn issue(&self, now: u64) -> String {
        let mut bytes = [0u8; LEN];
        bytes[0] = VERSION;
        bytes[1..9].copy_from_slice(&now.to_be_bytes());
        aws_lc_rs::rand::fill(&mut bytes[9..9 + RANDOM_LEN]).expect("the system RNG failed");
        let tag = hmac::sign(&self.0, &bytes[..9 + RANDOM_LEN]);
        bytes[9 + RANDOM_LEN..].copy_from_slice(&tag.as_ref()[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Check `nonce` at `now`; on success, the time after which it is no longer accepted
    /// (how long a single-use ledger must remember it).
    pub fn check(&self, nonce: &str, now: u64) -> Result<u64, NonceError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| NonceError::Forged)?;
        if bytes.len() != LEN || bytes[0] != VERSION {
            return Err(NonceError::Forged);
        }
        let expected = hmac::sign(&self.0, &bytes[..9 + RANDOM_LEN]);
        // Constant-time comparison of the truncated tag.
        if !constant_time_eq(&expected.as_ref()[..TAG_LEN], &bytes[9 + RANDOM_LEN..]) {
            return Err(NonceError::Forged);
        }
        let made = u64::from_be_bytes(bytes[1..9].try_into().expect("8 bytes"));
        let expires = made.saturating_add(NONCE_TTL_SECS);
        // A nonce from the future (clock skew between replicas) is fine within the window.
        if now > expires || made > now.saturating_add(NONCE_TTL_SECS) {
            return Err(NonceError::Expired);
        }
        Ok(expires)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_checks_until_it_expires_and_only_under_its_key() {
        let key = NonceKey::derive(b"ca key");
        let nonce = key.issue(1000);
        assert_eq!(key.check(&nonce, 1000), Ok(1000 + NONCE_TTL_SECS));
        assert!(key.check(&nonce, 1000 + NONCE_TTL_SECS).is_ok());
        assert_eq!(
            key.check(&nonce, 1001 + NONCE_TTL_SECS),
            Err(NonceError::Expired)
        );
        let other = NonceKey::derive(b"another ca key");
        assert_eq!(other.check(&nonce, 1000), Err(NonceError::Forged));
        assert_ne!(key.issue(1000), nonce, "nonces are random");
    }

    #[test]
    fn tampered_or_malformed_nonces_are_forged() {
        let key = NonceKey::derive(b"ca key");
        let nonce = key.issue(1000);
        let mut bytes = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        // Move the time forward to stretch its life: the tag no longer matches.
        bytes[8] ^= 0x40;
        let stretched = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(key.check(&stretched, 1000), Err(NonceError::Forged));
        for bad in ["", "not base64 !", "AAAA", &nonce[..nonce.len() - 2]] {
            assert_eq!(key.check(bad, 1000), Err(NonceError::Forged), "{bad}");
        }
    }
}
