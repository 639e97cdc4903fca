//! Broker access tokens: short-lived ES256 JWTs (`typ: at+jwt`, RFC 9068
//! shape) bound to the client's device key through `cnf.jkt` (RFC 9449).
//!
//! Pure: minting and checking take the time and keys as parameters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jose::{self, JoseError, SigningKey};
use crate::policy::Identity;

pub const TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    pub jkt: String,
}

/// Claims of a broker access token. `sub` is the broker's own stable name
/// for the identity; the IdP's issuer and subject travel alongside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    pub jti: String,
    pub cnf: Confirmation,
    pub idp_iss: String,
    pub idp_sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// A workload's verified token claims (flattened); absent for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zt_workload: Option<BTreeMap<String, String>>,
}

impl AccessClaims {
    pub fn identity(&self) -> Identity {
        Identity {
            issuer: self.idp_iss.clone(),
            subject: self.idp_sub.clone(),
            email: self.email.clone(),
            groups: self.groups.clone(),
            workload: self.zt_workload.clone(),
        }
    }
}

/// The broker's stable subject for an IdP identity: issuer and subject
/// together, since `sub` is only unique per issuer.
pub fn broker_subject(identity: &Identity) -> String {
    format!("{}#{}", identity.issuer, identity.subject)
}

pub struct Mint<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub identity: &'a Identity,
    pub jkt: &'a str,
    pub now: u64,
    pub ttl_secs: u64,
}

pub fn mint(key: &SigningKey, m: &Mint<'_>) -> Result<(String, AccessClaims), JoseError> {
    let claims = AccessClaims {
        iss: m.issuer.to_owned(),
        sub: broker_subject(m.identity),
        aud: m.audience.to_owned(),
        exp: m.now + m.ttl_secs,
        iat: m.now,
        nbf: m.now,
        jti: jose::random_id(),
        cnf: Confirmation {
            jkt: m.jkt.to_owned(),
        },
        idp_iss: m.identity.issuer.clone(),
        idp_sub: m.identity.subject.clone(),
        email: m.identity.email.clone(),
        groups: m.identity.groups.clone(),
        zt_workload: m.identity.workload.clone(),
    };
    let header = serde_json::json!({ "typ": TOKEN_TYPE, "kid": key.thumbprint() });
    Ok((key.sign_jws(&header, &claims)?, claims))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    #[error("the access token is malformed or not a zt broker token")]
    Malformed,
    #[error("the access token was not signed by this broker")]
    BadSignature,
    #[error("the access token has expired; zt renews it automatically, or run `zt login`")]
    Expired,
    #[error("the access token is for another broker or audience")]
    WrongAudience,
}

/// Check a broker access token: header, signature, issuer, audience, time.
/// Binding to the DPoP key (`cnf.jkt`) is the caller's next step.
pub fn verify(
    token: &str,
    key: &SigningKey,
    issuer: &str,
    audience: &str,
    now: u64,
) -> Result<AccessClaims, AccessTokenError> {
    let header = jose::decode_compact_header(token).ok_or(AccessTokenError::Malformed)?;
    if header.get("typ").and_then(|v| v.as_str()) != Some(TOKEN_TYPE)
        || header.get("alg").and_then(|v| v.as_str()) != Some("ES256")
    {
        return Err(AccessTokenError::Malformed);
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding_key(), &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => AccessTokenError::BadSignature,
            _ => AccessTokenError::Malformed,
        })?
        .claims;
    if claims.iss != issuer || claims.aud != audience {
        return Err(AccessTokenError::WrongAudience);
    }
    check_time(&claims, now)?;
    Ok(claims)
}

/// Whether a token whose signature and audience were verified is valid at `now`: what a cache
/// of verified tokens checks again on every use.
pub fn check_time(claims: &AccessClaims, now: u64) -> Result<(), AccessTokenError> {
    // Broker tokens are minted by this clock: no leeway needed beyond a
    // few seconds for replicas whose clocks differ slightly.
    if now >= claims.exp || claims.nbf > now + 5 {
        return Err(AccessTokenError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            issuer: "https://idp".into(),
            subject: "alice".into(),
            email: Some("alice@example.com".into()),
            groups: vec!["sre".into()],
            workload: None,
        }
    }

    fn minted(key: &SigningKey, now: u64) -> String {
        let id = identity();
        let m = Mint {
            issuer: "https://broker",
            audience: "zt-broker",
            identity: &id,
            jkt: "thumb",
            now,
            ttl_secs: 300,
        };
        mint(key, &m).unwrap().0
    }

    #[test]
    fn minted_tokens_verify_and_carry_the_identity() {
        let key = SigningKey::generate().unwrap();
        let token = minted(&key, 1000);
        let claims = verify(&token, &key, "https://broker", "zt-broker", 1100).unwrap();
        assert_eq!(claims.identity(), identity());
        assert_eq!(claims.cnf.jkt, "thumb");
        assert_eq!(claims.sub, "https://idp#alice");
    }

    #[test]
    fn expiry_audience_and_signer_are_enforced() {
        let key = SigningKey::generate().unwrap();
        let token = minted(&key, 1000);
        assert_eq!(
            verify(&token, &key, "https://broker", "zt-broker", 1300),
            Err(AccessTokenError::Expired)
        );
        assert_eq!(
            verify(&token, &key, "https://broker", "other", 1100),
            Err(AccessTokenError::WrongAudience)
        );
        assert_eq!(
            verify(&token, &key, "https://other", "zt-broker", 1100),
            Err(AccessTokenError::WrongAudience)
        );
        let other = SigningKey::generate().unwrap();
        assert_eq!(
            verify(&token, &other, "https://broker", "zt-broker", 1100),
            Err(AccessTokenError::BadSignature)
        );
    }

    #[test]
    fn an_id_token_shaped_jwt_is_not_an_access_token() {
        let key = SigningKey::generate().unwrap();
        let token = key
            .sign_jws(
                &serde_json::json!({"typ": "JWT"}),
                &serde_json::json!({"iss": "https://broker"}),
            )
            .unwrap();
        assert_eq!(
            verify(&token, &key, "https://broker", "zt-broker", 1100),
            Err(AccessTokenError::Malformed)
        );
    }
}
