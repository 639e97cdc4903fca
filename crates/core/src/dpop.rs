//! DPoP proofs (RFC 9449): the client proves, on every POST, that it holds
//! the device key its broker token is bound to.
//!
//! Creating and checking a proof is pure: the caller passes the time and
//! keeps the single-use `jti` ledger (the broker's store).

use serde::{Deserialize, Serialize};

use crate::jose::{self, EcPublicJwk, JoseError, SigningKey};

/// How far a proof's `iat` may be from the broker's clock.
pub const IAT_WINDOW_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofClaims {
    pub jti: String,
    pub htm: String,
    pub htu: String,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
    /// The broker's `DPoP-Nonce` (RFC 9449 §8), when it asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// zt's own claim: the digest of the posture report the request carries
    /// ([`crate::posture::digest`]), so the report is signed by the device key together with
    /// the nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zt_posture: Option<String>,
}

/// What a proof binds beyond the request: the broker's nonce and a posture report's digest.
#[derive(Debug, Clone, Copy, Default)]
pub struct Binding<'a> {
    pub nonce: Option<&'a str>,
    pub posture_digest: Option<&'a str>,
}

/// A proof that passed every check but the single-use `jti` ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    pub jti: String,
    pub iat: u64,
    /// RFC 7638 thumbprint of the proof key (compare with `cnf.jkt`).
    pub jkt: String,
    /// The nonce the proof carries; checking it is the caller's business.
    pub nonce: Option<String>,
    /// The posture digest the proof signs.
    pub posture_digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    #[error("the request has no DPoP proof header")]
    Missing,
    #[error("the DPoP proof is not a well-formed JWS")]
    Malformed,
    #[error("the DPoP proof header must have typ \"dpop+jwt\" and alg \"ES256\"")]
    BadHeader,
    #[error("the DPoP proof must carry its EC P-256 public key as `jwk`")]
    BadKey,
    #[error("the DPoP proof signature does not verify")]
    BadSignature,
    #[error("the DPoP proof is for {found}, not for this request ({expected})")]
    WrongTarget { expected: String, found: String },
    #[error(
        "the DPoP proof was issued at a time more than 60 s from the broker's clock; check this machine's clock"
    )]
    StaleOrFuture,
    #[error("the DPoP proof's jti must be 16 to 128 URL-safe characters")]
    BadJti,
    #[error("the DPoP proof's ath does not match the access token")]
    WrongAccessTokenHash,
    #[error("the DPoP proof key is not the key this token is bound to")]
    KeyMismatch,
    #[error("the DPoP proof was already used")]
    Replayed,
}

/// Make a proof for `method` on `url` (no query or fragment), optionally
/// bound to `access_token` through `ath`.
pub fn create_proof(
    key: &SigningKey,
    method: &str,
    url: &str,
    now: u64,
    access_token: Option<&str>,
) -> Result<(String, String), JoseError> {
    create_bound_proof(key, method, url, now, access_token, Binding::default())
}

/// [`create_proof`], also signing a broker nonce and a posture digest.
pub fn create_bound_proof(
    key: &SigningKey,
    method: &str,
    url: &str,
    now: u64,
    access_token: Option<&str>,
    binding: Binding<'_>,
) -> Result<(String, String), JoseError> {
    let claims = ProofClaims {
        jti: jose::random_id(),
        htm: method.to_owned(),
        htu: url.to_owned(),
        iat: now,
        ath: access_token.map(|t| jose::sha256_b64(t.as_bytes())),
        nonce: binding.nonce.map(str::to_owned),
        zt_posture: binding.posture_digest.map(str::to_owned),
    };
    let header = serde_json::json!({ "typ": "dpop+jwt", "jwk": key.public_jwk() });
    let proof = key.sign_jws(&header, &claims)?;
    Ok((proof, claims.jti))
}

/// What the broker expects of a proof.
pub struct Expected<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub now: u64,
    pub access_token: Option<&'a str>,
}

