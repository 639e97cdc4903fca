//! One error type for every broker response: HTTP status, OAuth-style
//! `error` code and an actionable `error_description`. Descriptions never
//! echo secrets (tokens, keys) back.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use zt_core::proto::{ErrorBody, error_code};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    /// Seconds for `Retry-After` (429 and 503 answers).
    pub retry_after: Option<u64>,
}

impl BrokerError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        BrokerError {
            status,
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64, description: impl Into<String>) -> Self {
        let description = format!("{}; try again in {retry_after_secs} s", description.into());
        BrokerError {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                error_code::RATE_LIMITED,
                description,
            )
        }
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            error_code::INVALID_REQUEST,
            description,
        )
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            error_code::INVALID_GRANT,
            description,
        )
    }

    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            error_code::INVALID_TOKEN,
            description,
        )
    }

    pub fn invalid_dpop(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            error_code::INVALID_DPOP_PROOF,
            description,
        )
    }

    pub fn denied(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            error_code::ACCESS_DENIED,
            description,
        )
    }

    pub fn invalid_key(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            error_code::INVALID_KEY,
            description,
        )
    }

    pub fn unavailable(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error_code::TEMPORARILY_UNAVAILABLE,
            description,
        )
    }

    pub fn internal(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_code::SERVER_ERROR,
            description,
        )
    }
}

impl std::fmt::Display for BrokerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.as_u16(),
            self.code,
            self.description
        )
    }
}

impl IntoResponse for BrokerError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.to_owned(),
            error_description: self.description,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("DPoP algs=\"ES256\""),
            );
        }
        let retry_after = match (self.retry_after, self.status) {
            (Some(secs), _) => Some(secs),
            (None, StatusCode::SERVICE_UNAVAILABLE) => Some(5),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
