//! Proof of possession at the broker: DPoP proofs (RFC 9449) on both POSTs, the
//! proof that the caller holds the SSH key it wants certified, and the subject keys
//! the broker refuses to certify at all.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use ssh_key::public::{DsaPublicKey, KeyData, RsaPublicKey};
use ssh_key::{Algorithm, EcdsaCurve, Mpint, PrivateKey, PublicKey};
use zt_core::dpop::ProofClaims;
use zt_core::jose::SigningKey;

use super::{Caller, assert_refused, setup};
use zt_testkit::broker_client::{Proof, ssh_key};
use zt_testkit::hostile_idp::unix_now;

/// A proof whose `jwk` is `device`'s but whose signature is `signer`'s.
fn proof_signed_by(
    signer: &SigningKey,
    device: &SigningKey,
    url: &str,
    ath: Option<&str>,
) -> String {
    let claims = ProofClaims {
        jti: zt_core::jose::random_id(),
        htm: "POST".into(),
        htu: url.into(),
        iat: unix_now(),
        ath: ath.map(|t| zt_core::jose::sha256_b64(t.as_bytes())),
        nonce: None,
        zt_posture: None,
    };
    let header = json!({ "typ": "dpop+jwt", "jwk": device.public_jwk() });
    signer.sign_jws(&header, &claims).unwrap()
}

#[test]
fn bad_dpop_proofs_at_the_token_endpoint_are_refused() {
    let (idp, broker) = setup();
    let caller = Caller::new(&broker.url);
    let url = caller.token_url();
    let now = unix_now();
    let other = SigningKey::generate().unwrap();
    let form = |sub: &str| zt_core::requests::exchange_form(&idp.id_token(sub, &["sre"]));
    let proof = |method: &str, url: &str, iat: u64| {
        caller
            .proof(&Proof {
                method,
                url,
                iat,
                access_token: None,
            })
            .0
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing proof", None),
        ("garbage proof", Some("not.a.jwt".into())),
        (
            "bad signature",
            Some(proof_signed_by(&other, &caller.device, &url, None)),
        ),
        ("wrong htm", Some(proof("GET", &url, now))),
        (
            "wrong htu",
            Some(proof("POST", "https://evil.example/v1/token", now)),
        ),
        (
            "htu of the other endpoint",
            Some(proof("POST", &caller.certificate_url(), now)),
        ),
        (
            "iat 120 s in the past",
            Some(proof("POST", &url, now - 120)),
        ),
        (
            "iat 120 s in the future",
            Some(proof("POST", &url, now + 120)),
        ),
        (
            "ath without an access token",
            Some(
                caller
                    .proof(&Proof {
                        method: "POST",
                        url: &url,
                        iat: now,
                        access_token: Some("x"),
                    })
                    .0,
            ),
        ),
    ];
    for (case, dpop) in cases {
        let reply = caller.exchange_raw(&form("alice"), dpop.as_deref());
        assert_refused(&reply, 401, "invalid_dpop_proof", case, "");
    }
    // A proof used once is spent, even with a new ID token.
    let reused = proof("POST", &url, now);
    assert_eq!(
        caller.exchange_raw(&form("alice"), Some(&reused)).status,
        200,
        "positive control"
    );
    let reply = caller.exchange_raw(&form("alice"), Some(&reused));
    assert_refused(&reply, 401, "invalid_dpop_proof", "reused jti", "");
}

