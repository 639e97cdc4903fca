//! ID tokens, broker access tokens and DPoP proofs: the raw text parsers,
//! and (so the fuzzer gets past the signature) headers and claims it
//! chooses, signed with a key the verifiers trust. No input may panic, and
//! whatever verifies must satisfy what the broker relies on.
#![no_main]

use std::sync::OnceLock;

use jsonwebtoken::jwk::JwkSet;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use zt_core::jose::SigningKey;
use zt_core::{access_token, dpop, id_token};

const ISS: &str = "https://idp.example";
const BROKER: &str = "https://broker.example";
const AUD: &str = "zt-broker";
const CLIENT: &str = "zt";
const URL: &str = "https://broker.example/v1/token";
const NOW: u64 = 1_800_000_000;

struct Keys {
    key: SigningKey,
    jwks: JwkSet,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = SigningKey::generate().unwrap();
        let mut jwk = serde_json::to_value(key.public_jwk()).unwrap();
        jwk["kid"] = "k1".into();
        jwk["alg"] = "ES256".into();
        let jwks = serde_json::from_value(serde_json::json!({ "keys": [jwk] })).unwrap();
        Keys { key, jwks }
    })
}

fn check_all(token: &str) {
    let k = keys();
    let expect = id_token::Expectations {
        issuer: ISS,
        client_id: CLIENT,
        now: NOW,
        bounds: id_token::TokenBounds::default(),
    };
    if let Ok(v) = id_token::verify(token, &k.jwks, &expect) {
        assert_eq!(v.identity.issuer, ISS);
        assert!(v.expires_at + id_token::LEEWAY_SECS >= NOW);
        assert!(!v.token_id.is_empty());
    }
    if let Ok(claims) = access_token::verify(token, &k.key, BROKER, AUD, NOW) {
        assert!(!claims.cnf.jkt.is_empty());
    }
    let expected = dpop::Expected {
        method: "POST",
        url: URL,
        now: NOW,
        access_token: None,
    };
    if let Ok(proof) = dpop::verify_proof(token, &expected) {
        assert!(proof.iat.abs_diff(NOW) <= dpop::IAT_WINDOW_SECS);
        assert!(!proof.jti.is_empty());
    }
    let _ = id_token::requested_kid(token);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(text) = std::str::from_utf8(rest) {
            check_all(text);
        }
        return;
    }
    // Header and claims JSON, separated by the first 0xff byte.
    let mut parts = rest.splitn(2, |b| *b == 0xff);
    let (Some(header), Some(claims)) = (parts.next(), parts.next()) else {
        return;
    };
    let (Ok(mut header), Ok(claims)) = (
        serde_json::from_slice::<Value>(header),
        serde_json::from_slice::<Value>(claims),
    ) else {
        return;
    };
    if !header.is_object() {
        return;
    }
    if mode & 2 != 0 {
        // Let DPoP proofs carry the signing key, as honest ones do.
        header["jwk"] = serde_json::to_value(keys().key.public_jwk()).unwrap();
    }
    if let Ok(token) = keys().key.sign_jws(&header, &claims) {
        check_all(&token);
    }
});
