//! Access tokens this broker has already verified, so that a client reusing its token for
//! minutes (one per certificate, renewal, service token) costs one ES256 verification, not one
//! per request.
//!
//! What the cache may and may not change:
//! - It is keyed by the exact token text: a hit is a byte-for-byte equal token, whose
//!   signature, issuer and audience were verified by this process. A token that differs in any
//!   byte is verified from scratch.
//! - A hit is checked against the clock again ([`access_token::check_time`]), so a cached
//!   token expires exactly when an uncached one would.
//! - It holds only what the signature proved. The DPoP proof, its binding to `cnf.jkt`, replay,
//!   rate limits, policy, and revocation of the user or device (checked inside the store
//!   transaction that issues) run on every request, hit or miss.
//! - It is bounded: at [`CAPACITY`] entries, expired ones are dropped, and if that frees too
//!   little the cache starts over. Only tokens this broker signed get in, so filling it takes
//!   that many live, valid tokens.
//! - A key rotation restarts the broker, and with it the cache; the previous key is only ever
//!   used to verify, so a token it signed is cached like any other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zt_core::access_token::{self, AccessClaims, AccessTokenError};

/// Most tokens held at once: a few thousand clients' tokens, each a few hundred bytes.
pub const CAPACITY: usize = 4096;

#[derive(Default)]
pub struct TokenCache {
    verified: Mutex<HashMap<Box<str>, Arc<AccessClaims>>>,
}

impl TokenCache {
    /// The claims of `token` if it was verified before and is still valid at `now`, else
    /// `verify`'s verdict, remembered when it is a success.
    pub fn get_or_verify(
        &self,
        token: &str,
        now: u64,
        verify: impl FnOnce() -> Result<AccessClaims, AccessTokenError>,
    ) -> Result<Arc<AccessClaims>, AccessTokenError> {
        let cached = self.lock().get(token).cloned();
        if let Some(claims) = cached {
            access_token::check_time(&claims, now)?;
            return Ok(claims);
        }
        let claims = Arc::new(verify()?);
        let mut verified = self.lock();
        if verified.len() >= CAPACITY {
            verified.retain(|_, claims| now < claims.exp);
            if verified.len() >= CAPACITY {
                verified.clear();
            }
        }
        verified.insert(token.into(), Arc::clone(&claims));
        Ok(claims)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<AccessClaims>>> {
        // The map is always consistent between statements: a panic elsewhere cannot leave it
        // half-updated, so a poisoned lock is safe to keep using.
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zt_core::access_token::{AccessClaims, Confirmation};

    fn claims(jti: &str, exp: u64) -> AccessClaims {
        AccessClaims {
            iss: "https://broker".into(),
            sub: "s".into(),
            aud: "zt".into(),
            exp,
            iat: 0,
            nbf: 0,
            jti: jti.into(),
            cnf: Confirmation { jkt: "k".into() },
            idp_iss: "https://idp".into(),
            idp_sub: "alice".into(),
            email: None,
            groups: vec![],
            zt_workload: None,
        }
    }

    #[test]
    fn a_token_is_verified_once_and_then_served_until_it_expires() {
        let cache = TokenCache::default();
        let mut calls = 0;
        for now in [10, 50, 99] {
            let got = cache
                .get_or_verify("token-a", now, || {
                    calls += 1;
                    Ok(claims("a", 100))
                })
                .unwrap();
            assert_eq!(got.jti, "a");
        }
        assert_eq!(calls, 1);
        // At exp, the cached entry is refused like a fresh verification would be.
        let expired = cache.get_or_verify("token-a", 100, || panic!("served from the cache"));
        assert_eq!(expired.unwrap_err(), AccessTokenError::Expired);
    }

    #[test]
    fn only_the_exact_bytes_hit_and_failures_are_not_remembered() {
        let cache = TokenCache::default();
        cache
            .get_or_verify("token-a", 1, || Ok(claims("a", 100)))
            .unwrap();
        let mut calls = 0;
        for token in ["token-A", "token-a ", "token-", "token-b"] {
            let refused = cache.get_or_verify(token, 1, || {
                calls += 1;
                Err(AccessTokenError::BadSignature)
            });
            assert_eq!(refused.unwrap_err(), AccessTokenError::BadSignature);
        }
        assert_eq!(calls, 4);
        let again = cache.get_or_verify("token-b", 1, || Err(AccessTokenError::BadSignature));
        assert_eq!(again.unwrap_err(), AccessTokenError::BadSignature);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = TokenCache::default();
        // Half expire at 50, half live on.
        for i in 0..CAPACITY {
            let exp = if i % 2 == 0 { 50 } else { 1000 };
            cache
                .get_or_verify(&format!("t{i}"), 1, || Ok(claims("x", exp)))
                .unwrap();
        }
        assert_eq!(cache.len(), CAPACITY);
        // Full: the expired half goes, the live half stays.
        cache
            .get_or_verify("new", 60, || Ok(claims("n", 1000)))
            .unwrap();
        assert_eq!(cache.len(), CAPACITY / 2 + 1);
        // Full of live tokens: it starts over rather than grow.
        for i in 0..CAPACITY {
            cache
                .get_or_verify(&format!("live{i}"), 60, || Ok(claims("l", 1000)))
                .unwrap();
        }
        assert!(cache.len() <= CAPACITY, "{}", cache.len());
    }
}
