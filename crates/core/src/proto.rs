//! Wire types shared by `zt` and `zt-broker`: the only place JSON shapes live.
//!
//! Every request body the broker accepts rejects unknown fields, so a client
//! and a broker of different versions fail loudly instead of silently
//! ignoring a field one of them relies on.

pub mod decimal;

use serde::{Deserialize, Serialize};

pub use crate::posture::{Failing, PostureReport, Requirements};

/// Version of the broker HTTP API (the endpoints are listed in docs/architecture.md).
pub const API_VERSION: u32 = 1;

pub const WELL_KNOWN_PATH: &str = "/.well-known/zt-configuration";
pub const TOKEN_PATH: &str = "/v1/token";
pub const CERTIFICATE_PATH: &str = "/v1/ssh/certificates";
pub const KRL_PATH: &str = "/v1/ssh/krl";
pub const HOST_CERTIFICATE_PATH: &str = "/v1/hosts/certificates";
/// The keys that verify tokens the broker mints for other services (and its access tokens).
pub const JWKS_PATH: &str = "/v1/jwks";
pub const HEALTH_PATH: &str = "/healthz";
pub const READY_PATH: &str = "/readyz";
/// The response header that carries a fresh broker nonce (RFC 9449 §8).
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";
/// Posture requirements in certificates: the extension's name.
pub const POSTURE_EXTENSION: &str = "posture@zt.dev";

/// RFC 8693 token type URIs.
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// A JWT: a workload token as `subject_token`, a token for another service as the result.
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const GRANT_TYPE_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// `GET /.well-known/zt-configuration`: everything a client needs to log in.
///
/// Unlike the request bodies, this document may gain fields a client does not know yet (as it
/// gained `jwks_uri` and `workload_audience`), so clients ignore unknown fields here: a broker
/// upgraded first does not lock out the clients still on the previous release. Every field a
/// client uses is still checked (`check_configuration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerConfiguration {
    pub api_version: u32,
    /// The broker's own issuer URL (`iss` of broker tokens, base of `htu`).
    pub broker: String,
    /// Audience that broker access tokens carry.
    pub audience: String,
    pub identity_provider: IdentityProviderInfo,
    /// OpenSSH public keys of the user CA (what targets put in `TrustedUserCAKeys`).
    pub user_ca_keys: Vec<String>,
    /// OpenSSH public keys of the host CA (what clients put after `@cert-authority`).
    pub host_ca_keys: Vec<String>,
    pub certificate_ttl: TtlLimits,
    pub token_endpoint: String,
    pub certificate_endpoint: String,
    /// Keys that verify tokens for other services (`zt token --audience`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jwks_uri: String,
    /// The audience a CI job asks its OIDC issuer for (`zt login --ci`); empty when the
    /// broker trusts no workload issuer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workload_audience: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderInfo {
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtlLimits {
    pub default_secs: u64,
    pub max_secs: u64,
}

/// Form body of `POST /v1/token` (RFC 8693 §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenExchangeRequest {
    pub grant_type: String,
    pub subject_token: String,
    pub subject_token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_token_type: Option<String>,
}

/// Response of `POST /v1/token` (RFC 8693 §2.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenExchangeResponse {
    pub access_token: String,
    pub issued_token_type: String,
    /// `DPoP`: the token is bound to the key of the proof that asked for it.
    pub token_type: String,
    pub expires_in: u64,
}

/// Body of `POST /v1/ssh/certificates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// OpenSSH public key line of the key to certify.
    pub public_key: String,
    /// Armored SSHSIG over `ca::possession_message(dpop_jti, public_key)`.
    pub possession_proof: String,
    /// Narrow the principals the policy grants (never widen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principals: Option<Vec<String>>,
    /// Narrow the lifetime the policy grants (never lengthen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    /// The device's posture report, collected for this request. The DPoP proof signs its
    /// digest (`zt_posture`) and, where the rule requires posture, the broker's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posture: Option<PostureReport>,
}

