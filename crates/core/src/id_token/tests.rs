//! Forged and malformed ID tokens against [`super::verify`].

use super::*;
use crate::jose::{SigningKey, b64};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};
use std::sync::OnceLock;

const ISS: &str = "https://idp.example";
const CLIENT: &str = "zt";
const NOW: u64 = 1_800_000_000;

struct Rsa {
    pair: RsaKeyPair,
    jwk: Value,
}

fn rsa() -> &'static Rsa {
    static KEY: OnceLock<Rsa> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = pair.public_key();
        let jwk = json!({
            "kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        });
        Rsa { pair, jwk }
    })
}

fn rs256(header: Value, claims: &Value) -> String {
    let mut header = header;
    header["alg"] = "RS256".into();
    let input = format!(
        "{}.{}",
        b64(serde_json::to_vec(&header).unwrap()),
        b64(serde_json::to_vec(claims).unwrap())
    );
    let mut sig = vec![0; rsa().pair.public_modulus_len()];
    rsa()
        .pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
    format!("{input}.{}", b64(sig))
}

fn jwks() -> JwkSet {
    serde_json::from_value(json!({ "keys": [rsa().jwk] })).unwrap()
}

fn good_claims() -> Value {
    json!({
        "iss": ISS, "sub": "alice-sub", "aud": CLIENT, "exp": NOW + 300, "iat": NOW - 5,
        "email": "alice@example.com", "email_verified": true, "groups": ["sre"], "jti": "id-1",
    })
}

fn expect() -> Expectations<'static> {
    Expectations {
        issuer: ISS,
        client_id: CLIENT,
        now: NOW,
        bounds: TokenBounds::default(),
    }
}

fn with(claims: Value, key: &str, value: Value) -> Value {
    let mut claims = claims;
    claims[key] = value;
    claims
}

fn check(claims: &Value) -> Result<VerifiedIdToken, IdTokenError> {
    verify(
        &rs256(json!({"kid": "rsa-1", "typ": "JWT"}), claims),
        &jwks(),
        &expect(),
    )
}

#[test]
fn a_good_token_yields_the_identity() {
    let ok = check(&good_claims()).unwrap();
    assert_eq!(ok.identity.issuer, ISS);
    assert_eq!(ok.identity.subject, "alice-sub");
    assert_eq!(ok.identity.email.as_deref(), Some("alice@example.com"));
    assert_eq!(ok.identity.groups, vec!["sre".to_string()]);
    assert_eq!(ok.token_id, format!("{ISS} id-1"));
}

#[test]
fn a_subject_that_cannot_name_an_identity_is_refused() {
    let longest = "s".repeat(MAX_SUBJECT_BYTES);
    for (sub, fault) in [
        ("", Some("sub is empty")),
        ("alice\0", Some("sub holds a NUL character")),
        (
            &*format!("{longest}s"),
            Some("sub is longer than 1024 bytes"),
        ),
        (&*longest, None),
        // Other control characters are the printers' business (escaped wherever shown).
        ("alice\n\u{1b}[2K", None),
    ] {
        let result = check(&with(good_claims(), "sub", json!(sub)));
        match fault {
            Some(fault) => assert_eq!(
                result.map(|ok| ok.identity.subject),
                Err(IdTokenError::BadClaims(fault.into())),
            ),
            None => assert_eq!(result.unwrap().identity.subject, sub),
        }
    }
}

#[test]
fn unverified_email_is_dropped() {
    let ok = check(&with(good_claims(), "email_verified", json!(false))).unwrap();
    assert_eq!(ok.identity.email, None);
    let ok = check(&with(good_claims(), "email_verified", json!("true")));
    assert!(
        matches!(ok, Err(IdTokenError::BadClaims(_))),
        "string-typed email_verified: {ok:?}"
    );
}

