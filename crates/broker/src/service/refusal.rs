//! Why the service said no: a code from the API contract ([`ErrorCode`]), an actionable
//! description, and for a rate limit when to come back. There is no HTTP here: the HTTP
//! layer alone turns a refusal into a response. Descriptions never echo secrets (tokens,
//! keys) back.

use zt_core::audit::Outcome;
use zt_core::posture::Failing;
use zt_core::proto::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub description: String,
    /// Seconds until a retry can succeed (rate limits).
    pub retry_after: Option<u64>,
    /// A fresh nonce for the client's next proof (`use_dpop_nonce`).
    pub nonce: Option<String>,
    /// The requirements a device failed (`posture_not_met`).
    pub failing: Vec<Failing>,
}

impl Refusal {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Refusal {
            code,
            description: description.into(),
            retry_after: None,
            nonce: None,
            failing: Vec::new(),
        }
    }

    /// RFC 9449 §8: sign the request again with this fresh nonce.
    pub fn use_nonce(description: impl Into<String>, nonce: String) -> Self {
        Refusal {
            nonce: Some(nonce),
            ..Self::new(ErrorCode::UseDpopNonce, description)
        }
    }

    /// The device fails the rule's posture requirements, each listed.
    pub fn posture_not_met(description: impl Into<String>, failing: Vec<Failing>) -> Self {
        Refusal {
            failing,
            ..Self::new(ErrorCode::PostureNotMet, description)
        }
    }

    /// Over a rate limit; come back in `retry_after_secs`.
    pub fn rate_limited(retry_after_secs: u64, description: impl Into<String>) -> Self {
        let description = format!("{}; try again in {retry_after_secs} s", description.into());
        Refusal {
            retry_after: Some(retry_after_secs),
            ..Self::new(ErrorCode::RateLimited, description)
        }
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, description)
    }

    pub fn invalid_dpop(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidDpopProof, description)
    }

    pub fn denied(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::AccessDenied, description)
    }

    pub fn invalid_key(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidKey, description)
    }

    pub fn unavailable(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, description)
    }

    pub fn internal(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServerError, description)
    }

    /// How the refused request ended, for its audit record: the status the client gets,
    /// the code and the reason given.
    pub fn outcome(&self) -> Outcome {
        Outcome {
            status: self.code.http_status(),
            error: Some(self.code.as_str().to_owned()),
            reason: Some(self.description.clone()),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}