/// Response of `POST /v1/ssh/certificates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateResponse {
    /// OpenSSH certificate line.
    pub certificate: String,
    /// Decimal string (numbers are read too; see [`decimal`]).
    #[serde(with = "decimal")]
    pub serial: u64,
    pub key_id: String,
    pub principals: Vec<String>,
    pub valid_after: u64,
    pub valid_before: u64,
    /// Name of the policy rule that granted the certificate.
    pub rule: String,
    /// How the device's posture was held against the rule, when the rule requires posture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posture: Option<PostureOutcome>,
}

/// The posture side of an issued certificate: what it was issued under, so the client can
/// re-check the same requirements before each connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostureOutcome {
    /// Digest of the report the certificate was issued on.
    pub digest: String,
    /// The requirements met.
    pub passed: Vec<String>,
    /// Requirements not met but still in their grace period: the certificate is short.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Failing>,
    /// The rule's posture requirements.
    pub requirements: Requirements,
}

/// Body of `POST /v1/hosts/certificates`. Enrolment sends
/// `Authorization: Bearer <enrolment token>`; renewal sends no token but the
/// host's current certificate. Either way the host proves it holds its key:
/// `possession_proof` is an armored SSHSIG over
/// `ca::possession_message(ca::host_possession_context(endpoint, nonce, issued_at), public_key)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCertificateRequest {
    /// OpenSSH public key line of the host key.
    pub public_key: String,
    pub possession_proof: String,
    /// Random, single-use (at least 16 characters).
    pub nonce: String,
    /// Unix seconds; must be within 60 s of the broker's clock.
    pub issued_at: u64,
    /// Narrow the principals the token grants (never widen). Enrolment only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principals: Option<Vec<String>>,
    /// Renewal: the host's current, unexpired, unrevoked host certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// Response of `POST /v1/hosts/certificates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCertificateResponse {
    /// OpenSSH host certificate line.
    pub certificate: String,
    /// Decimal string (numbers are read too; see [`decimal`]).
    #[serde(with = "decimal")]
    pub serial: u64,
    pub principals: Vec<String>,
    pub valid_before: u64,
    /// What the host puts in `TrustedUserCAKeys`.
    pub user_ca_keys: Vec<String>,
}

/// Every broker error body (OAuth style). `error` stays a string on the wire so that a
/// client reads codes newer than itself; [`ErrorBody::code`] types it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub error_description: String,
    /// With `posture_not_met`: each requirement the device failed, with evidence and fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<Failing>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        ErrorBody {
            error: code.as_str().to_owned(),
            error_description: description.into(),
            failing: Vec::new(),
        }
    }

    /// The code, if this zt knows it.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.error)
    }
}

