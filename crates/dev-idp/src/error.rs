//! Errors: [`DevIssuerError`] for the Rust API, [`OAuthError`] for the wire.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// What can go wrong when building the development issuer or deciding a user code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevIssuerError {
    /// The issuer URL is unusable.
    #[error("dev issuer URL {issuer:?} is not usable: {reason}")]
    BadIssuer {
        /// The URL as configured.
        issuer: String,
        /// What is wrong with it, and so what to change.
        reason: &'static str,
    },
    /// `client_id` is empty.
    #[error("dev issuer client_id is empty: set it to the client id zt uses (e.g. \"zt\")")]
    EmptyClientId,
    /// No users configured.
    #[error("dev issuer has no users: keep at least one (see dev_issuer::default_users)")]
    NoUsers,
    /// Two users share a username (or a username is empty).
    #[error("dev issuer username {0:?} is empty or used twice: give every user a distinct name")]
    DuplicateUser(String),
    /// Two users share a subject (or a subject is empty).
    #[error("dev issuer subject {0:?} is empty or used twice: give every user a distinct subject")]
    DuplicateSubject(String),
    /// `interval_secs` is 0.
    #[error("dev issuer poll interval is 0: use at least 1 second")]
    ZeroInterval,
    /// A lifetime is shorter than one second.
    #[error("dev issuer {0} is shorter than 1 second: tokens would be expired when issued")]
    TtlTooShort(&'static str),
    /// The system could not generate the signing key.
    #[error("dev issuer could not generate its ES256 signing key")]
    KeyGeneration,
    /// No pending login has this user code.
    #[error(
        "no pending login has user code {0:?}: check the code shown by `zt login`, or start it again"
    )]
    UnknownUserCode(String),
    /// The user code's lifetime is over.
    #[error("user code {0:?} has expired: run `zt login` again for a new one")]
    UserCodeExpired(String),
    /// The user code was already approved or denied.
    #[error("user code {0:?} was already approved or denied: run `zt login` again to change that")]
    AlreadyDecided(String),
    /// No dev user has this username.
    #[error(
        "no dev user is named {0:?}: use one of the configured users (alice, bob, carol by default)"
    )]
    UnknownUser(String),
    /// Too many logins are waiting at once.
    #[error("too many pending logins on the dev issuer: wait for some to expire and retry")]
    TooManyPending,
}

/// An OAuth 2.0 error response (RFC 6749 §5.2): `{"error", "error_description"}` with
/// `Cache-Control: no-store`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
        }
    }

    /// 400 with the given code.
    pub fn bad_request(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, description)
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::bad_request("invalid_grant", description)
    }

    /// 401 `invalid_client`: the only client is the configured public one.
    pub fn invalid_client(client_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!(
                "unknown client_id {client_id:?}: the development issuer only knows the client configured for zt-broker dev"
            ),
        )
    }

    pub fn server_error(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            description,
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code,
            error_description: &self.description,
        };
        let mut response = (self.status, Json(body)).into_response();
        no_store(&mut response);
        response
    }
}

/// Marks a response as not cacheable (RFC 6749 §5.1 for token responses and errors).
pub fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
