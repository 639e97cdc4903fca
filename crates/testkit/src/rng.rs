//! A seeded pseudo-random generator for tests that pick random cases:
//! the seed is printed, and `ZT_TEST_SEED=N` replays a run exactly.

use std::io::Write as _;

/// SplitMix64: tiny, fast and good enough to pick test cases.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `ZT_TEST_SEED` or the clock; prints the seed on stderr.
    pub fn seeded(test: &str) -> Rng {
        let seed = std::env::var("ZT_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        let _ = writeln!(
            std::io::stderr(),
            "{test}: seed {seed} (replay with ZT_TEST_SEED={seed})"
        );
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `range` (non-empty).
    pub fn in_range(&mut self, range: std::ops::RangeInclusive<u64>) -> u64 {
        range.start() + self.below(range.end() - range.start() + 1)
    }
}