/// Broker error codes: OAuth's where one exists, zt's own otherwise. Each travels with
/// one HTTP status ([`ErrorCode::http_status`]); that pairing is part of the API contract,
/// and clients decide on the code, never on the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: the request is malformed (also 413 for a body over the limit).
    InvalidRequest,
    /// 400: the subject token (an IdP ID token) does not verify or has expired.
    InvalidGrant,
    /// 400: this ID token was exchanged before. An IdP may hand out a byte-identical ID
    /// token when asked twice within one second; a client asks its IdP again.
    IdTokenReused,
    /// 400: a `grant_type` other than token exchange.
    UnsupportedGrantType,
    /// 400: a token for an audience this broker does not issue.
    InvalidTarget,
    /// 400: the SSH key to certify is unacceptable or its possession proof fails.
    InvalidKey,
    /// 401: the broker access token (or host enrolment token) is missing or invalid.
    InvalidToken,
    /// 401: the DPoP proof is missing, invalid, replayed or for another key.
    InvalidDpopProof,
    /// 401 (RFC 9449 §8): the request needs a fresh broker nonce in its DPoP proof; the
    /// `DPoP-Nonce` response header carries one.
    UseDpopNonce,
    /// 403: policy or an administrator says no.
    AccessDenied,
    /// 403: an administrator revoked the device the request was made with.
    DeviceRevoked,
    /// 403: the rule requires an approved device; an administrator has not approved this one.
    DeviceNotApproved,
    /// 403: the device does not meet the rule's posture requirements (the body lists which).
    PostureNotMet,
    /// 404: no such endpoint.
    NotFound,
    /// 429: over a rate limit; `Retry-After` says when to come back.
    RateLimited,
    /// 500: a bug or a broken key on the broker's side.
    ServerError,
    /// 503: the broker cannot do this right now (store or IdP unavailable); nothing was
    /// issued.
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidGrant,
        ErrorCode::IdTokenReused,
        ErrorCode::UnsupportedGrantType,
        ErrorCode::InvalidTarget,
        ErrorCode::InvalidKey,
        ErrorCode::InvalidToken,
        ErrorCode::InvalidDpopProof,
        ErrorCode::UseDpopNonce,
        ErrorCode::AccessDenied,
        ErrorCode::DeviceRevoked,
        ErrorCode::DeviceNotApproved,
        ErrorCode::PostureNotMet,
        ErrorCode::NotFound,
        ErrorCode::RateLimited,
        ErrorCode::ServerError,
        ErrorCode::TemporarilyUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::IdTokenReused => "id_token_reused",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::InvalidKey => "invalid_key",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::DeviceNotApproved => "device_not_approved",
            ErrorCode::PostureNotMet => "posture_not_met",
            ErrorCode::NotFound => "not_found",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    pub fn parse(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// The HTTP status this code travels with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest
            | ErrorCode::InvalidGrant
            | ErrorCode::IdTokenReused
            | ErrorCode::UnsupportedGrantType
            | ErrorCode::InvalidTarget
            | ErrorCode::InvalidKey => 400,
            ErrorCode::InvalidToken | ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce => 401,
            ErrorCode::AccessDenied
            | ErrorCode::DeviceRevoked
            | ErrorCode::DeviceNotApproved
            | ErrorCode::PostureNotMet => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::RateLimited => 429,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_discovery_document_may_grow() {
        let document = serde_json::json!({
            "api_version": 1, "broker": "https://b", "audience": "zt-broker",
            "identity_provider": {"issuer": "https://i", "client_id": "zt", "scopes": []},
            "user_ca_keys": [], "host_ca_keys": [],
            "certificate_ttl": {"default_secs": 1, "max_secs": 2},
            "token_endpoint": "https://b/v1/token",
            "certificate_endpoint": "https://b/v1/ssh/certificates",
            "a_field_from_a_later_release": {"x": 1},
        });
        let config: BrokerConfiguration = serde_json::from_value(document).unwrap();
        assert_eq!(config.jwks_uri, "");
        assert_eq!(config.workload_audience, "");
    }

    #[test]
    fn certificate_request_rejects_unknown_fields() {
        let body = r#"{"public_key":"k","possession_proof":"p","valid_after":0}"#;
        let err = serde_json::from_str::<CertificateRequest>(body).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn certificate_request_optional_fields_round_trip() {
        let req = CertificateRequest {
            public_key: "ssh-ed25519 AAAA".into(),
            possession_proof: "sig".into(),
            principals: Some(vec!["ops".into()]),
            ttl_secs: None,
            posture: None,
        };
        let text = serde_json::to_string(&req).unwrap();
        assert!(!text.contains("ttl_secs"));
        assert_eq!(
            serde_json::from_str::<CertificateRequest>(&text).unwrap(),
            req
        );
    }

    #[test]
    fn error_codes_round_trip_and_unknown_codes_stay_readable() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            let body: ErrorBody =
                serde_json::from_str(&serde_json::to_string(&ErrorBody::new(code, "d")).unwrap())
                    .unwrap();
            assert_eq!(body.code(), Some(code));
        }
        let newer: ErrorBody =
            serde_json::from_str(r#"{"error":"from_the_future","error_description":"x"}"#).unwrap();
        assert_eq!(newer.code(), None);
        assert_eq!(newer.error, "from_the_future");
    }
}
