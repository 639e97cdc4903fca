//! Tokens: ID token claims, the token response, and refresh grants with rotation and reuse
//! detection (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
//!
//! A *grant* is what one approved login with `offline_access` leaves behind: who, which
//! scopes, when they authenticated. Each refresh rotates the grant's refresh token; presenting
//! a retired one means it leaked (or a client raced itself), so the whole grant is revoked.
//!
//! Pure state: the caller passes `now` and the RNG.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::device::Approval;
use super::error::OAuthError;
use super::random::{self, SecretRng};
use super::scope::Scopes;
use super::users::DevUser;

/// At most this many refresh grants are kept; when full, expired ones are dropped, then the
/// one closest to expiry.
pub const MAX_GRANTS: usize = 10_000;
/// A refresh token is valid this long after it was issued (sliding: each refresh renews it).
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(8 * 3600);
/// Retired refresh tokens remembered per grant for reuse detection; older ones are simply
/// unknown (`invalid_grant` without revoking the grant).
const RETIRED_PER_GRANT: usize = 32;

/// Seconds since the Unix epoch, as JWT numeric dates are (0 for times before 1970).
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The claims of an ID token (OpenID Connect Core §2, §5.1), released according to scope:
/// `email` → email, email_verified; `profile` → name, preferred_username; `groups` → groups.
#[derive(Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    /// A single audience, as a string: the one client.
    pub aud: &'a str,
    pub azp: &'a str,
    pub exp: u64,
    pub iat: u64,
    pub auth_time: u64,
    pub jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<&'a [String]>,
}

/// Who an ID token is about and what it may say, independent of how it was obtained.
pub struct Subject<'a> {
    pub user: &'a DevUser,
    pub scopes: &'a Scopes,
    pub auth_time: SystemTime,
}

impl<'a> IdTokenClaims<'a> {
    pub fn new(
        issuer: &'a str,
        client_id: &'a str,
        subject: &Subject<'a>,
        now: SystemTime,
        ttl: Duration,
        jti: String,
    ) -> Self {
        let user = subject.user;
        let email = subject.scopes.contains("email");
        let profile = subject.scopes.contains("profile");
        Self {
            iss: issuer,
            sub: &user.subject,
            aud: client_id,
            azp: client_id,
            exp: unix_seconds(now + ttl),
            iat: unix_seconds(now),
            auth_time: unix_seconds(subject.auth_time),
            jti,
            email: email.then_some(user.email.as_str()),
            email_verified: email.then_some(user.email_verified),
            name: profile.then_some(user.name.as_str()),
            preferred_username: profile.then_some(user.username.as_str()),
            groups: subject
                .scopes
                .contains("groups")
                .then_some(user.groups.as_slice()),
        }
    }
}

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// Why a refresh token was refused. All are `invalid_grant` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshError {
    Unknown,
    Expired,
    /// A retired token was presented; the grant has been revoked.
    Reused,
    WrongClient,
}

impl From<RefreshError> for OAuthError {
    fn from(e: RefreshError) -> Self {
        OAuthError::invalid_grant(match e {
            RefreshError::Unknown => "unknown or revoked refresh token; log in again",
            RefreshError::Expired => "the refresh token has expired; log in again",
            RefreshError::Reused => {
                "this refresh token was already used; the login has been revoked as a precaution, log in again"
            }
            RefreshError::WrongClient => "this refresh token was issued to another client",
        })
    }
}

/// The outcome of a refresh: the grant's identity and the new refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    pub username: String,
    pub scopes: Scopes,
    pub auth_time: SystemTime,
    pub refresh_token: String,
}

#[derive(Debug)]
struct Grant {
    username: String,
    client_id: String,
    scopes: Scopes,
    auth_time: SystemTime,
    current: String,
    retired: VecDeque<String>,
    expires_at: SystemTime,
}

/// All refresh grants, and which grant each (current or retired) refresh token belongs to.
#[derive(Debug)]
pub struct Grants {
    grants: HashMap<u64, Grant>,
    grant_of: HashMap<String, u64>,
    next_id: u64,
    capacity: usize,
}

