//! Tokens for other services: `zt token --audience A` gets a short-lived ES256 JWT whose `aud`
//! is A, signed with the broker's token key and verifiable with the keys at `GET /v1/jwks`.
//!
//! They are bearer tokens (a Kubernetes API server or a plain HTTPS service cannot check a
//! DPoP proof), so they live minutes and are minted only for the audiences the matching rule
//! lists. `typ` is `JWT`, never `at+jwt`, and the `aud` is never the broker's own: the broker
//! refuses one as an access token on both counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::access_token::broker_subject;
use crate::jose::{self, JoseError, SigningKey};
use crate::policy::Identity;

pub const TOKEN_TYPE: &str = "JWT";

/// Claims of a token for another service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceClaims {
    pub iss: String,
    /// The broker's stable name for the identity: `<issuer>#<subject>`.
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    pub jti: String,
    /// `person` or `workload`.
    pub zt_kind: String,
    /// The device (DPoP key thumbprint) that asked for the token.
    pub zt_device: String,
    /// The policy rule that allowed this audience.
    pub zt_rule: String,
    pub idp_iss: String,
    pub idp_sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// A workload's verified token claims (repository, ref, namespace, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zt_workload: Option<BTreeMap<String, String>>,
}

pub struct Mint<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub identity: &'a Identity,
    pub device: &'a str,
    pub rule: &'a str,
    pub now: u64,
    pub ttl_secs: u64,
}

pub fn mint(key: &SigningKey, m: &Mint<'_>) -> Result<(String, ServiceClaims), JoseError> {
    let claims = ServiceClaims {
        iss: m.issuer.to_owned(),
        sub: broker_subject(m.identity),
        aud: m.audience.to_owned(),
        exp: m.now + m.ttl_secs,
        iat: m.now,
        nbf: m.now,
        jti: jose::random_id(),
        zt_kind: if m.identity.is_workload() {
            "workload"
        } else {
            "person"
        }
        .to_owned(),
        zt_device: m.device.to_owned(),
        zt_rule: m.rule.to_owned(),
        idp_iss: m.identity.issuer.clone(),
        idp_sub: m.identity.subject.clone(),
        email: m.identity.email.clone(),
        groups: m.identity.groups.clone(),
        zt_workload: m.identity.workload.clone(),
    };
    let header = serde_json::json!({ "typ": TOKEN_TYPE, "kid": key.thumbprint() });
    Ok((key.sign_jws(&header, &claims)?, claims))
}

/// The public half of a token key as a JWK for `GET /v1/jwks`: `kid` is its RFC 7638
/// thumbprint (the `kid` every broker token carries), `alg` ES256, `use` sig.
pub fn public_jwk(jwk: &jose::EcPublicJwk) -> serde_json::Value {
    serde_json::json!({
        "kty": jwk.kty, "crv": jwk.crv, "x": jwk.x, "y": jwk.y,
        "kid": jwk.thumbprint(), "alg": "ES256", "use": "sig",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_token;

    #[test]
    fn a_service_token_verifies_with_the_published_key_and_is_no_access_token() {
        let key = SigningKey::generate().unwrap();
        let mut claims = BTreeMap::new();
        claims.insert("repository".to_owned(), "acme/app".to_owned());
        let identity = Identity {
            workload: Some(claims),
            ..Identity::person("https://ci", "repo:acme/app", None, vec![])
        };
        let m = Mint {
            issuer: "https://broker",
            audience: "kubernetes",
            identity: &identity,
            device: "thumb",
            rule: "deploy",
            now: 1000,
            ttl_secs: 300,
        };
        let (token, minted) = mint(&key, &m).unwrap();
        assert_eq!(minted.zt_kind, "workload");
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(serde_json::json!({ "keys": [public_jwk(key.public_jwk())] }))
                .unwrap();
        let jwk = jwks.find(&key.thumbprint()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["kubernetes"]);
        validation.validate_exp = false;
        let decoded = jsonwebtoken::decode::<ServiceClaims>(
            &token,
            &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(decoded.claims, minted);
        // Never accepted as a broker access token, even for the broker's own audience.
        assert!(access_token::verify(&token, &key, "https://broker", "kubernetes", 1100).is_err());
    }
}