#[test]
fn alg_none_is_refused() {
    let header = b64(br#"{"alg":"none","kid":"rsa-1"}"#);
    let payload = b64(serde_json::to_vec(&good_claims()).unwrap());
    let token = format!("{header}.{payload}.");
    assert_eq!(
        verify(&token, &jwks(), &expect()),
        Err(IdTokenError::ForbiddenAlgorithm("none".into()))
    );
}

#[test]
fn hmac_keyed_with_the_public_key_is_refused() {
    let header = b64(br#"{"alg":"HS256","kid":"rsa-1"}"#);
    let payload = b64(serde_json::to_vec(&good_claims()).unwrap());
    let input = format!("{header}.{payload}");
    let secret = serde_json::to_vec(&rsa().jwk).unwrap();
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
        input.as_bytes(),
    );
    let token = format!("{input}.{}", b64(tag.as_ref()));
    assert_eq!(
        verify(&token, &jwks(), &expect()),
        Err(IdTokenError::ForbiddenAlgorithm("HS256".into()))
    );
}

#[test]
fn wrong_issuer_audience_and_azp_are_refused() {
    assert!(matches!(
        check(&with(good_claims(), "iss", json!("https://evil.example"))),
        Err(IdTokenError::WrongIssuer { .. })
    ));
    assert!(matches!(
        check(&with(good_claims(), "iss", json!("https://idp.example/"))),
        Err(IdTokenError::WrongIssuer { .. })
    ));
    assert!(matches!(
        check(&with(good_claims(), "aud", json!("other-client"))),
        Err(IdTokenError::WrongAudience(_))
    ));
    let many = with(good_claims(), "aud", json!([CLIENT, "other"]));
    assert!(
        matches!(check(&many), Err(IdTokenError::WrongAudience(_))),
        "several audiences need azp"
    );
    assert!(check(&with(many.clone(), "azp", json!(CLIENT))).is_ok());
    assert!(matches!(
        check(&with(many, "azp", json!("other"))),
        Err(IdTokenError::WrongAudience(_))
    ));
    assert!(matches!(
        check(&with(good_claims(), "azp", json!("other"))),
        Err(IdTokenError::WrongAudience(_))
    ));
}

#[test]
fn time_claims_are_typed_and_checked() {
    assert_eq!(
        check(&with(good_claims(), "exp", json!(NOW - 61))),
        Err(IdTokenError::Expired)
    );
    assert!(
        check(&with(good_claims(), "exp", json!(NOW - 59))).is_ok(),
        "within leeway"
    );
    assert!(matches!(
        check(&with(good_claims(), "exp", json!((NOW + 300).to_string()))),
        Err(IdTokenError::BadClaims(_))
    ));
    let mut no_exp = good_claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert!(matches!(check(&no_exp), Err(IdTokenError::BadClaims(_))));
    assert_eq!(
        check(&with(good_claims(), "iat", json!(NOW + 120))),
        Err(IdTokenError::NotYetValid)
    );
    assert_eq!(
        check(&with(good_claims(), "nbf", json!(NOW + 3600))),
        Err(IdTokenError::NotYetValid)
    );
}

#[test]
fn unknown_kid_and_bad_signature_are_refused() {
    let token = rs256(json!({"kid": "../../etc/passwd"}), &good_claims());
    assert_eq!(
        verify(&token, &jwks(), &expect()),
        Err(IdTokenError::UnknownKey(Some("../../etc/passwd".into())))
    );
    assert_eq!(requested_kid(&token).as_deref(), Some("../../etc/passwd"));
    let token = rs256(json!({"kid": "rsa-1"}), &good_claims());
    let (body, _) = token.rsplit_once('.').unwrap();
    let other = rs256(
        json!({"kid": "rsa-1"}),
        &with(good_claims(), "sub", json!("mallory")),
    );
    let (_, other_sig) = other.rsplit_once('.').unwrap();
    assert_eq!(
        verify(&format!("{body}.{other_sig}"), &jwks(), &expect()),
        Err(IdTokenError::BadSignature)
    );
}

#[test]
fn embedded_keys_and_access_tokens_are_refused() {
    for name in ["jwk", "jku", "x5u", "x5c", "crit"] {
        let token = rs256(json!({"kid": "rsa-1", name: "x"}), &good_claims());
        assert_eq!(
            verify(&token, &jwks(), &expect()),
            Err(IdTokenError::ForbiddenHeader(name)),
            "{name}"
        );
    }
    let token = rs256(json!({"kid": "rsa-1", "typ": "at+jwt"}), &good_claims());
    assert_eq!(
        verify(&token, &jwks(), &expect()),
        Err(IdTokenError::NotAnIdToken)
    );
}

#[test]
fn an_es256_token_against_an_rsa_key_is_a_mismatch() {
    let ec = SigningKey::generate().unwrap();
    let token = ec
        .sign_jws(&json!({"kid": "rsa-1"}), &good_claims())
        .unwrap();
    assert_eq!(
        verify(&token, &jwks(), &expect()),
        Err(IdTokenError::AlgorithmMismatch)
    );
}

#[test]
fn es256_issuers_work_and_missing_kid_needs_a_single_fitting_key() {
    let ec = SigningKey::generate().unwrap();
    let mut jwk = serde_json::to_value(ec.public_jwk()).unwrap();
    jwk["kid"] = "ec-1".into();
    let set: JwkSet = serde_json::from_value(json!({ "keys": [jwk, rsa().jwk] })).unwrap();
    let token = ec
        .sign_jws(&json!({"kid": "ec-1"}), &good_claims())
        .unwrap();
    assert!(verify(&token, &set, &expect()).is_ok());
    let token = ec.sign_jws(&json!({}), &good_claims()).unwrap();
    assert!(
        verify(&token, &set, &expect()).is_ok(),
        "one EC key fits ES256"
    );
}

#[test]
fn garbage_is_malformed() {
    for token in ["", "a.b", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30"] {
        assert!(verify(token, &jwks(), &expect()).is_err(), "{token}");
    }
}

/// A token whose header and payload are the given raw JSON texts, signed
/// with the RSA test key.
fn rs256_raw(header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let mut sig = vec![0; rsa().pair.public_modulus_len()];
    rsa()
        .pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
    format!("{input}.{}", b64(sig))
}

#[test]
fn repeated_header_or_claim_names_are_refused() {
    let claims = serde_json::to_string(&good_claims()).unwrap();
    let header = r#"{"alg":"RS256","kid":"rsa-1"}"#;
    assert!(verify(&rs256_raw(header, &claims), &jwks(), &expect()).is_ok());
    // A lenient parser would keep the last `groups` (jsonwebtoken does, for
    // the claims it does not check itself).
    let twice = claims.replacen('{', r#"{"groups":["admins"],"#, 1);
    assert_eq!(
        verify(&rs256_raw(header, &twice), &jwks(), &expect()),
        Err(IdTokenError::DuplicateMember)
    );
    let header_twice = r#"{"alg":"none","kid":"rsa-1","alg":"RS256"}"#;
    assert_eq!(
        verify(&rs256_raw(header_twice, &claims), &jwks(), &expect()),
        Err(IdTokenError::DuplicateMember)
    );
}

#[test]
fn ecdsa_signature_with_r_and_s_zero_is_refused() {
    let ec = SigningKey::generate().unwrap();
    let mut jwk = serde_json::to_value(ec.public_jwk()).unwrap();
    jwk["kid"] = "ec-1".into();
    let set: JwkSet = serde_json::from_value(json!({ "keys": [jwk] })).unwrap();
    let token = ec
        .sign_jws(&json!({"kid": "ec-1"}), &good_claims())
        .unwrap();
    let (input, _) = token.rsplit_once('.').unwrap();
    let zero = format!("{input}.{}", b64([0u8; 64]));
    assert_eq!(
        verify(&zero, &set, &expect()),
        Err(IdTokenError::BadSignature)
    );
}

#[test]
fn messages_quote_token_text_short_and_escaped() {
    let kid = format!("{}\n\u{1b}[31m", "k".repeat(5000));
    let token = rs256(json!({ "kid": kid }), &good_claims());
    let message = verify(&token, &jwks(), &expect()).unwrap_err().to_string();
    assert!(message.len() < 300, "{message}");
    assert!(!message.chars().any(char::is_control), "{message:?}");
    let iss = format!("https://evil.example/\r\n{}", "x".repeat(5000));
    let message = check(&with(good_claims(), "iss", json!(iss)))
        .unwrap_err()
        .to_string();
    assert!(message.len() < 300, "{message}");
    assert!(!message.chars().any(char::is_control), "{message:?}");
}

#[test]
fn other_serializations_and_trailing_bytes_are_malformed() {
    let token = check_token();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let (header, payload) = input.split_once('.').unwrap();
    let json_serialization = json!({
        "payload": payload,
        "signatures": [
            {"protected": header, "signature": sig},
            {"protected": header, "signature": sig},
        ],
    })
    .to_string();
    for bad in [
        json_serialization,
        format!("{token}.extra"),
        format!("{token}AAAA"),
        format!("{token} "),
        format!("{token}\n"),
    ] {
        assert!(verify(&bad, &jwks(), &expect()).is_err(), "{bad}");
    }
    assert!(verify(&token, &jwks(), &expect()).is_ok());
}

fn check_token() -> String {
    rs256(json!({"kid": "rsa-1", "typ": "JWT"}), &good_claims())
}

#[test]
fn old_and_long_lived_tokens_are_refused() {
    // Issued a year ago, valid for a century: the outside attack run's token.
    let ancient = with(
        with(good_claims(), "iat", json!(NOW - 365 * 86_400)),
        "exp",
        json!(NOW + 100 * 365 * 86_400),
    );
    assert!(matches!(check(&ancient), Err(IdTokenError::TooOld { .. })));
    // Fresh, but valid for a century.
    let long = with(good_claims(), "exp", json!(NOW + 100 * 365 * 86_400));
    assert!(matches!(
        check(&long),
        Err(IdTokenError::TooLongLived { .. })
    ));
    // Issued just past the age bound (300 s plus the 60 s leeway), and just within it.
    let old = with(
        with(good_claims(), "iat", json!(NOW - 361)),
        "exp",
        json!(NOW + 300),
    );
    assert!(matches!(
        check(&old),
        Err(IdTokenError::TooOld { age: 361, max: 300 })
    ));
    let ok = with(
        with(good_claims(), "iat", json!(NOW - 360)),
        "exp",
        json!(NOW + 300),
    );
    assert!(check(&ok).is_ok());
    // Exactly a day long is fine; a second more is not.
    let day = with(good_claims(), "exp", json!(NOW - 5 + 86_400));
    assert!(check(&day).is_ok());
    let longer = with(good_claims(), "exp", json!(NOW - 5 + 86_401));
    assert!(check(&longer).is_err());
}
