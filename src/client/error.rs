//! What can go wrong on the client side, as data. The broker's error code and the identity
//! provider's OAuth error code are kept as they came, so callers decide on codes, never on
//! message text. Only the command layer (`crate::cli::failure`) turns an [`Error`] into an
//! exit status, a message and a hint.

use zt_core::posture::Failing;
use zt_core::proto::{ErrorBody, ErrorCode};
use zt_core::text::Printable;
use zt_os::files::FileError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The broker answered with an error.
    #[error(transparent)]
    Broker(#[from] BrokerRefusal),
    /// The identity provider refused a grant or request (an RFC 6749 §5.2 error).
    #[error(transparent)]
    Idp(#[from] IdpRefusal),
    /// The broker or the identity provider could not be reached.
    #[error("{peer} is unreachable: {detail}")]
    Unreachable {
        peer: Peer,
        detail: String,
        /// The peer's TLS certificate did not verify.
        untrusted_certificate: bool,
    },
    /// A peer answered outside the protocol: not JSON, the wrong shape, a certificate for
    /// another key.
    #[error("{0}")]
    Protocol(String),
    /// Something the user or an administrator can fix: a bad URL, a damaged file, a broker
    /// this zt cannot work with.
    #[error("{message}")]
    Config {
        message: String,
        hint: Option<String>,
    },
    /// A profile name that could escape zt's directories.
    #[error("profile name {0:?} must be 1-64 letters, digits, '-' or '_'")]
    InvalidProfile(String),
    /// No session to use or renew.
    #[error("{0}")]
    NotLoggedIn(String),
    /// The identity provider's ID token does not verify.
    #[error("the ID token from {issuer} does not verify: {reason}")]
    IdTokenRejected { issuer: String, reason: String },
    /// The certificate does not grant what the command needs.
    #[error(
        "{what} is not allowed: your certificate (policy rule {rule:?}) does not grant {}",
        missing.join(", ")
    )]
    NotGranted {
        what: &'static str,
        rule: String,
        missing: Vec<&'static str>,
    },
    /// The device no longer meets the posture requirements its certificate was issued
    /// under (checked locally before a connection); the certificate was removed.
    #[error("this device no longer meets the posture requirements of rule {rule:?}: {}",
        failing.iter().map(|f| Printable(&f.requirement).to_string()).collect::<Vec<_>>().join(", "))]
    PostureLost { rule: String, failing: Vec<Failing> },
    /// zt's own files.
    #[error(transparent)]
    File(#[from] FileError),
    /// The OS keyring failed after it was chosen.
    #[error("keyring {operation} failed: {reason}")]
    Keyring {
        operation: &'static str,
        reason: String,
    },
    /// The environment failed in a way zt cannot recover from (no RNG, no runtime).
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
            hint: None,
        }
    }

    pub fn config_with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// A failed request to `peer`: `e` and its sources, and whether a TLS certificate did not
    /// verify (found in the source chain by type, not by reading the message).
    pub fn unreachable(peer: Peer, e: &(dyn std::error::Error + 'static)) -> Self {
        Error::Unreachable {
            peer,
            detail: super::http::error_chain(e),
            untrusted_certificate: super::http::is_untrusted_certificate(e),
        }
    }

    /// The broker's error code, if this is a broker refusal.
    pub fn broker_code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker(r) => r.code,
            _ => None,
        }
    }
}

/// Who zt was talking to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Broker,
    IdentityProvider,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Peer::Broker => "the broker",
            Peer::IdentityProvider => "the identity provider",
        })
    }
}

/// An error answer from the broker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct BrokerRefusal {
    /// The HTTP status.
    pub status: u16,
    /// The broker's error code, when this zt knows it.
    pub code: Option<ErrorCode>,
    /// The code as sent (escaped), or `HTTP <status>` when the body was not the broker's.
    pub error: String,
    /// The broker's `error_description` (escaped), if any.
    pub description: Option<String>,
    /// With `posture_not_met`: the requirements the device failed (escaped).
    pub failing: Vec<Failing>,
}

