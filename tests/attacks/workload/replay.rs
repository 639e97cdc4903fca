//! Each workload token (and ID token) is exchanged once: a replay, concurrent exchanges of
//! one token, and the same token under another valid signature.

use super::*;

#[test]
fn a_workload_token_is_exchanged_once_even_by_concurrent_callers() {
    let w = world();
    let mut reused = 0;
    for (case, claims) in [
        ("with jti", w.job()),
        ("without jti", without(w.job(), "jti")),
    ] {
        let token = w.github.mint(claims);
        w.granted(
            &w.exchange(&token),
            "token_exchange",
            "deploy-from-main",
            case,
        );
        w.refused(&w.exchange(&token), REFUSED, 400, "id_token_reused", case);
        reused += 1;
    }
    // Eight callers at once with one token, five times: exactly one wins each time. (A `sub`
    // per round keeps each identity under its rate limit.)
    for round in 0..5 {
        let claims = with(w.job(), "sub", format!("repo:{REPO}:run:{round}").into());
        let token = w.github.mint(claims);
        let replies = concurrently(&vec![token.clone(); 8], |token| w.exchange(token));
        let won = replies.iter().filter(|r| r.status == 200).count();
        assert_eq!(
            won, 1,
            "round {round}: {won} exchanges of one token succeeded"
        );
        for reply in replies.iter().filter(|r| r.status != 200) {
            assert_refused(reply, 400, "id_token_reused", "concurrent", &token);
            reused += 1;
        }
    }
    assert_eq!(w.records("token_exchange").len(), 2 + 5);
    let refused = w.records(REFUSED);
    assert_eq!(refused.len(), reused, "every replay is on the record");
    assert!(
        refused
            .iter()
            .all(|r| r["outcome"]["error"] == "id_token_reused")
    );
}

/// The same ES256 token with `s` replaced by `n − s` (P-256's group order `n`): ECDSA's other
/// valid signature over the same input, so a different string for the same token.
fn signature_twin(token: &str) -> String {
    const N: [u8; 32] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63,
        0x25, 0x51,
    ];
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut signature = zt_core::jose::b64_decode(signature).unwrap();
    let s = &mut signature[32..];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(N[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        s[i] = (d + 256 * borrow) as u8;
    }
    format!("{input}.{}", b64(signature))
}

/// The same token with the spare low bits of the signature's last base64url character set:
/// a lax decoder reads the same signature bytes.
fn spare_bits_twin(token: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (rest, last) = token.split_at(token.len() - 1);
    let index = ALPHABET
        .iter()
        .position(|&c| c == last.as_bytes()[0])
        .unwrap();
    // 64 and 256 signature bytes leave 4 spare bits in the last character.
    format!("{rest}{}", ALPHABET[index | 0b1111] as char)
}

#[test]
fn a_signature_twin_is_the_same_token_and_is_refused_as_reused() {
    let w = world();
    let job = || without(w.job(), "jti");
    let person = || without(w.idp.claims("alice", &["sre"]), "jti");
    type Twin = fn(&str) -> String;
    let cases: [(&str, String, bool, Twin); 4] = [
        (
            "ES256 workload token, s = n - s",
            w.github.mint(job()),
            true,
            signature_twin,
        ),
        (
            "ES256 ID token, s = n - s",
            w.idp.es256(&person()),
            false,
            signature_twin,
        ),
        (
            "ES256 workload token, spare bits",
            // Claims of their own: the same claims signed again are the same token to the
            // ledger (its key is the signed part, not the signature).
            w.github.mint(with(job(), "run_attempt", "2".into())),
            true,
            spare_bits_twin,
        ),
        (
            "RS256 workload token, spare bits",
            w.forger.rs256(
                json!({"kid": RSA_KID}),
                &with(job(), "iss", w.forger.issuer.clone().into()),
            ),
            true,
            spare_bits_twin,
        ),
    ];
    // The twin is no broken signature: it verifies with the issuer's published key.
    let twin = signature_twin(&cases[0].1);
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(w.github.jwks()["keys"][0].clone()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.validate_aud = false;
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    jsonwebtoken::decode::<Value>(&twin, &key, &validation).expect("the twin verifies");
    // Each jti-less token once, then its twin: the ledger must know it again.
    let mut wrong = Vec::new();
    for (case, token, workload, twin) in cases {
        let twin = twin(&token);
        assert_ne!(twin, token);
        let caller = Caller::new(&w.broker.url);
        let exchange = |t: &str| match workload {
            true => caller.workload_exchange(t),
            false => caller.exchange(t),
        };
        assert_eq!(exchange(&token).status, 200, "{case}: control");
        let reply = exchange(&twin);
        let record = w.last_record();
        // A twin a strict decoder refuses as malformed is fine too.
        let refused = reply.status == 400
            && matches!(reply.error(), Some("id_token_reused" | "invalid_grant"))
            && record["outcome"]["error"] == reply.error().unwrap();
        if !refused {
            wrong.push(format!(
                "{case}: {} {}",
                reply.status,
                reply.error().unwrap_or("")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "replayed under a twin signature:\n{}",
        wrong.join("\n")
    );
}
