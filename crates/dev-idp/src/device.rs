//! Device authorizations (RFC 8628): issuing device/user code pairs, the user's decision, and
//! the polling rules of §3.5 (`authorization_pending`, `slow_down`, `access_denied`,
//! `expired_token`, single use).
//!
//! Pure state: the caller passes `now` and the RNG.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::error::{DevIssuerError, OAuthError};
use super::random::{self, SecretRng};
use super::scope::Scopes;

/// At most this many device authorizations are remembered (pending, decided or recently
/// expired); beyond it new requests are refused until old ones expire.
pub const MAX_DEVICE_AUTHORIZATIONS: usize = 10_000;
/// How much a `slow_down` adds to a device code's required interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Letters of a user code: no vowels (no words), no look-alikes such as 0/O and 1/I
/// (RFC 8628 §6.1).
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code (20⁸ ≈ 2.6·10¹⁰ codes).
pub const USER_CODE_LEN: usize = 8;
/// An expired device code is remembered this much longer, so that a late poll is told
/// `expired_token` rather than the less helpful `invalid_grant`.
const EXPIRED_RETENTION: Duration = Duration::from_secs(600);

/// The canonical form of a user code as typed by a person: upper case, without `-` or
/// spaces. `None` when it cannot be a user code of this issuer.
pub fn normalize_user_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid =
        code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// `BCDFGHJK` → `BCDF-GHJK`, the form shown to people.
pub fn display_user_code(normalized: &str) -> String {
    let (a, b) = normalized.split_at(normalized.len() / 2);
    format!("{a}-{b}")
}

fn generate_user_code(rng: &mut impl SecretRng) -> String {
    (0..USER_CODE_LEN)
        .map(|_| char::from(USER_CODE_ALPHABET[random::index_below(rng, USER_CODE_ALPHABET.len())]))
        .collect()
}

/// What `/device_authorization` returns, before it is turned into JSON.
#[derive(Debug, Clone)]
pub struct IssuedCodes {
    pub device_code: String,
    /// Display form, `XXXX-XXXX`.
    pub user_code: String,
    pub expires_in: Duration,
    pub interval: Duration,
}

/// A successful poll: who approved, for which scopes, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub username: String,
    pub scopes: Scopes,
    pub auth_time: SystemTime,
}

/// Why a poll did not yield tokens (RFC 8628 §3.5 and RFC 6749 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollError {
    AuthorizationPending,
    SlowDown { interval: Duration },
    AccessDenied,
    ExpiredToken,
    UnknownCode,
    AlreadyRedeemed,
    WrongClient,
}

impl From<PollError> for OAuthError {
    fn from(e: PollError) -> Self {
        let (code, description) = match e {
            PollError::AuthorizationPending => (
                "authorization_pending",
                "the user has not approved or denied this login yet; keep polling".to_owned(),
            ),
            PollError::SlowDown { interval } => (
                "slow_down",
                format!(
                    "polled too fast; wait at least {} s between polls",
                    interval.as_secs()
                ),
            ),
            PollError::AccessDenied => ("access_denied", "the user denied this login".to_owned()),
            PollError::ExpiredToken => (
                "expired_token",
                "the device code expired before it was approved; start the login again".to_owned(),
            ),
            PollError::UnknownCode => ("invalid_grant", "unknown device code".to_owned()),
            PollError::AlreadyRedeemed => (
                "invalid_grant",
                "this device code was already exchanged for tokens; start the login again"
                    .to_owned(),
            ),
            PollError::WrongClient => (
                "invalid_grant",
                "this device code was issued to another client".to_owned(),
            ),
        };
        OAuthError::bad_request(code, description)
    }
}

/// What the approval page needs to know about a user code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCodeState {
    Pending { scopes: Scopes },
    Expired,
    Decided,
    Unknown,
}

#[derive(Debug)]
enum Status {
    Pending,
    Approved { username: String, at: SystemTime },
    Denied,
    Redeemed,
}

#[derive(Debug)]
struct Entry {
    user_code: String,
    client_id: String,
    scopes: Scopes,
    expires_at: SystemTime,
    interval: Duration,
    last_poll: Option<SystemTime>,
    status: Status,
}

impl Entry {
    fn expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }
}

/// All device authorizations, by device code and by user code.
#[derive(Debug)]
pub struct DeviceAuthorizations {
    by_device_code: HashMap<String, Entry>,
    device_code_of: HashMap<String, String>,
    capacity: usize,
}

impl Default for DeviceAuthorizations {
    fn default() -> Self {
        Self::with_capacity(MAX_DEVICE_AUTHORIZATIONS)
    }
}

/// The parameters of one device authorization request.
pub struct Request<'a> {
    pub client_id: &'a str,
    pub scopes: Scopes,
    pub ttl: Duration,
    pub interval: Duration,
    /// Approve at once for this user (the `auto_approve` setting).
    pub auto_approve: Option<&'a str>,
}