#[test]
fn bad_dpop_proofs_at_the_certificate_endpoint_are_refused() {
    let (idp, broker) = setup();
    let caller = Caller::new(&broker.url);
    let token = caller.access_token(&idp.id_token("alice", &["sre"]));
    let url = caller.certificate_url();
    let key = ssh_key();
    let authorization = format!("DPoP {token}");
    let now = unix_now();
    let thief = Caller::new(&broker.url);
    // Each case: (name, proof, body with possession proof over that proof's jti).
    let with_proof = |p: &Proof<'_>| {
        let (proof, jti) = caller.proof(p);
        let body = zt_core::requests::certificate_request(&key, &jti, None).unwrap();
        (proof, serde_json::to_value(body).unwrap())
    };
    let stolen = {
        let (proof, jti) = thief.proof(&Proof {
            method: "POST",
            url: &url,
            iat: now,
            access_token: Some(&token),
        });
        let body = zt_core::requests::certificate_request(&key, &jti, None).unwrap();
        (proof, serde_json::to_value(body).unwrap())
    };
    let other = SigningKey::generate().unwrap();
    let forged = proof_signed_by(&other, &caller.device, &url, Some(&token));
    let honest_body = with_proof(&Proof {
        method: "POST",
        url: &url,
        iat: now,
        access_token: Some(&token),
    })
    .1;
    let cases: Vec<(&str, Option<String>, Value)> = vec![
        ("missing proof", None, honest_body.clone()),
        ("bad signature", Some(forged), honest_body.clone()),
        (
            "proof key is not the token's cnf.jkt",
            Some(stolen.0),
            stolen.1,
        ),
        {
            let (p, b) = with_proof(&Proof {
                method: "PUT",
                url: &url,
                iat: now,
                access_token: Some(&token),
            });
            ("wrong htm", Some(p), b)
        },
        {
            let (p, b) = with_proof(&Proof {
                method: "POST",
                url: "https://evil.example/v1/ssh/certificates",
                iat: now,
                access_token: Some(&token),
            });
            ("wrong htu", Some(p), b)
        },
        {
            let (p, b) = with_proof(&Proof {
                method: "POST",
                url: &url,
                iat: now - 61 - 60,
                access_token: Some(&token),
            });
            ("iat outside -60 s", Some(p), b)
        },
        {
            let (p, b) = with_proof(&Proof {
                method: "POST",
                url: &url,
                iat: now + 121,
                access_token: Some(&token),
            });
            ("iat outside +60 s", Some(p), b)
        },
        {
            let (p, b) = with_proof(&Proof {
                method: "POST",
                url: &url,
                iat: now,
                access_token: None,
            });
            ("no ath", Some(p), b)
        },
        {
            let (p, b) = with_proof(&Proof {
                method: "POST",
                url: &url,
                iat: now,
                access_token: Some("another-token"),
            });
            ("ath of another token", Some(p), b)
        },
    ];
    for (case, dpop, body) in cases {
        let reply = caller.certificate_raw(Some(&authorization), dpop.as_deref(), &body);
        assert_refused(&reply, 401, "invalid_dpop_proof", case, &token);
    }
    // Replay: the same request twice.
    let (proof, body) = caller.certificate_body(&token, &key);
    let first = caller.certificate_raw(Some(&authorization), Some(&proof), &body);
    assert_eq!(first.status, 200, "positive control: {}", first.body);
    let again = caller.certificate_raw(Some(&authorization), Some(&proof), &body);
    assert_refused(&again, 401, "invalid_dpop_proof", "reused jti", &token);
}

#[test]
fn a_certificate_for_a_key_the_caller_does_not_hold_is_refused() {
    let (idp, broker) = setup();
    let caller = Caller::new(&broker.url);
    let token = caller.access_token(&idp.id_token("alice", &["sre"]));
    let (held, victim) = (ssh_key(), ssh_key());
    let victim_line = victim.public_key().to_openssh().unwrap();
    // Possession proof made with the held key, for the victim's public key.
    let reply = caller.certificate_with(&token, &held, |body| {
        body["public_key"] = victim_line.clone().into();
    });
    assert_refused(&reply, 400, "invalid_key", "someone else's key", "");
    // A possession proof from an earlier request (over another DPoP jti).
    let (_, earlier) = caller.certificate_body(&token, &held);
    let reply = caller.certificate_with(&token, &held, |body| {
        body["possession_proof"] = earlier["possession_proof"].clone();
    });
    assert_refused(&reply, 400, "invalid_key", "possession proof replayed", "");
    let reply = caller.certificate_with(&token, &held, |body| {
        body["possession_proof"] =
            "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----".into();
    });
    assert_refused(&reply, 400, "invalid_key", "garbage possession proof", "");
    assert_eq!(
        caller.certificate(&token, &held).status,
        200,
        "positive control"
    );
}

fn line(key: KeyData) -> String {
    PublicKey::new(key, "attack").to_openssh().unwrap()
}

fn mpint(bytes: &[u8]) -> Mpint {
    Mpint::from_positive_bytes(bytes).unwrap()
}

fn off_curve_p256() -> String {
    let key = PrivateKey::random(
        &mut rand_core::OsRng,
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP256,
        },
    )
    .unwrap();
    let mut blob = key.public_key().to_bytes().unwrap();
    // The last byte is the last byte of y: changing it moves the point off the curve.
    *blob.last_mut().unwrap() ^= 0x01;
    format!("ecdsa-sha2-nistp256 {}", STANDARD.encode(blob))
}

