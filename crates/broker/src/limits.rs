//! Request rate limits: token buckets keyed by client address (checked in the
//! HTTP layer, before any work) and by identity (checked in the service, once
//! the token naming the identity has been verified).
//!
//! [`Buckets`] is pure: the caller passes the time as a [`Duration`] on a
//! monotonic clock, so the tests drive it without sleeping. [`RateLimits`]
//! is the broker's shared instance and the only place that reads the clock.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::config::LimitsConfig;

/// How many distinct keys one table remembers. Buckets that have refilled
/// are forgotten first; a table still full after that refuses new keys
/// (fail closed) rather than growing without bound.
pub const MAX_TRACKED_KEYS: usize = 100_000;

/// A sustained rate and the burst allowed on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    /// 0 per minute switches the limit off.
    pub fn is_unlimited(&self) -> bool {
        self.per_minute == 0
    }

    fn capacity(&self) -> f64 {
        f64::from(self.burst.max(1))
    }

    fn per_sec(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }
}

/// Refused: try again after this many whole seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Duration,
}

/// Token buckets for one kind of key, all with the same rate.
#[derive(Debug)]
pub struct Buckets<K> {
    rate: Rate,
    max_keys: usize,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub fn new(rate: Rate, max_keys: usize) -> Self {
        Buckets {
            rate,
            max_keys,
            buckets: HashMap::new(),
        }
    }

    /// Take one token for `key` at time `now`, or say when one will be there.
    pub fn take(&mut self, key: &K, now: Duration) -> Result<(), RetryAfter> {
        if self.rate.is_unlimited() {
            return Ok(());
        }
        let (capacity, per_sec) = (self.rate.capacity(), self.rate.per_sec());
        if !self.buckets.contains_key(key) && self.buckets.len() >= self.max_keys {
            self.forget_refilled(now);
            if self.buckets.len() >= self.max_keys {
                return Err(RetryAfter(1));
            }
        }
        let bucket = self.buckets.entry(key.clone()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_sub(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        // Less a nanosecond, so float noise never adds a whole second.
        let wait = (1.0 - bucket.tokens) / per_sec - 1e-9;
        Err(RetryAfter((wait.ceil() as u64).max(1)))
    }

    /// Drop the buckets that are full again: forgetting them changes nothing.
    fn forget_refilled(&mut self, now: Duration) {
        let (capacity, per_sec) = (self.rate.capacity(), self.rate.per_sec());
        self.buckets.retain(|_, b| {
            let elapsed = now.saturating_sub(b.updated).as_secs_f64();
            b.tokens + elapsed * per_sec < capacity
        });
    }

    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

/// The key a client address is limited under: the address itself for IPv4,
/// its /64 for IPv6 (one host usually owns a whole /64, so limiting single
/// IPv6 addresses would limit nothing).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The broker's rate limits on token exchange and certificate requests.
#[derive(Debug)]
pub struct RateLimits {
    start: Instant,
    by_address: Mutex<Buckets<IpAddr>>,
    by_identity: Mutex<Buckets<String>>,
}

impl RateLimits {
    pub fn new(config: &LimitsConfig) -> Self {
        let per_address = Rate {
            per_minute: config.per_address_per_minute,
            burst: config.per_address_burst,
        };
        let per_identity = Rate {
            per_minute: config.per_identity_per_minute,
            burst: config.per_identity_burst,
        };
        RateLimits {
            start: Instant::now(),
            by_address: Mutex::new(Buckets::new(per_address, MAX_TRACKED_KEYS)),
            by_identity: Mutex::new(Buckets::new(per_identity, MAX_TRACKED_KEYS)),
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn check_address(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        let now = self.now();
        self.by_address
            .lock()
            .expect("rate limit lock")
            .take(&address_key(ip), now)
    }

    /// `identity` is the broker's stable subject (issuer and subject).
    pub fn check_identity(&self, identity: &str) -> Result<(), RetryAfter> {
        let now = self.now();
        self.by_identity
            .lock()
            .expect("rate limit lock")
            .take(&identity.to_owned(), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_minute: 60,
        burst: 3,
    };

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_burst_passes_then_the_rate_applies() {
        let mut b = Buckets::new(RATE, 10);
        for _ in 0..3 {
            assert_eq!(b.take(&"a", secs(0.0)), Ok(()));
        }
        assert_eq!(b.take(&"a", secs(0.0)), Err(RetryAfter(1)));
        assert_eq!(b.take(&"a", secs(0.5)), Err(RetryAfter(1)));
        assert_eq!(b.take(&"a", secs(1.0)), Ok(()));
        assert_eq!(b.take(&"a", secs(1.0)), Err(RetryAfter(1)));
        // Other keys have their own bucket.
        assert_eq!(b.take(&"b", secs(1.0)), Ok(()));
    }

    #[test]
    fn an_honest_client_at_the_rate_is_never_limited() {
        let mut b = Buckets::new(RATE, 10);
        for i in 0..1000 {
            assert_eq!(b.take(&"a", secs(f64::from(i))), Ok(()), "request {i}");
        }
    }

    #[test]
    fn retry_after_counts_the_seconds_to_the_next_token() {
        let slow = Rate {
            per_minute: 2,
            burst: 1,
        };
        let mut b = Buckets::new(slow, 10);
        assert_eq!(b.take(&"a", secs(0.0)), Ok(()));
        assert_eq!(b.take(&"a", secs(0.0)), Err(RetryAfter(30)));
        assert_eq!(b.take(&"a", secs(20.0)), Err(RetryAfter(10)));
        assert_eq!(b.take(&"a", secs(30.0)), Ok(()));
    }

    #[test]
    fn zero_per_minute_is_unlimited() {
        let mut b = Buckets::new(
            Rate {
                per_minute: 0,
                burst: 0,
            },
            1,
        );
        for i in 0..100 {
            assert_eq!(b.take(&i, secs(0.0)), Ok(()));
        }
        assert_eq!(b.tracked(), 0);
    }

    #[test]
    fn the_table_is_bounded_and_forgets_refilled_buckets() {
        let mut b = Buckets::new(RATE, 2);
        assert_eq!(b.take(&1, secs(0.0)), Ok(()));
        assert_eq!(b.take(&2, secs(0.0)), Ok(()));
        // Full, and neither bucket has refilled: a new key is refused.
        assert_eq!(b.take(&3, secs(0.5)), Err(RetryAfter(1)));
        assert_eq!(b.tracked(), 2);
        // One second later both have refilled and are forgotten.
        assert_eq!(b.take(&3, secs(1.0)), Ok(()));
        assert_eq!(b.tracked(), 1);
    }

    #[test]
    fn ipv6_addresses_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
