//! The request bodies a client sends to the broker, built the one way `zt` builds them (the
//! integration tests and the benches use these too, so they cannot drift from `zt`).

use crate::ca::CaError;
use crate::proto::{self, CertificateRequest};

/// The RFC 8693 form that exchanges an IdP ID token for a broker token.
pub fn exchange_form(id_token: &str) -> proto::TokenExchangeRequest {
    proto::TokenExchangeRequest {
        grant_type: proto::GRANT_TYPE_TOKEN_EXCHANGE.into(),
        subject_token: id_token.into(),
        subject_token_type: proto::TOKEN_TYPE_ID_TOKEN.into(),
        audience: None,
        requested_token_type: None,
    }
}

/// The RFC 8693 form that exchanges a workload token (a CI job's OIDC token, a Kubernetes
/// service-account token, a client-credentials JWT) for a broker token.
pub fn workload_exchange_form(token: &str) -> proto::TokenExchangeRequest {
    proto::TokenExchangeRequest {
        subject_token_type: proto::TOKEN_TYPE_JWT.into(),
        ..exchange_form(token)
    }
}

/// The RFC 8693 form that exchanges a broker access token for a token for `audience`.
pub fn audience_form(access_token: &str, audience: &str) -> proto::TokenExchangeRequest {
    proto::TokenExchangeRequest {
        subject_token_type: proto::TOKEN_TYPE_ACCESS_TOKEN.into(),
        audience: Some(audience.into()),
        requested_token_type: Some(proto::TOKEN_TYPE_JWT.into()),
        ..exchange_form(access_token)
    }
}

/// A request to certify `ssh_key`, proving possession of it by signing over
/// the `jti` of the DPoP proof the request travels with (which signs the digest of
/// `posture`, when there is a report).
pub fn certificate_request(
    ssh_key: &ssh_key::PrivateKey,
    dpop_jti: &str,
    posture: Option<proto::PostureReport>,
) -> Result<CertificateRequest, CaError> {
    let public_key = ssh_key
        .public_key()
        .to_openssh()
        .map_err(CaError::Signing)?;
    let message = crate::ca::possession_message(dpop_jti, &public_key);
    let possession_proof = crate::ca::sign_possession(ssh_key, &message)?;
    Ok(CertificateRequest {
        public_key,
        possession_proof,
        principals: None,
        ttl_secs: None,
        posture,
    })
}
