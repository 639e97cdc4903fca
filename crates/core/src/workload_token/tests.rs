//! Workload tokens against [`super::verify`]: what a GitHub Actions or Kubernetes token
//! looks like, and every way one can be wrong.

use super::*;
use crate::jose::SigningKey;
use serde_json::json;
use std::sync::OnceLock;

const ISS: &str = "https://token.actions.example";
const AUD: &str = "https://broker.example";
const NOW: u64 = 1_800_000_000;

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().unwrap())
}

fn jwks() -> JwkSet {
    let mut jwk = serde_json::to_value(key().public_jwk()).unwrap();
    jwk["kid"] = "ci-1".into();
    jwk["alg"] = "ES256".into();
    serde_json::from_value(json!({ "keys": [jwk] })).unwrap()
}

fn sign(claims: &Value) -> String {
    key()
        .sign_jws(&json!({"typ": "JWT", "kid": "ci-1"}), claims)
        .unwrap()
}

fn github() -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "repo:acme/app:ref:refs/heads/main",
        "exp": NOW + 300, "iat": NOW - 5, "nbf": NOW - 5, "jti": "job-1",
        "repository": "acme/app", "ref": "refs/heads/main", "run_id": "42",
        "run_attempt": "1", "event_name": "push", "ref_protected": true,
        "job_workflow_ref": "acme/app/.github/workflows/deploy.yml@refs/heads/main",
    })
}

fn expect() -> Expectations<'static> {
    Expectations {
        issuer: ISS,
        audience: AUD,
        subject_claim: "sub",
        now: NOW,
        bounds: TokenBounds {
            max_age_secs: 3600,
            max_lifetime_secs: 86_400,
        },
    }
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

#[test]
fn a_github_token_verifies_with_its_claims() {
    let verified = verify(&sign(&github()), &jwks(), &expect()).unwrap();
    assert_eq!(verified.identity.issuer, ISS);
    assert_eq!(
        verified.identity.subject,
        "repo:acme/app:ref:refs/heads/main"
    );
    assert_eq!(verified.token_id, format!("{ISS} job-1"));
    let claims = verified.identity.workload.unwrap();
    assert_eq!(claims["repository"], "acme/app");
    assert_eq!(claims["ref_protected"], "true");
    assert_eq!(claims["aud"], AUD);
    assert!(!claims.contains_key("exp") && !claims.contains_key("jti"));
}

#[test]
fn kubernetes_claims_are_flattened() {
    let claims = json!({
        "iss": ISS, "aud": [AUD, "https://kubernetes.default.svc"],
        "sub": "system:serviceaccount:ci:deployer", "exp": NOW + 600, "iat": NOW - 60,
        "kubernetes.io": {
            "namespace": "ci",
            "serviceaccount": {"name": "deployer", "uid": "u-1"},
            "pod": {"name": "runner-x", "uid": "u-2"},
        },
    });
    let verified = verify(&sign(&claims), &jwks(), &expect()).unwrap();
    let flat = verified.identity.workload.unwrap();
    assert_eq!(flat["kubernetes.io.namespace"], "ci");
    assert_eq!(flat["kubernetes.io.serviceaccount.name"], "deployer");
    // An array is not a value a rule can match: left out.
    assert!(!flat.contains_key("aud"));
    // No jti: the ledger key is the token's hash.
    assert_eq!(verified.token_id.len(), 43);
}

#[test]
fn wrong_issuer_audience_and_times_are_refused() {
    let cases = [
        (
            with(github(), "iss", json!("https://evil.example")),
            "issued by",
        ),
        (
            with(github(), "aud", json!("https://other-broker")),
            "not meant",
        ),
        (with(github(), "aud", json!([])), "not meant"),
        (with(github(), "exp", json!(NOW - 61)), "expired"),
        (with(github(), "iat", json!(NOW + 120)), "not valid yet"),
        (with(github(), "nbf", json!(NOW + 120)), "not valid yet"),
        (
            with(github(), "iat", json!(NOW - 4000)),
            "issued 4000 s ago",
        ),
        (
            with(
                with(github(), "iat", json!(NOW - 10)),
                "exp",
                json!(NOW + 90_000),
            ),
            "valid for",
        ),
        (with(github(), "exp", json!("soon")), "claim"),
        (with(github(), "iat", json!(NOW as f64 + 0.5)), "claim"),
        (with(github(), "sub", json!("")), "missing"),
        (with(github(), "sub", json!(7)), "missing"),
    ];
    for (claims, needle) in cases {
        let error = verify(&sign(&claims), &jwks(), &expect())
            .unwrap_err()
            .to_string();
        assert!(error.contains(needle), "{claims}: {error}");
    }
}

