//! Configuration of the development issuer and its validation.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use super::error::DevIssuerError;
use super::users::{self, DevUser};

/// How the development issuer is set up. Start from [`DevIssuerConfig::new`], which fills in
/// the defaults, and change what you need.
#[derive(Clone, Debug)]
pub struct DevIssuerConfig {
    /// The issuer URL, e.g. `http://127.0.0.1:8080/dev-idp`. Its host must be a loopback
    /// address or `localhost`. The `iss` claim is `issuer.as_str().trim_end_matches('/')`.
    pub issuer: url::Url,
    /// The one public client this issuer knows, e.g. `"zt"`.
    pub client_id: String,
    /// The fake users one can log in as (see [`default_users`](super::default_users)).
    pub users: Vec<DevUser>,
    /// Username: every device code is approved for this user as soon as it is issued.
    pub auto_approve: Option<String>,
    /// Lifetime of a device code / user code pair. Default 600 s.
    pub device_code_ttl: Duration,
    /// Minimum poll interval advertised to clients, in seconds (≥ 1). Default 5.
    pub interval_secs: u64,
    /// Lifetime of ID tokens (and of the opaque access tokens). Default 300 s.
    pub id_token_ttl: Duration,
}

/// Default lifetime of a device code.
pub const DEFAULT_DEVICE_CODE_TTL: Duration = Duration::from_secs(600);
/// Default poll interval, the one RFC 8628 §3.2 prescribes when the server gives none.
pub const DEFAULT_INTERVAL_SECS: u64 = 5;
/// Default ID token lifetime.
pub const DEFAULT_ID_TOKEN_TTL: Duration = Duration::from_secs(300);

impl DevIssuerConfig {
    /// A configuration with the [default users](super::default_users), no auto-approval and
    /// the default lifetimes and interval.
    pub fn new(issuer: url::Url, client_id: impl Into<String>) -> Self {
        Self {
            issuer,
            client_id: client_id.into(),
            users: users::default_users(),
            auto_approve: None,
            device_code_ttl: DEFAULT_DEVICE_CODE_TTL,
            interval_secs: DEFAULT_INTERVAL_SECS,
            id_token_ttl: DEFAULT_ID_TOKEN_TTL,
        }
    }

    /// The `iss` string: the issuer URL without a trailing slash.
    pub(super) fn issuer_string(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_owned()
    }

    pub(super) fn validate(&self) -> Result<(), DevIssuerError> {
        self.validate_issuer()?;
        if self.client_id.is_empty() {
            return Err(DevIssuerError::EmptyClientId);
        }
        if self.users.is_empty() {
            return Err(DevIssuerError::NoUsers);
        }
        let mut usernames = HashSet::new();
        let mut subjects = HashSet::new();
        for user in &self.users {
            if user.username.is_empty() || !usernames.insert(user.username.as_str()) {
                return Err(DevIssuerError::DuplicateUser(user.username.clone()));
            }
            if user.subject.is_empty() || !subjects.insert(user.subject.as_str()) {
                return Err(DevIssuerError::DuplicateSubject(user.subject.clone()));
            }
        }
        if let Some(name) = &self.auto_approve {
            if users::find(&self.users, name).is_none() {
                return Err(DevIssuerError::UnknownUser(name.clone()));
            }
        }
        if self.interval_secs == 0 {
            return Err(DevIssuerError::ZeroInterval);
        }
        for (field, ttl) in [
            ("device_code_ttl", self.device_code_ttl),
            ("id_token_ttl", self.id_token_ttl),
        ] {
            if ttl.as_secs() == 0 {
                return Err(DevIssuerError::TtlTooShort(field));
            }
        }
        Ok(())
    }

    fn validate_issuer(&self) -> Result<(), DevIssuerError> {
        let url = &self.issuer;
        let bad = |reason: &'static str| DevIssuerError::BadIssuer {
            issuer: url.to_string(),
            reason,
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "an issuer URL has no query or fragment (OpenID Discovery §3)",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("an issuer URL carries no credentials"));
        }
        let loopback = match url.host() {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        };
        if !loopback {
            return Err(bad(
                "the development issuer only runs on loopback (127.0.0.1, ::1 or localhost)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(issuer: &str) -> DevIssuerConfig {
        DevIssuerConfig::new(issuer.parse().unwrap(), "zt")
    }

    #[test]
    fn loopback_issuers_are_accepted() {
        for issuer in [
            "http://127.0.0.1:8080/dev-idp",
            "http://[::1]:1/",
            "https://localhost/x/",
        ] {
            config(issuer).validate().unwrap();
        }
    }

    #[test]
    fn non_loopback_issuers_are_refused() {
        for issuer in [
            "http://0.0.0.0:8080/dev-idp",
            "http://example.com/",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
            "http://127.0.0.1/?a=b",
        ] {
            assert!(
                matches!(
                    config(issuer).validate(),
                    Err(DevIssuerError::BadIssuer { .. })
                ),
                "{issuer}"
            );
        }
    }

    #[test]
    fn iss_has_no_trailing_slash() {
        assert_eq!(
            config("http://127.0.0.1:8080/dev-idp/").issuer_string(),
            "http://127.0.0.1:8080/dev-idp"
        );
        assert_eq!(
            config("http://127.0.0.1:8080").issuer_string(),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        let mut c = config("http://127.0.0.1:1/i");
        c.auto_approve = Some("mallory".into());
        assert!(matches!(c.validate(), Err(DevIssuerError::UnknownUser(_))));

        let mut c = config("http://127.0.0.1:1/i");
        c.interval_secs = 0;
        assert!(matches!(c.validate(), Err(DevIssuerError::ZeroInterval)));

        let mut c = config("http://127.0.0.1:1/i");
        let alice = c.users[0].clone();
        c.users.push(alice);
        assert!(matches!(
            c.validate(),
            Err(DevIssuerError::DuplicateUser(_))
        ));

        let c = DevIssuerConfig::new("http://127.0.0.1:1/i".parse().unwrap(), "");
        assert!(matches!(c.validate(), Err(DevIssuerError::EmptyClientId)));
    }
}