/// Check everything about a proof except that its `jti` is fresh.
pub fn verify_proof(proof: &str, expected: &Expected<'_>) -> Result<VerifiedProof, DpopError> {
    let header = jose::decode_compact_header(proof).ok_or(DpopError::Malformed)?;
    if header.get("typ").and_then(|v| v.as_str()) != Some("dpop+jwt")
        || header.get("alg").and_then(|v| v.as_str()) != Some("ES256")
    {
        return Err(DpopError::BadHeader);
    }
    // Only `jwk` may name the key; anything that would make us fetch or
    // trust a different key is refused outright.
    for forbidden in ["jku", "x5u", "x5c", "kid", "crit"] {
        if header.get(forbidden).is_some() {
            return Err(DpopError::BadHeader);
        }
    }
    let jwk = header
        .get("jwk")
        .ok_or(DpopError::BadKey)
        .and_then(|v| EcPublicJwk::from_value(v).map_err(|_| DpopError::BadKey))?;
    let key = jose::decoding_key(&jwk).map_err(|_| DpopError::BadKey)?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => DpopError::BadSignature,
            _ => DpopError::Malformed,
        })?
        .claims;
    if claims.htm != expected.method || claims.htu != expected.url {
        return Err(DpopError::WrongTarget {
            expected: format!("{} {}", expected.method, expected.url),
            found: format!("{} {}", claims.htm, claims.htu),
        });
    }
    if claims.iat.abs_diff(expected.now) > IAT_WINDOW_SECS {
        return Err(DpopError::StaleOrFuture);
    }
    let jti_ok = (16..=128).contains(&claims.jti.len())
        && claims
            .jti
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !jti_ok {
        return Err(DpopError::BadJti);
    }
    match (expected.access_token, &claims.ath) {
        (Some(token), Some(ath)) if *ath == jose::sha256_b64(token.as_bytes()) => {}
        (None, None) => {}
        _ => return Err(DpopError::WrongAccessTokenHash),
    }
    Ok(VerifiedProof {
        jti: claims.jti,
        iat: claims.iat,
        jkt: jwk.thumbprint(),
        nonce: claims.nonce,
        posture_digest: claims.zt_posture,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://broker.example/v1/token";

    fn expected(now: u64, token: Option<&str>) -> Expected<'_> {
        Expected {
            method: "POST",
            url: URL,
            now,
            access_token: token,
        }
    }

    #[test]
    fn a_fresh_proof_verifies_and_names_its_key() {
        let key = SigningKey::generate().unwrap();
        let (proof, jti) = create_proof(&key, "POST", URL, 1000, None).unwrap();
        let ok = verify_proof(&proof, &expected(1010, None)).unwrap();
        assert_eq!(ok.jti, jti);
        assert_eq!(ok.jkt, key.thumbprint());
    }

    #[test]
    fn wrong_method_url_time_or_token_is_refused() {
        let key = SigningKey::generate().unwrap();
        let (proof, _) = create_proof(&key, "GET", URL, 1000, None).unwrap();
        assert!(matches!(
            verify_proof(&proof, &expected(1000, None)),
            Err(DpopError::WrongTarget { .. })
        ));
        let (proof, _) =
            create_proof(&key, "POST", "https://evil.example/v1/token", 1000, None).unwrap();
        assert!(matches!(
            verify_proof(&proof, &expected(1000, None)),
            Err(DpopError::WrongTarget { .. })
        ));
        let (proof, _) = create_proof(&key, "POST", URL, 1000, None).unwrap();
        assert_eq!(
            verify_proof(&proof, &expected(1061, None)),
            Err(DpopError::StaleOrFuture)
        );
        assert_eq!(
            verify_proof(&proof, &expected(939, None)),
            Err(DpopError::StaleOrFuture)
        );
        let (proof, _) = create_proof(&key, "POST", URL, 1000, Some("token-a")).unwrap();
        assert!(verify_proof(&proof, &expected(1000, Some("token-a"))).is_ok());
        assert_eq!(
            verify_proof(&proof, &expected(1000, Some("token-b"))),
            Err(DpopError::WrongAccessTokenHash)
        );
        assert_eq!(
            verify_proof(&proof, &expected(1000, None)),
            Err(DpopError::WrongAccessTokenHash)
        );
    }

    #[test]
    fn a_bound_proof_carries_the_nonce_and_the_posture_digest() {
        let key = SigningKey::generate().unwrap();
        let binding = Binding {
            nonce: Some("n-1"),
            posture_digest: Some("digest"),
        };
        let (proof, _) = create_bound_proof(&key, "POST", URL, 1000, None, binding).unwrap();
        let ok = verify_proof(&proof, &expected(1000, None)).unwrap();
        assert_eq!(ok.nonce.as_deref(), Some("n-1"));
        assert_eq!(ok.posture_digest.as_deref(), Some("digest"));
        let (plain, _) = create_proof(&key, "POST", URL, 1000, None).unwrap();
        let ok = verify_proof(&plain, &expected(1000, None)).unwrap();
        assert_eq!((ok.nonce, ok.posture_digest), (None, None));
    }

    #[test]
    fn a_proof_signed_by_another_key_than_its_jwk_is_refused() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let claims = ProofClaims {
            jti: "abcdefghijklmnopqrstuv".into(),
            htm: "POST".into(),
            htu: URL.into(),
            iat: 1000,
            ath: None,
            nonce: None,
            zt_posture: None,
        };
        let header = serde_json::json!({ "typ": "dpop+jwt", "jwk": key.public_jwk() });
        let forged = other.sign_jws(&header, &claims).unwrap();
        assert_eq!(
            verify_proof(&forged, &expected(1000, None)),
            Err(DpopError::BadSignature)
        );
    }

    #[test]
    fn headers_that_point_elsewhere_are_refused() {
        let key = SigningKey::generate().unwrap();
        let claims = ProofClaims {
            jti: "abcdefghijklmnopqrstuv".into(),
            htm: "POST".into(),
            htu: URL.into(),
            iat: 1000,
            ath: None,
            nonce: None,
            zt_posture: None,
        };
        for extra in ["jku", "x5u", "kid", "crit"] {
            let mut header = serde_json::json!({ "typ": "dpop+jwt", "jwk": key.public_jwk() });
            header[extra] = "https://evil.example/keys".into();
            let proof = key.sign_jws(&header, &claims).unwrap();
            assert_eq!(
                verify_proof(&proof, &expected(1000, None)),
                Err(DpopError::BadHeader),
                "{extra}"
            );
        }
        let header = serde_json::json!({ "typ": "JWT", "jwk": key.public_jwk() });
        let proof = key.sign_jws(&header, &claims).unwrap();
        assert_eq!(
            verify_proof(&proof, &expected(1000, None)),
            Err(DpopError::BadHeader)
        );
        let header = serde_json::json!({ "typ": "dpop+jwt" });
        let proof = key.sign_jws(&header, &claims).unwrap();
        assert_eq!(
            verify_proof(&proof, &expected(1000, None)),
            Err(DpopError::BadKey)
        );
    }

    #[test]
    fn short_or_odd_jti_is_refused() {
        let key = SigningKey::generate().unwrap();
        for jti in [
            "short",
            "has spaces in it, lots",
            "../../../../etc/passwd/xx",
        ] {
            let claims = ProofClaims {
                jti: jti.into(),
                htm: "POST".into(),
                htu: URL.into(),
                iat: 1000,
                ath: None,
                nonce: None,
                zt_posture: None,
            };
            let header = serde_json::json!({ "typ": "dpop+jwt", "jwk": key.public_jwk() });
            let proof = key.sign_jws(&header, &claims).unwrap();
            assert_eq!(
                verify_proof(&proof, &expected(1000, None)),
                Err(DpopError::BadJti),
                "{jti}"
            );
        }
    }
}