#[test]
fn another_subject_claim_can_name_the_workload() {
    let claims = with(github(), "client_id", json!("zt-ci"));
    let expect = Expectations {
        subject_claim: "client_id",
        ..expect()
    };
    let verified = verify(&sign(&claims), &jwks(), &expect).unwrap();
    assert_eq!(verified.identity.subject, "zt-ci");
}

#[test]
fn a_workload_name_that_cannot_name_an_identity_is_refused() {
    for (sub, fault) in [
        ("repo:acme/app\0", "holds a NUL character"),
        (&*"r".repeat(1025), "is longer than 1024 bytes"),
    ] {
        let error = verify(
            &sign(&with(github(), "sub", json!(sub))),
            &jwks(),
            &expect(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains(fault), "{error}");
    }
}

#[test]
fn forged_headers_are_refused_as_for_id_tokens() {
    let payload = jose::b64(serde_json::to_vec(&github()).unwrap());
    for header in [
        json!({"alg": "none"}),
        json!({"alg": "HS256", "kid": "ci-1"}),
        json!({"alg": "ES256", "kid": "ci-1", "jku": "https://evil/jwks"}),
        json!({"alg": "ES256", "kid": "ci-1", "typ": "dpop+jwt"}),
        json!({"alg": "ES256", "kid": "other"}),
    ] {
        let token = format!(
            "{}.{payload}.{}",
            jose::b64(serde_json::to_vec(&header).unwrap()),
            jose::b64([0u8; 64])
        );
        assert!(verify(&token, &jwks(), &expect()).is_err(), "{header}");
    }
    // Signed by a key the issuer does not publish.
    let other = SigningKey::generate().unwrap();
    let token = other
        .sign_jws(&json!({"typ": "JWT", "kid": "ci-1"}), &github())
        .unwrap();
    assert_eq!(
        verify(&token, &jwks(), &expect()),
        Err(IdTokenError::BadSignature)
    );
    // An RFC 9068 access token (client credentials) is a workload token.
    let token = key()
        .sign_jws(&json!({"typ": "at+jwt", "kid": "ci-1"}), &github())
        .unwrap();
    assert!(verify(&token, &jwks(), &expect()).is_ok());
}

#[test]
fn flattening_is_bounded() {
    let mut claims = serde_json::Map::new();
    for i in 0..500 {
        claims.insert(format!("c{i:03}"), json!("v"));
    }
    claims.insert("big".into(), json!("x".repeat(2000)));
    claims.insert("bad name".into(), json!("v"));
    claims.insert("deep".into(), json!({"a": {"b": {"c": {"d": "v"}}}}));
    let flat = flatten(&Value::Object(claims));
    assert_eq!(flat.len(), MAX_CLAIMS);
    assert!(!flat.contains_key("big") && !flat.contains_key("bad name"));
    let deep = flatten(&json!({"deep": {"a": {"b": {"c": "v", "d": {"e": "w"}}}}}));
    assert_eq!(deep.get("deep.a.b.c").map(String::as_str), Some("v"));
    assert!(!deep.contains_key("deep.a.b.d.e"));
}

#[test]
fn a_name_reached_twice_is_kept_under_neither_spelling() {
    let flat = flatten(&json!({
        "kubernetes.io": {"namespace": "other", "serviceaccount": {"name": "sa"}},
        "kubernetes.io.namespace": "ci",
        "a.b": "x",
        "a": {"b": "x"},
    }));
    assert!(!flat.contains_key("kubernetes.io.namespace"), "{flat:?}");
    assert!(!flat.contains_key("a.b"), "{flat:?}");
    assert_eq!(flat["kubernetes.io.serviceaccount.name"], "sa");
}

#[test]
fn the_ledger_key_is_per_issuer_and_survives_a_twin_signature() {
    let verified = verify(&sign(&github()), &jwks(), &expect()).unwrap();
    assert_eq!(verified.token_id, format!("{ISS} job-1"));
    let mut claims = github();
    claims.as_object_mut().unwrap().remove("jti");
    let token = sign(&claims);
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let twin = format!("{signed}.{}", signature.chars().rev().collect::<String>());
    assert_eq!(ledger_key(ISS, None, &token), ledger_key(ISS, None, &twin));
}

#[test]
fn the_claimed_issuer_is_read_without_verifying() {
    assert_eq!(claimed_issuer(&sign(&github())).as_deref(), Some(ISS));
    assert_eq!(claimed_issuer("not-a-token"), None);
}
