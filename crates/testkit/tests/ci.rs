//! The CI peers against real consumers: oidc-provider's client-credentials client issues
//! RFC 9068 JWTs, and docs/examples/verify_token.mjs (jose under Node) accepts exactly the
//! tokens a service should accept. Both need node and tests/idp/node_modules.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use zt_testkit::idp::{CI_CLIENT_ID, DEFAULT_CI_RESOURCE, IDP_DIR, IdpOptions, TestIdp};
use zt_testkit::workload_issuer::{Alg, WorkloadIssuer};
use zt_testkit::{Peer, http, require_peers};

const VERIFY_TOKEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/examples/verify_token.mjs"
);

/// Verifies an oidc-provider access token with the provider's own JWKS.
fn verify_at_jwt(idp: &TestIdp, token: &str, audience: &str) -> Value {
    let set: JwkSet = serde_json::from_value(http::get_json(&idp.url("/jwks")).body).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[&idp.issuer]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

#[test]
fn ci_client_gets_a_jwt_access_token_for_its_resource_only() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let response = idp.client_credentials(Some(DEFAULT_CI_RESOURCE));
    assert_eq!(response.status, 200, "{response:?}\n{}", idp.log());
    assert_eq!(response.str("token_type"), "Bearer");
    assert_eq!(response.body["expires_in"], 300);
    let token = response.str("access_token");
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, Algorithm::RS256);
    let claims = verify_at_jwt(&idp, token, DEFAULT_CI_RESOURCE);
    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["aud", "client_id", "exp", "iat", "iss", "jti", "sub"]
    );
    assert_eq!(claims["sub"], CI_CLIENT_ID);
    assert_eq!(claims["client_id"], CI_CLIENT_ID);
    assert_eq!(claims["aud"], DEFAULT_CI_RESOURCE);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );

    let other = idp.client_credentials(Some("https://other.example"));
    assert_eq!((other.status, other.error()), (400, Some("invalid_target")));
    // Without a resource the token is opaque: not a JWS.
    let opaque = idp.client_credentials(None);
    assert_eq!(opaque.status, 200, "{opaque:?}");
    assert_eq!(opaque.str("access_token").split('.').count(), 1);
}

#[test]
fn ci_resource_and_token_lifetime_follow_the_options() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let resource = "https://broker.example";
    let idp = TestIdp::start(IdpOptions {
        ci_resource: Some(resource.to_owned()),
        access_token_ttl_secs: Some(120),
        ..IdpOptions::default()
    });
    let response = idp.client_credentials(Some(resource));
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body["expires_in"], 120);
    let claims = verify_at_jwt(&idp, response.str("access_token"), resource);
    assert_eq!(claims["aud"], resource);
    let default = idp.client_credentials(Some(DEFAULT_CI_RESOURCE));
    assert_eq!(default.error(), Some("invalid_target"));
}

/// Runs verify_token.mjs as a service owner would, from a directory with no node_modules,
/// finding jose through NODE_PATH.
fn verify_token(issuer: &WorkloadIssuer, audience: &str, extra: &[&str], token: &str) -> Output {
    let cwd = zt_testkit::tempdir();
    let mut child = Command::new("node")
        .arg(VERIFY_TOKEN)
        .args([
            "--jwks-uri",
            &issuer.jwks_uri(),
            "--issuer",
            &issuer.issuer(),
        ])
        .args(["--audience", audience])
        .args(extra)
        .env("NODE_PATH", Path::new(IDP_DIR).join("node_modules"))
        .current_dir(cwd.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn refused(output: &Output, code: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(output.stdout.is_empty());
    assert!(stderr.contains(code), "expected {code}, stderr: {stderr}");
}

#[test]
fn verify_token_example_accepts_good_tokens_and_refuses_the_rest() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let issuer = WorkloadIssuer::start(Alg::Es256);
    let good = issuer.github_claims("acme/app", "refs/heads/main", "billing");

    let output = verify_token(
        &issuer,
        "billing",
        &["--max-age", "60"],
        &issuer.mint(good.clone()),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    let claims: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(claims, good);

    // Mid-rotation the set holds the old and the new key; a token of the new one verifies.
    issuer.rotate();
    let output = verify_token(&issuer, "billing", &[], &issuer.mint(good.clone()));
    assert_eq!(output.status.code(), Some(0));

    let wrong_audience = verify_token(&issuer, "payroll", &[], &issuer.mint(good.clone()));
    refused(&wrong_audience, "ERR_JWT_CLAIM_VALIDATION_FAILED");

    let now = good["iat"].as_u64().unwrap();
    let mut expired = good.clone();
    expired["exp"] = (now - 120).into();
    refused(
        &verify_token(&issuer, "billing", &[], &issuer.mint(expired)),
        "ERR_JWT_EXPIRED",
    );

    let mut old = good.clone();
    old["iat"] = (now - 600).into();
    old["nbf"] = (now - 600).into();
    refused(
        &verify_token(&issuer, "billing", &["--max-age", "60"], &issuer.mint(old)),
        "ERR_JWT_EXPIRED",
    );

    let mut no_nbf = good.clone();
    no_nbf.as_object_mut().unwrap().remove("nbf");
    refused(
        &verify_token(&issuer, "billing", &[], &issuer.mint(no_nbf)),
        "ERR_JWT_CLAIM_VALIDATION_FAILED",
    );

    // Right claims, right issuer URL, but an RS256 key: refused on alg alone.
    let rsa = WorkloadIssuer::start(Alg::Rs256);
    let mut rs_claims = good.clone();
    rs_claims["iss"] = rsa.issuer().into();
    refused(
        &verify_token(&rsa, "billing", &[], &rsa.mint(rs_claims)),
        "ERR_JOSE_ALG_NOT_ALLOWED",
    );

    // HS256 keyed with the published public key's bytes (the classic confusion attack).
    let jwk = &issuer.jwks()["keys"][1];
    let mut header = Header::new(Algorithm::HS256);
    header.kid = jwk["kid"].as_str().map(str::to_owned);
    let secret = serde_json::to_vec(jwk).unwrap();
    let hs256 = jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(&secret)).unwrap();
    refused(
        &verify_token(&issuer, "billing", &[], &hs256),
        "ERR_JOSE_ALG_NOT_ALLOWED",
    );

    let none = format!(
        "{}.{}.",
        zt_core::jose::b64(json!({"alg": "none", "typ": "JWT"}).to_string()),
        zt_core::jose::b64(good.to_string())
    );
    refused(
        &verify_token(&issuer, "billing", &[], &none),
        "ERR_JOSE_ALG_NOT_ALLOWED",
    );

    // Signed by another issuer's key that has the same issuer URL in its claims.
    let other = WorkloadIssuer::start(Alg::Es256);
    refused(
        &verify_token(&issuer, "billing", &[], &other.mint(good)),
        "ERR_JWKS_NO_MATCHING_KEY",
    );
}