impl DeviceAuthorizations {
    /// Remembers at most `capacity` device authorizations.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            by_device_code: HashMap::new(),
            device_code_of: HashMap::new(),
            capacity,
        }
    }

    /// Starts a device authorization.
    pub fn issue(
        &mut self,
        request: Request<'_>,
        rng: &mut impl SecretRng,
        now: SystemTime,
    ) -> Result<IssuedCodes, DevIssuerError> {
        self.make_room(now)?;
        let device_code = random::token(rng);
        let user_code = loop {
            let code = generate_user_code(rng);
            if !self.device_code_of.contains_key(&code) {
                break code;
            }
        };
        let status = match request.auto_approve {
            Some(username) => Status::Approved {
                username: username.to_owned(),
                at: now,
            },
            None => Status::Pending,
        };
        self.device_code_of
            .insert(user_code.clone(), device_code.clone());
        self.by_device_code.insert(
            device_code.clone(),
            Entry {
                user_code: user_code.clone(),
                client_id: request.client_id.to_owned(),
                scopes: request.scopes,
                expires_at: now + request.ttl,
                interval: request.interval,
                last_poll: None,
                status,
            },
        );
        Ok(IssuedCodes {
            device_code,
            user_code: display_user_code(&user_code),
            expires_in: request.ttl,
            interval: request.interval,
        })
    }

    /// One poll of the token endpoint with this device code (RFC 8628 §3.4, §3.5).
    ///
    /// Every poll counts for the interval, including refused ones. A poll sooner than the
    /// code's interval after the previous one is answered `slow_down` and adds
    /// [`SLOW_DOWN_STEP`] to the interval for the rest of the code's life. Approved codes are
    /// redeemed on the first poll, even a fast one: `slow_down` is a kind of "pending".
    pub fn poll(
        &mut self,
        device_code: &str,
        client_id: &str,
        now: SystemTime,
    ) -> Result<Approval, PollError> {
        let entry = self
            .by_device_code
            .get_mut(device_code)
            .ok_or(PollError::UnknownCode)?;
        if entry.client_id != client_id {
            return Err(PollError::WrongClient);
        }
        if matches!(entry.status, Status::Redeemed) {
            return Err(PollError::AlreadyRedeemed);
        }
        if entry.expired(now) {
            return Err(PollError::ExpiredToken);
        }
        let previous = entry.last_poll.replace(now);
        match &entry.status {
            Status::Denied => Err(PollError::AccessDenied),
            Status::Approved { username, at } => {
                let approval = Approval {
                    username: username.clone(),
                    scopes: entry.scopes.clone(),
                    auth_time: *at,
                };
                entry.status = Status::Redeemed;
                Ok(approval)
            }
            Status::Pending => {
                let too_soon = previous.is_some_and(|p| now < p + entry.interval);
                if too_soon {
                    entry.interval += SLOW_DOWN_STEP;
                    Err(PollError::SlowDown {
                        interval: entry.interval,
                    })
                } else {
                    Err(PollError::AuthorizationPending)
                }
            }
            Status::Redeemed => Err(PollError::AlreadyRedeemed),
        }
    }

    /// Records the user's decision: approve as `username`, or deny (`None`).
    pub fn decide(
        &mut self,
        user_code: &str,
        username: Option<&str>,
        now: SystemTime,
    ) -> Result<(), DevIssuerError> {
        let entry = self
            .entry_by_user_code(user_code)
            .ok_or_else(|| DevIssuerError::UnknownUserCode(user_code.to_owned()))?;
        if entry.expired(now) {
            return Err(DevIssuerError::UserCodeExpired(user_code.to_owned()));
        }
        if !matches!(entry.status, Status::Pending) {
            return Err(DevIssuerError::AlreadyDecided(user_code.to_owned()));
        }
        entry.status = match username {
            Some(name) => Status::Approved {
                username: name.to_owned(),
                at: now,
            },
            None => Status::Denied,
        };
        Ok(())
    }

    /// The state of a user code, for the approval page.
    pub fn user_code_state(&mut self, user_code: &str, now: SystemTime) -> UserCodeState {
        match self.entry_by_user_code(user_code) {
            None => UserCodeState::Unknown,
            Some(e) if e.expired(now) => UserCodeState::Expired,
            Some(Entry {
                status: Status::Pending,
                scopes,
                ..
            }) => UserCodeState::Pending {
                scopes: scopes.clone(),
            },
            Some(_) => UserCodeState::Decided,
        }
    }

    pub fn len(&self) -> usize {
        self.by_device_code.len()
    }

    fn entry_by_user_code(&mut self, user_code: &str) -> Option<&mut Entry> {
        let code = normalize_user_code(user_code)?;
        let device_code = self.device_code_of.get(&code)?;
        self.by_device_code.get_mut(device_code)
    }

    /// Lazy clean-up, only when full (so issuing is O(1) otherwise): forgets codes expired
    /// for longer than [`EXPIRED_RETENTION`]; when still full, every expired code; when still
    /// full, refuses.
    fn make_room(&mut self, now: SystemTime) -> Result<(), DevIssuerError> {
        if self.len() >= self.capacity {
            self.retain(|e| now < e.expires_at + EXPIRED_RETENTION);
        }
        if self.len() >= self.capacity {
            self.retain(|e| !e.expired(now));
        }
        if self.len() >= self.capacity {
            return Err(DevIssuerError::TooManyPending);
        }
        Ok(())
    }

    fn retain(&mut self, keep: impl Fn(&Entry) -> bool) {
        let device_code_of = &mut self.device_code_of;
        self.by_device_code.retain(|_, entry| {
            let kept = keep(entry);
            if !kept {
                device_code_of.remove(&entry.user_code);
            }
            kept
        });
    }
}

#[cfg(test)]
mod tests;