#[test]
fn weak_or_wrong_subject_keys_are_refused() {
    let (idp, broker) = setup();
    let caller = Caller::new(&broker.url);
    let token = caller.access_token(&idp.id_token("alice", &["sre"]));
    let modulus = |bytes: usize| {
        let mut n = vec![0xC5; bytes];
        n[0] = 0xE1;
        n
    };
    let honest = caller.certificate(&token, &ssh_key());
    assert_eq!(honest.status, 200, "positive control: {}", honest.body);
    let host_ca = std::fs::read_to_string(broker.home().join("host_ca.pub")).unwrap();
    let cases = [
        (
            "DSA",
            line(KeyData::Dsa(DsaPublicKey {
                p: mpint(&modulus(128)),
                q: mpint(&modulus(20)),
                g: mpint(&[2]),
                y: mpint(&modulus(128)),
            })),
        ),
        (
            "RSA 1024",
            line(KeyData::Rsa(RsaPublicKey {
                e: mpint(&[1, 0, 1]),
                n: mpint(&modulus(128)),
            })),
        ),
        (
            "RSA 2047",
            line(KeyData::Rsa(RsaPublicKey {
                e: mpint(&[1, 0, 1]),
                n: mpint(&{
                    let mut n = modulus(256);
                    n[0] = 0x7F;
                    n
                }),
            })),
        ),
        (
            "RSA e = 3",
            line(KeyData::Rsa(RsaPublicKey {
                e: mpint(&[3]),
                n: mpint(&modulus(256)),
            })),
        ),
        (
            "RSA e = 1",
            line(KeyData::Rsa(RsaPublicKey {
                e: mpint(&[1]),
                n: mpint(&modulus(256)),
            })),
        ),
        ("ECDSA point off the curve", off_curve_p256()),
        ("a certificate", honest.str("certificate").to_owned()),
        ("the user CA's own key", broker.user_ca()),
        ("the host CA's key", host_ca.trim().to_owned()),
        ("not a key", "ssh-ed25519 AAAA".into()),
        (
            "two lines",
            format!(
                "{}\n{}",
                broker.user_ca(),
                ssh_key().public_key().to_openssh().unwrap()
            ),
        ),
    ];
    for (case, public_key) in cases {
        let reply = caller.certificate_with(&token, &ssh_key(), |body| {
            body["public_key"] = public_key.clone().into();
        });
        assert_refused(&reply, 400, "invalid_key", case, "");
    }
    assert_eq!(
        caller.certificate(&token, &ssh_key()).status,
        200,
        "positive control after"
    );
}

/// Headers a case adds, given two fresh proofs.
type ExtraHeaders = Box<dyn Fn(&str, &str) -> Vec<(&'static str, String)>>;

#[test]
fn repeated_security_headers_are_refused() {
    let (idp, broker) = setup();
    let caller = Caller::new(&broker.url);
    let token = caller.access_token(&idp.id_token("alice", &["sre"]));
    let authorization = format!("DPoP {token}");
    let url = caller.certificate_url();
    let json = "application/json";
    // Each case gets its own proofs, so none is refused as a replay.
    let cases: Vec<(&str, u16, &str, ExtraHeaders)> = vec![
        (
            "two valid DPoP proofs",
            401,
            "invalid_dpop_proof",
            Box::new(|p1, p2| vec![("DPoP", p1.into()), ("DPoP", p2.into())]),
        ),
        (
            "a valid DPoP proof, then garbage",
            401,
            "invalid_dpop_proof",
            Box::new(|p1, _| vec![("DPoP", p1.into()), ("DPoP", "garbage".into())]),
        ),
        (
            "two Authorization headers",
            401,
            "invalid_token",
            Box::new(|p1, _| vec![("DPoP", p1.into()), ("Authorization", "DPoP x".into())]),
        ),
        (
            "two Content-Type headers",
            400,
            "invalid_request",
            Box::new(|p1, _| vec![("DPoP", p1.into()), ("Content-Type", "text/plain".into())]),
        ),
    ];
    for (case, status, code, extra) in cases {
        let (proof, body) = caller.certificate_body(&token, &ssh_key());
        let (second, _) = caller.certificate_body(&token, &ssh_key());
        let mut headers: Vec<(&str, String)> = vec![
            ("Authorization", authorization.clone()),
            ("Content-Type", json.into()),
        ];
        headers.extend(extra(&proof, &second));
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = caller.post_with_headers(&url, &headers, &body);
        assert_refused(&reply, status, code, case, &token);
    }
    // The token endpoint too.
    let form = zt_core::requests::exchange_form(&idp.id_token("alice", &["sre"]));
    let body = serde_json::to_value(&form).unwrap();
    let (p1, p2) = (caller.token_proof(), caller.token_proof());
    let reply = caller.post_with_headers(
        &caller.token_url(),
        &[("DPoP", &p1), ("DPoP", &p2), ("Content-Type", json)],
        &body,
    );
    assert_refused(
        &reply,
        401,
        "invalid_dpop_proof",
        "two proofs at /v1/token",
        "",
    );
    // Control: the same request with one of each header.
    let (proof, body) = caller.certificate_body(&token, &ssh_key());
    let reply = caller.post_with_headers(
        &url,
        &[
            ("Authorization", &authorization),
            ("Content-Type", json),
            ("DPoP", &proof),
        ],
        &body,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
}