impl Default for Grants {
    fn default() -> Self {
        Self::with_capacity(MAX_GRANTS)
    }
}

impl Grants {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            grants: HashMap::new(),
            grant_of: HashMap::new(),
            next_id: 0,
            capacity,
        }
    }

    /// Starts a grant for an approved device code; returns its first refresh token.
    pub fn start(
        &mut self,
        approval: &Approval,
        client_id: &str,
        rng: &mut impl SecretRng,
        now: SystemTime,
    ) -> String {
        self.make_room(now);
        let token = random::token(rng);
        let id = self.next_id;
        self.next_id += 1;
        self.grant_of.insert(token.clone(), id);
        self.grants.insert(
            id,
            Grant {
                username: approval.username.clone(),
                client_id: client_id.to_owned(),
                scopes: approval.scopes.clone(),
                auth_time: approval.auth_time,
                current: token.clone(),
                retired: VecDeque::new(),
                expires_at: now + REFRESH_TOKEN_TTL,
            },
        );
        token
    }

    /// Exchanges the grant's current refresh token for a new one. A retired token revokes the
    /// grant.
    pub fn refresh(
        &mut self,
        token: &str,
        client_id: &str,
        rng: &mut impl SecretRng,
        now: SystemTime,
    ) -> Result<Refreshed, RefreshError> {
        let id = *self.grant_of.get(token).ok_or(RefreshError::Unknown)?;
        let grant = self.grants.get_mut(&id).ok_or(RefreshError::Unknown)?;
        if grant.client_id != client_id {
            return Err(RefreshError::WrongClient);
        }
        if grant.current != token {
            self.revoke_grant(id);
            return Err(RefreshError::Reused);
        }
        if now >= grant.expires_at {
            self.revoke_grant(id);
            return Err(RefreshError::Expired);
        }
        let new_token = random::token(rng);
        let old = std::mem::replace(&mut grant.current, new_token.clone());
        grant.retired.push_back(old);
        if grant.retired.len() > RETIRED_PER_GRANT {
            if let Some(forgotten) = grant.retired.pop_front() {
                self.grant_of.remove(&forgotten);
            }
        }
        grant.expires_at = now + REFRESH_TOKEN_TTL;
        let refreshed = Refreshed {
            username: grant.username.clone(),
            scopes: grant.scopes.clone(),
            auth_time: grant.auth_time,
            refresh_token: new_token.clone(),
        };
        self.grant_of.insert(new_token, id);
        Ok(refreshed)
    }

    /// RFC 7009: revokes the grant a refresh token (current or retired) belongs to. Unknown
    /// tokens, and tokens of another client, are ignored (the caller answers 200 either way).
    /// Returns whether a grant was revoked.
    pub fn revoke(&mut self, token: &str, client_id: &str) -> bool {
        let Some(&id) = self.grant_of.get(token) else {
            return false;
        };
        let owned = self
            .grants
            .get(&id)
            .is_some_and(|g| g.client_id == client_id);
        if owned {
            self.revoke_grant(id);
        }
        owned
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    fn revoke_grant(&mut self, id: u64) {
        if let Some(grant) = self.grants.remove(&id) {
            self.grant_of.remove(&grant.current);
            for token in grant.retired {
                self.grant_of.remove(&token);
            }
        }
    }

    /// Lazy clean-up, only when full: drop expired grants, then the one closest to expiry.
    fn make_room(&mut self, now: SystemTime) {
        if self.grants.len() < self.capacity {
            return;
        }
        let expired: Vec<u64> = self
            .grants
            .iter()
            .filter(|(_, g)| now >= g.expires_at)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.revoke_grant(id);
        }
        while self.grants.len() >= self.capacity {
            let oldest = self
                .grants
                .iter()
                .min_by_key(|(_, g)| g.expires_at)
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => self.revoke_grant(id),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests;
