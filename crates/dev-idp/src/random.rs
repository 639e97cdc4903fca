//! Random secrets: device codes, tokens, form tokens.
//!
//! Functions take the RNG as a parameter so tests can use a fixed one; the handlers pass
//! [`rand_core::OsRng`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{CryptoRng, RngCore};

/// The RNG bound every caller needs: cryptographically secure.
pub trait SecretRng: RngCore + CryptoRng {}
impl<T: RngCore + CryptoRng> SecretRng for T {}

/// 32 random bytes, base64url without padding (43 characters, 256 bits).
pub fn token(rng: &mut impl SecretRng) -> String {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A uniformly chosen index below `n` (`n` ≤ 256), by rejection sampling so that no value is
/// more likely than another.
pub fn index_below(rng: &mut impl SecretRng, n: usize) -> usize {
    assert!(n > 0 && n <= 256, "index_below needs 0 < n <= 256");
    // The largest multiple of n that fits in 0..=255; bytes at or above it are re-drawn.
    let limit = 256 - (256 % n);
    loop {
        let mut byte = [0u8; 1];
        rng.fill_bytes(&mut byte);
        let value = usize::from(byte[0]);
        if value < limit {
            return value % n;
        }
    }
}

#[cfg(test)]
pub mod test_rng {
    //! A deterministic RNG for tests. It claims to be a `CryptoRng` only so it can stand in for
    //! [`OsRng`](rand_core::OsRng) in tests; it is a counter, not a secret.
    use rand_core::{CryptoRng, RngCore};

    pub struct CountingRng(pub u8);

    impl RngCore for CountingRng {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for byte in dest {
                *byte = self.0;
                self.0 = self.0.wrapping_add(1);
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl CryptoRng for CountingRng {}
}

#[cfg(test)]
mod tests {
    use super::test_rng::CountingRng;
    use super::*;

    #[test]
    fn token_is_43_url_safe_chars() {
        let t = token(&mut rand_core::OsRng);
        assert_eq!(t.len(), 43);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(t, token(&mut rand_core::OsRng));
    }

    #[test]
    fn index_below_rejects_biased_bytes() {
        // n = 20: bytes 240..=255 would bias the result and must be skipped.
        let mut rng = CountingRng(239);
        assert_eq!(index_below(&mut rng, 20), 239 % 20);
        // 240..=255 are skipped, then 0 wraps around.
        assert_eq!(index_below(&mut rng, 20), 0);
    }
}
