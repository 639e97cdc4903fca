//! The issuer's ES256 signing key: generated at start, never stored, published at `/jwks`.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::DevIssuerError;

/// A P-256 key pair as jsonwebtoken needs it, with its public JWK.
pub struct SigningKey {
    encoding: EncodingKey,
    jwk: PublicJwk,
}

/// The public half in JWK form (RFC 7517/7518 §6.2), as served in the JWK set.
#[derive(Clone, Debug, Serialize)]
pub struct PublicJwk {
    kty: &'static str,
    crv: &'static str,
    x: String,
    y: String,
    kid: String,
    alg: &'static str,
    #[serde(rename = "use")]
    use_: &'static str,
}

/// `{"keys": [...]}` (RFC 7517 §5).
#[derive(Serialize)]
pub struct JwkSet<'a> {
    keys: [&'a PublicJwk; 1],
}

impl SigningKey {
    /// A fresh key. Each start of the issuer has a new one, so ID tokens of an earlier run no
    /// longer verify: that is fine for development and means nothing needs protecting on disk.
    pub fn generate() -> Result<Self, DevIssuerError> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| DevIssuerError::KeyGeneration)?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    /// From a PKCS#8 v1 DER document. jsonwebtoken's aws-lc-rs backend parses the bytes given
    /// to `EncodingKey::from_ec_der` with `EcdsaKeyPair::from_pkcs8`, so PKCS#8 is the form.
    fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, DevIssuerError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| DevIssuerError::KeyGeneration)?;
        let jwk = public_jwk(pair.public_key().as_ref()).ok_or(DevIssuerError::KeyGeneration)?;
        Ok(Self {
            encoding: EncodingKey::from_ec_der(pkcs8),
            jwk,
        })
    }

    #[cfg(test)]
    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }

    pub fn jwk_set(&self) -> JwkSet<'_> {
        JwkSet { keys: [&self.jwk] }
    }

    /// A compact JWS over `claims` with header `{"alg":"ES256","typ":"JWT","kid":…}`.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("JWT".to_owned());
        header.kid = Some(self.jwk.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }
}

/// The JWK of an uncompressed SEC1 P-256 point (`04 || x || y`), with `kid` set to its
/// RFC 7638 thumbprint.
fn public_jwk(point: &[u8]) -> Option<PublicJwk> {
    let (&tag, coordinates) = point.split_first()?;
    if tag != 0x04 || coordinates.len() != 64 {
        return None;
    }
    let (x, y) = coordinates.split_at(32);
    let x = URL_SAFE_NO_PAD.encode(x);
    let y = URL_SAFE_NO_PAD.encode(y);
    let kid = thumbprint(&x, &y);
    Some(PublicJwk {
        kty: "EC",
        crv: "P-256",
        x,
        y,
        kid,
        alg: "ES256",
        use_: "sig",
    })
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
fn thumbprint(x: &str, y: &str) -> String {
    // x and y are base64url, so they need no JSON escaping.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn signed_tokens_verify_with_the_published_jwk() {
        let key = SigningKey::generate().unwrap();
        let set = serde_json::to_value(key.jwk_set()).unwrap();
        let jwk: Jwk = serde_json::from_value(set["keys"][0].clone()).unwrap();
        assert_eq!(set["keys"][0]["use"], "sig");
        assert_eq!(set["keys"][0]["alg"], "ES256");

        let token = key
            .sign(&serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}))
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        assert_eq!(header.typ.as_deref(), Some("JWT"));

        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(data.claims["sub"], "x");
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint() {
        let key = SigningKey::generate().unwrap();
        let jwk: Jwk = serde_json::from_value(serde_json::to_value(&key.jwk).unwrap()).unwrap();
        assert_eq!(jwk.thumbprint(ThumbprintHash::SHA256).unwrap(), key.kid());
    }

    #[test]
    fn thumbprint_matches_rfc7638_style_vector() {
        // The P-256 key of RFC 7515 A.3; expected value computed independently (Python hashlib).
        let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
        assert_eq!(
            thumbprint(x, y),
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
        );
    }

    #[test]
    fn malformed_points_are_refused() {
        assert!(public_jwk(&[]).is_none());
        assert!(public_jwk(&[0x02; 33]).is_none());
        assert!(public_jwk(&[0x04; 64]).is_none());
    }
}