impl BrokerRefusal {
    /// From a non-success answer: its status and body.
    pub fn from_answer(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(body) => BrokerRefusal {
                status,
                code: body.code(),
                error: Printable(&body.error).to_string(),
                description: Some(Printable(&body.error_description).to_string()),
                failing: body
                    .failing
                    .iter()
                    .map(|f| Failing {
                        requirement: Printable(&f.requirement).to_string(),
                        evidence: Printable(&f.evidence).to_string(),
                        fix: f.fix.as_deref().map(|fix| Printable(fix).to_string()),
                        check: f.check,
                    })
                    .collect(),
            },
            Err(_) => BrokerRefusal {
                status,
                code: None,
                error: format!("HTTP {status}"),
                description: None,
                failing: Vec::new(),
            },
        }
    }

    /// `description (code)`, or `HTTP <status>`.
    pub fn describe(&self) -> String {
        match &self.description {
            Some(d) => format!("{d} ({})", self.error),
            None => self.error.clone(),
        }
    }
}

/// An error answer from the identity provider (RFC 6749 §5.2, RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed at the identity provider: {code}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct IdpRefusal {
    pub operation: IdpOperation,
    pub code: OAuthError,
    /// The IdP's `error_description` (escaped), if any.
    pub description: Option<String>,
}

/// What zt asked the identity provider for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdpOperation {
    DeviceAuthorization,
    DeviceToken,
    Refresh,
    Revocation,
    /// A CI job's OAuth client credentials grant (`zt login --ci`).
    ClientCredentials,
}

impl std::fmt::Display for IdpOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IdpOperation::DeviceAuthorization => "device authorization",
            IdpOperation::DeviceToken => "device token",
            IdpOperation::Refresh => "refresh",
            IdpOperation::Revocation => "revocation",
            IdpOperation::ClientCredentials => "client credentials grant",
        })
    }
}

/// The OAuth error codes zt acts on; any other is kept as sent (escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// The user denied the sign-in.
    AccessDenied,
    /// The device code expired before the sign-in was approved.
    ExpiredToken,
    /// The grant (device code, refresh token) is invalid, used or revoked.
    InvalidGrant,
    Other(String),
}

impl OAuthError {
    pub fn parse(code: &str) -> Self {
        match code {
            "access_denied" => OAuthError::AccessDenied,
            "expired_token" => OAuthError::ExpiredToken,
            "invalid_grant" => OAuthError::InvalidGrant,
            other => OAuthError::Other(Printable(other).to_string()),
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OAuthError::AccessDenied => "access_denied",
            OAuthError::ExpiredToken => "expired_token",
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::Other(code) => code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_refusal_keeps_its_code_as_data() {
        let body = br#"{"error":"id_token_reused","error_description":"used\nonce"}"#;
        let refusal = BrokerRefusal::from_answer(400, body);
        assert_eq!(refusal.code, Some(ErrorCode::IdTokenReused));
        assert_eq!(refusal.describe(), "used\\nonce (id_token_reused)");

        let html = BrokerRefusal::from_answer(404, b"<html>not found</html>");
        assert_eq!(html.code, None);
        assert_eq!(html.describe(), "HTTP 404");

        let newer =
            BrokerRefusal::from_answer(400, br#"{"error":"x_new","error_description":"d"}"#);
        assert_eq!((newer.code, newer.error.as_str()), (None, "x_new"));
    }

    #[test]
    fn oauth_codes_zt_acts_on_are_typed() {
        assert_eq!(OAuthError::parse("access_denied"), OAuthError::AccessDenied);
        assert_eq!(OAuthError::parse("expired_token"), OAuthError::ExpiredToken);
        assert_eq!(OAuthError::parse("invalid_grant"), OAuthError::InvalidGrant);
        assert_eq!(
            OAuthError::parse("weird\u{1b}"),
            OAuthError::Other("weird\\u{1b}".into())
        );
    }
}
