//! Forged, mistyped and replayed ID tokens at `POST /v1/token` (RFC 8725): each is
//! refused with 400 `invalid_grant`, while a correctly signed token still works.

use serde_json::{Value, json};
use zt_core::jose::b64;

use super::{Caller, assert_refused, honest_certificate, setup, with, without};
use zt_testkit::hostile_idp::{CLIENT_ID, EC_KID, HostileIdp, RSA_KID, sign_raw_rs256, unix_now};

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(serde_json::to_vec(header).unwrap()),
        b64(serde_json::to_vec(claims).unwrap())
    )
}

/// Every forged token, by name.
fn forgeries(idp: &HostileIdp) -> Vec<(&'static str, String)> {
    let good = || idp.claims("mallory", &["sre"]);
    let kid = json!({"kid": RSA_KID});
    let hmac = |secret: &[u8]| {
        let input = unsigned(&json!({"alg": "HS256", "kid": RSA_KID}), &good());
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", b64(tag.as_ref()))
    };
    let es256 = idp.es256(&good());
    let (es256_input, _) = es256.rsplit_once('.').unwrap();
    let genuine = idp.id_token("mallory", &["sre"]);
    let (genuine_input, genuine_sig) = genuine.rsplit_once('.').unwrap();
    let (genuine_header, genuine_payload) = genuine_input.split_once('.').unwrap();
    let foreign = |header: Value| idp.rs256_foreign(header, &good());
    let now = unix_now();
    let twice =
        serde_json::to_string(&good())
            .unwrap()
            .replacen('{', r#"{"groups":["admins"],"#, 1);
    vec![
        ("alg none", format!("{}.", unsigned(&json!({"alg": "none", "kid": RSA_KID}), &good()))),
        ("alg none, no kid", format!("{}.", unsigned(&json!({"alg": "none"}), &good()))),
        ("HS256 keyed with the public JWK", hmac(&serde_json::to_vec(&idp.rsa_public_jwk()).unwrap())),
        ("HS256 keyed with the modulus", hmac(idp.rsa_public_jwk()["n"].as_str().unwrap().as_bytes())),
        ("ES256 with r = s = 0", format!("{es256_input}.{}", b64([0u8; 64]))),
        ("ES256 with r = s = 0, DER", format!("{es256_input}.{}", b64([0x30, 6, 2, 1, 0, 2, 1, 0]))),
        ("header jwk (own key)", foreign(json!({"kid": "attacker", "jwk": idp.foreign_public_jwk()}))),
        ("header jwk, no kid", foreign(json!({"jwk": idp.foreign_public_jwk()}))),
        ("header jku", foreign(json!({"kid": "attacker", "jku": idp.attacker_keys_url()}))),
        ("header x5u", foreign(json!({"kid": "attacker", "x5u": idp.attacker_keys_url()}))),
        ("header x5c", foreign(json!({"kid": "attacker", "x5c": ["MIIBszCCAVmgAwIBAgIU"]}))),
        ("unknown kid, long", foreign(json!({"kid": "k".repeat(4096)}))),
        ("unknown kid, path", foreign(json!({"kid": "../../../../etc/passwd"}))),
        ("unknown kid, SQL", foreign(json!({"kid": "' OR '1'='1' --"}))),
        ("unknown kid, control characters", foreign(json!({"kid": "a\nb\u{1b}[2J"}))),
        ("kid not a string", foreign(json!({"kid": {"$ne": null}}))),
        ("another IdP's key claiming this iss", foreign(json!({"kid": "other-idp"}))),
        ("another IdP's key under this IdP's kid", foreign(kid.clone())),
        ("wrong issuer", idp.rs256(kid.clone(), &with(good(), "iss", json!("https://evil.example")))),
        ("issuer with trailing slash", idp.rs256(kid.clone(), &with(good(), "iss", json!(format!("{}/", idp.issuer))))),
        ("wrong audience", idp.rs256(kid.clone(), &with(good(), "aud", json!("other-client")))),
        ("several audiences, foreign azp", idp.rs256(kid.clone(), &with(with(good(), "aud", json!([CLIENT_ID, "other"])), "azp", json!("other")))),
        ("several audiences, no azp", idp.rs256(kid.clone(), &without(with(good(), "aud", json!([CLIENT_ID, "other"])), "azp"))),
        ("exp as a string", idp.rs256(kid.clone(), &with(good(), "exp", json!((now + 300).to_string())))),
        ("exp as a float", idp.rs256(kid.clone(), &with(good(), "exp", json!(now as f64 + 300.5)))),
        ("missing exp", idp.rs256(kid.clone(), &without(good(), "exp"))),
        ("expired", idp.rs256(kid.clone(), &with(good(), "exp", json!(now - 3600)))),
        ("nbf far in the future", idp.rs256(kid.clone(), &with(good(), "nbf", json!(now + 86_400 * 365)))),
        ("iat in the future beyond leeway", idp.rs256(kid.clone(), &with(good(), "iat", json!(now + 600)))),
        ("missing iat", idp.rs256(kid.clone(), &without(good(), "iat"))),
        ("issued a year ago, valid for a century", idp.rs256(kid.clone(), &with(with(good(), "iat", json!(now - 365 * 86_400)), "exp", json!(now + 100 * 365 * 86_400)))),
        ("issued an hour ago", idp.rs256(kid.clone(), &with(good(), "iat", json!(now - 3600)))),
        ("fresh, valid for a century", idp.rs256(kid.clone(), &with(good(), "exp", json!(now + 100 * 365 * 86_400)))),
        ("empty sub", idp.rs256(kid.clone(), &with(good(), "sub", json!("")))),
        ("repeated claim name", sign_raw_rs256(r#"{"alg":"RS256","kid":"rsa-1"}"#, &twice)),
        ("repeated header name", sign_raw_rs256(r#"{"alg":"none","kid":"rsa-1","alg":"RS256"}"#, &serde_json::to_string(&good()).unwrap())),
        ("crit with an unknown name", idp.rs256(json!({"kid": RSA_KID, "crit": ["exp-hack"], "exp-hack": true}), &good())),
        ("typ at+jwt (an access token)", idp.rs256(json!({"kid": RSA_KID, "typ": "at+jwt"}), &good())),
        ("typ dpop+jwt", idp.rs256(json!({"kid": RSA_KID, "typ": "dpop+jwt"}), &good())),
        ("ES256 header on the RSA kid", {
            let ec = zt_core::jose::SigningKey::generate().unwrap();
            ec.sign_jws(&kid, &good()).unwrap()
        }),
        ("RS256 header on the EC kid", idp.rs256(json!({"kid": EC_KID}), &good())),
        ("JWS JSON serialization", json!({"protected": genuine_header, "payload": genuine_payload, "signature": genuine_sig}).to_string()),
        ("JWS JSON, several signatures", json!({"payload": genuine_payload, "signatures": [
            {"protected": genuine_header, "signature": genuine_sig},
            {"protected": b64(br#"{"alg":"none"}"#), "signature": ""},
        ]}).to_string()),
        ("trailing part", format!("{genuine}.AAAA")),
        ("trailing bytes on the signature", format!("{genuine}AAAA")),
        ("trailing whitespace", format!("{genuine} ")),
        ("empty", String::new()),
    ]
}

#[test]
fn forged_and_malformed_id_tokens_are_refused() {
    let (idp, broker) = setup();
    assert_eq!(
        honest_certificate(&idp, &broker, "alice").status,
        200,
        "positive control"
    );
    for (case, token) in forgeries(&idp) {
        let caller = Caller::new(&broker.url);
        let reply = caller.exchange(&token);
        assert_refused(&reply, 400, "invalid_grant", case, &token);
    }
    // A header naming its own key is never used, and never fetched.
    assert_eq!(
        idp.attacker_fetches(),
        0,
        "the broker fetched a jku/x5u URL"
    );
    assert_eq!(
        honest_certificate(&idp, &broker, "alice").status,
        200,
        "positive control after"
    );
    let log = broker.log();
    assert!(
        !log.contains("../../../../etc/passwd\n") && !log.contains('\u{1b}'),
        "raw token text reached the log:\n{log}"
    );
}

#[test]
fn a_flood_of_unknown_kids_refetches_the_jwks_at_most_once_a_minute() {
    let (idp, broker) = setup();
    assert_eq!(honest_certificate(&idp, &broker, "alice").status, 200);
    let before = idp.jwks_fetches();
    assert!(before >= 1);
    for i in 0..40 {
        let kid = format!("flood-{i}-{}", zt_core::jose::random_id());
        let token = idp.rs256_foreign(json!({"kid": kid}), &idp.claims("mallory", &["sre"]));
        let reply = Caller::new(&broker.url).exchange(&token);
        assert_refused(&reply, 400, "invalid_grant", "unknown kid", &token);
    }
    assert!(
        idp.jwks_fetches() - before <= 1,
        "{} JWKS fetches for 40 unknown kids",
        idp.jwks_fetches() - before
    );
    assert_eq!(honest_certificate(&idp, &broker, "alice").status, 200);
}

#[test]
fn an_id_token_is_exchanged_once_only() {
    let (idp, broker) = setup();
    let token = idp.id_token("alice", &["sre"]);
    assert_eq!(Caller::new(&broker.url).exchange(&token).status, 200);
    let again = Caller::new(&broker.url).exchange(&token);
    assert_refused(&again, 400, "id_token_reused", "second exchange", &token);
    // Without a jti the token's hash is the key of the single-use ledger.
    let claims = without(idp.claims("alice", &["sre"]), "jti");
    let token = idp.rs256(json!({"kid": RSA_KID}), &claims);
    assert_eq!(Caller::new(&broker.url).exchange(&token).status, 200);
    let again = Caller::new(&broker.url).exchange(&token);
    assert_refused(
        &again,
        400,
        "id_token_reused",
        "second exchange, no jti",
        &token,
    );
}

#[test]
fn broker_tokens_and_id_tokens_are_not_interchangeable() {
    let (idp, broker) = setup();
    let caller = Caller::new(&broker.url);
    let access_token = caller.access_token(&idp.id_token("alice", &["sre"]));
    // A broker access token where an ID token is expected: typ at+jwt, wrong
    // signer, wrong audience.
    let reply = Caller::new(&broker.url).exchange(&access_token);
    assert_refused(
        &reply,
        400,
        "invalid_grant",
        "access token as ID token",
        &access_token,
    );
    // An ID token where a broker access token is expected, with a proof bound to it.
    let id_token = idp.id_token("alice", &["sre"]);
    let key = zt_testkit::broker_client::ssh_key();
    let (proof, body) = caller.certificate_body(&id_token, &key);
    let reply = caller.certificate_raw(Some(&format!("DPoP {id_token}")), Some(&proof), &body);
    assert_refused(
        &reply,
        401,
        "invalid_token",
        "ID token as access token",
        &id_token,
    );
    // Bearer instead of DPoP.
    let (proof, body) = caller.certificate_body(&access_token, &key);
    let reply =
        caller.certificate_raw(Some(&format!("Bearer {access_token}")), Some(&proof), &body);
    assert_refused(&reply, 401, "invalid_token", "Bearer scheme", &access_token);
    // The positive control: the same access token, as DPoP.
    assert_eq!(caller.certificate(&access_token, &key).status, 200);
}
