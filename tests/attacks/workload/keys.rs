//! Who signed a workload token: algorithms and keys a token names for itself, unknown kids
//! of a trusted issuer (and how often that makes the broker fetch its keys), and issuers the
//! broker does not trust, which it must never contact.

use super::*;

/// Tokens that claim a trusted issuer and that no honest verifier accepts, by name.
fn forgeries(w: &World) -> Vec<(&'static str, String)> {
    let good = || w.forger_job();
    let rsa = w.forger.rsa_public_jwk();
    let ec = w.github.jwks()["keys"][0].clone();
    let ec_point = {
        let coordinate = |c: &str| zt_core::jose::b64_decode(ec[c].as_str().unwrap()).unwrap();
        [vec![4], coordinate("x"), coordinate("y")].concat()
    };
    let kid = w.github.current_kid();
    let foreign = |header: Value| w.forger.rs256_foreign(header, &good());
    let attacker = w.forger.attacker_keys_url();
    let raw = |prefix: &str| {
        let text = serde_json::to_string(&good()).unwrap();
        sign_raw_rs256(
            r#"{"alg":"RS256","kid":"rsa-1"}"#,
            &text.replacen('{', &format!("{{{prefix},"), 1),
        )
    };
    let genuine = w.github.mint(w.job());
    let (genuine_input, _) = genuine.rsplit_once('.').unwrap();
    vec![
        (
            "alg none, the issuer's kid",
            format!(
                "{}.",
                unsigned(&json!({"alg": "none", "kid": RSA_KID}), &good())
            ),
        ),
        (
            "alg None, no kid",
            format!("{}.", unsigned(&json!({"alg": "None"}), &good())),
        ),
        (
            "HS256 keyed with the issuer's RSA JWK",
            hs256(RSA_KID, &good(), &serde_json::to_vec(&rsa).unwrap()),
        ),
        (
            "HS256 keyed with the RSA modulus",
            hs256(RSA_KID, &good(), rsa["n"].as_str().unwrap().as_bytes()),
        ),
        (
            "HS256 keyed with the issuer's EC JWK",
            hs256(&kid, &w.job(), &serde_json::to_vec(&ec).unwrap()),
        ),
        (
            "HS256 keyed with the EC point",
            hs256(&kid, &w.job(), &ec_point),
        ),
        (
            "ES256 with r = s = 0",
            format!("{genuine_input}.{}", b64([0u8; 64])),
        ),
        // Genuinely signed by the issuer's RSA key, under the kid of its EC key.
        (
            "RS256 header on the issuer's EC kid",
            w.forger.rs256(json!({"kid": EC_KID}), &good()),
        ),
        (
            "ES256 header on the issuer's RSA kid",
            SigningKey::generate()
                .unwrap()
                .sign_jws(&json!({"kid": RSA_KID}), &good())
                .unwrap(),
        ),
        (
            "header jwk: the attacker's key",
            foreign(json!({"kid": "attacker", "jwk": w.forger.foreign_public_jwk()})),
        ),
        (
            "header jku: the attacker's keys",
            foreign(json!({"kid": "attacker", "jku": attacker})),
        ),
        (
            "header jku, the issuer's kid",
            foreign(json!({"kid": RSA_KID, "jku": attacker})),
        ),
        (
            "header x5u: the attacker's keys",
            foreign(json!({"kid": "attacker", "x5u": attacker})),
        ),
        (
            "header x5c",
            foreign(json!({"kid": "attacker", "x5c": ["MIIBszCCAVmgAwIBAgIU"]})),
        ),
        (
            "crit with an unknown name",
            w.forger.rs256(
                json!({"kid": RSA_KID, "crit": ["exp-hack"], "exp-hack": true}),
                &good(),
            ),
        ),
        (
            "typ dpop+jwt",
            w.forger
                .rs256(json!({"kid": RSA_KID, "typ": "dpop+jwt"}), &good()),
        ),
        // The last of a repeated name is the one most parsers keep.
        ("repeated repository", raw(r#""repository":"acme/evil""#)),
        (
            "repeated iss",
            raw(&format!(r#""iss":{:?}"#, w.github.issuer())),
        ),
        (
            "repeated header name",
            sign_raw_rs256(
                r#"{"alg":"none","kid":"rsa-1","alg":"RS256"}"#,
                &good().to_string(),
            ),
        ),
    ]
}

#[test]
fn forged_algorithms_and_keys_named_by_the_token_are_refused() {
    let w = world();
    let control = w.forger.rs256(json!({"kid": RSA_KID}), &w.forger_job());
    w.granted(
        &w.exchange(&control),
        "token_exchange",
        "deploy-from-main",
        "control",
    );
    for (case, token) in forgeries(&w) {
        let reply = w.exchange(&token);
        assert_refused(&reply, 400, "invalid_grant", case, &token);
        let record = w.last_record();
        assert_eq!(record["kind"], REFUSED, "{case}: {record}");
        assert_eq!(record["outcome"]["error"], "invalid_grant", "{case}");
        // Nothing a forged token says reaches the record as if it were verified.
        assert!(record.get("identity").is_none(), "{case}: {record}");
        assert!(record.get("workload").is_none(), "{case}: {record}");
    }
    assert_eq!(
        w.forger.attacker_fetches(),
        0,
        "the broker fetched a jku/x5u URL"
    );
    let control = w.forger.rs256(json!({"kid": RSA_KID}), &w.forger_job());
    w.granted(
        &w.exchange(&control),
        "token_exchange",
        "deploy-from-main",
        "after",
    );
}

#[test]
fn unknown_kids_for_a_trusted_issuer_refetch_its_keys_at_most_once_a_minute() {
    let w = world();
    // Kids the trusted issuer never published, signed by a key it never held; and the other
    // trusted issuer's key under its own kid (keys belong to their issuer, not to a kid).
    let mut tokens: Vec<String> = (0..20)
        .map(|i| {
            let kid = format!("rotated-{i}-{}", random_id());
            w.idp.rs256_foreign(json!({"kid": kid}), &w.job())
        })
        .collect();
    tokens.extend((0..5).map(|_| w.forger.rs256(json!({"kid": RSA_KID}), &w.job())));
    let replies = concurrently(&tokens, |token| w.exchange(token));
    for (reply, token) in replies.iter().zip(&tokens) {
        assert_refused(reply, 400, "invalid_grant", "unknown kid", token);
    }
    // The first of them needs the keys; none of the others may fetch them again.
    assert_eq!(
        w.github.jwks_fetches(),
        1,
        "JWKS fetches for 25 unknown kids"
    );
    assert_eq!(
        w.forger.jwks_fetches(),
        0,
        "keys fetched from an issuer the tokens do not claim"
    );
    let refused = w.records(REFUSED);
    assert_eq!(
        refused.len(),
        tokens.len(),
        "every refusal is on the record"
    );
    assert!(
        refused
            .iter()
            .all(|r| r["outcome"]["error"] == "invalid_grant")
    );
    let control = w.exchange(&w.github.mint(w.job()));
    w.granted(&control, "token_exchange", "deploy-from-main", "control");
    assert_eq!(w.github.jwks_fetches(), 1, "a known key needs no fetch");
}

#[test]
fn tokens_from_issuers_the_broker_does_not_trust_are_refused_without_contacting_them() {
    let w = world();
    let stranger = WorkloadIssuer::start(Alg::Rs256);
    let mut silent = Unanswered::bind();
    let github = w.github.issuer();
    let claiming = |iss: Value| w.github.mint(with(w.job(), "iss", iss));
    let cases = [
        (
            "an issuer with real keys",
            stranger.mint(stranger.github_claims(REPO, MAIN, &w.broker.url)),
        ),
        (
            "an issuer that never answers",
            stranger.mint(with(w.job(), "iss", silent.url().into())),
        ),
        (
            "the trusted issuer with a trailing slash",
            claiming(format!("{github}/").into()),
        ),
        (
            "the trusted issuer in upper case",
            claiming(github.to_uppercase().into()),
        ),
        (
            "the trusted issuer with a path",
            claiming(format!("{github}/evil").into()),
        ),
        ("the trusted issuer in an array", claiming(json!([github]))),
        ("no issuer", w.github.mint(without(w.job(), "iss"))),
        ("the people's IdP", w.idp.id_token("alice", &["sre"])),
    ];
    for (i, (case, token)) in cases.iter().enumerate() {
        let reply = w.exchange(token);
        w.refused(&reply, REFUSED, 400, "invalid_grant", case);
        assert_refused(&reply, 400, "invalid_grant", case, token);
        if i < 2 {
            let description = reply.str("error_description");
            assert!(
                description.contains("[[workload_issuers]]"),
                "{description}"
            );
        }
    }
    assert_eq!(
        stranger.jwks_fetches(),
        0,
        "the stranger's keys were fetched"
    );
    assert_eq!(
        silent.connections(),
        0,
        "the broker contacted a claimed issuer"
    );
    assert_eq!(w.github.jwks_fetches(), 0, "lookalikes made it fetch keys");
    // A workload token is no person's ID token either.
    let token = w.github.mint(w.job());
    let reply = Caller::new(&w.broker.url).exchange(&token);
    w.refused(
        &reply,
        REFUSED,
        400,
        "invalid_grant",
        "workload token as ID token",
    );
    w.granted(
        &w.exchange(&token),
        "token_exchange",
        "deploy-from-main",
        "control",
    );
}
