//! The test IdP is a real oidc-provider: device flow, tokens and refresh over raw HTTP.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use zt_testkit::http::{JsonResponse, get_json};
use zt_testkit::idp::{ALICE, ALL_SCOPES, CLIENT_ID, IdpOptions, TestIdp};
use zt_testkit::{Peer, require_peers};

/// A device authorization that succeeded: (device_code, user_code).
fn authorize(idp: &TestIdp) -> (String, String) {
    let response = idp.device_authorization(ALL_SCOPES);
    assert_eq!(response.status, 200, "device authorization: {response:?}");
    (
        response.str("device_code").to_owned(),
        response.str("user_code").to_owned(),
    )
}

fn assert_oauth_error(response: &JsonResponse, error: &str) {
    assert_eq!(
        (response.status, response.error()),
        (400, Some(error)),
        "expected OAuth error {error}: {response:?}"
    );
}

/// Verifies `id_token` with the IdP's RS256 key and returns its claims.
fn verify_id_token(idp: &TestIdp, jwks: &Value, id_token: &str) -> Value {
    let header = jsonwebtoken::decode_header(id_token).expect("ID token header");
    assert_eq!(
        header.alg,
        Algorithm::RS256,
        "ID tokens are RS256 by default"
    );
    let kid = header.kid.expect("ID token names its key");
    let jwk = jwks["keys"]
        .as_array()
        .expect("JWKS keys")
        .iter()
        .find(|key| key["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in {jwks}"));
    let key = DecodingKey::from_rsa_components(
        jwk["n"].as_str().expect("RSA n"),
        jwk["e"].as_str().expect("RSA e"),
    )
    .expect("RSA key from JWKS");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[&idp.issuer]);
    jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .expect("ID token verifies against the published RS256 key")
        .claims
}

#[test]
fn device_flow_yields_verified_id_token_and_rotating_refresh_token() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());

    let discovery = get_json(&idp.url("/.well-known/openid-configuration"));
    assert_eq!(discovery.status, 200);
    assert_eq!(discovery.str("issuer"), idp.issuer);
    assert_eq!(
        discovery.str("device_authorization_endpoint"),
        idp.url("/device/auth")
    );
    let jwks = get_json(discovery.str("jwks_uri")).body;
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("JWKS keys")
        .iter()
        .filter_map(|key| key["alg"].as_str())
        .collect();
    assert_eq!(algs, ["RS256", "ES256"]);

    let authorization = idp.device_authorization(ALL_SCOPES);
    assert_eq!(authorization.status, 200, "{authorization:?}");
    assert_eq!(authorization.body["interval"], 1, "{authorization:?}");
    assert_eq!(authorization.body["expires_in"], 600, "{authorization:?}");
    let device_code = authorization.str("device_code");
    let user_code = authorization.str("user_code");

    assert_oauth_error(&idp.poll_device_code(device_code), "authorization_pending");
    idp.approve(user_code, ALICE.0, ALICE.1);

    let tokens = idp.poll_device_code(device_code);
    assert_eq!(tokens.status, 200, "{tokens:?}");
    assert_eq!(tokens.str("scope"), ALL_SCOPES);
    let claims = verify_id_token(&idp, &jwks, tokens.str("id_token"));
    assert_eq!(claims["sub"], "sub-alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["groups"], json!(["sre"]));
    assert_eq!(claims["preferred_username"], "alice");

    // offline_access gave a refresh token; it works once and rotates.
    let refresh_token = tokens.str("refresh_token");
    let refreshed = idp.refresh(refresh_token);
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    assert_ne!(refreshed.str("refresh_token"), refresh_token);
    let claims = verify_id_token(&idp, &jwks, refreshed.str("id_token"));
    assert_eq!(claims["groups"], json!(["sre"]));
    assert_oauth_error(&idp.refresh(refresh_token), "invalid_grant");

    // A device code is single use.
    assert_oauth_error(&idp.poll_device_code(device_code), "invalid_grant");
}

#[test]
fn denied_device_code_answers_access_denied() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let (device_code, user_code) = authorize(&idp);

    idp.deny(&user_code);

    assert_oauth_error(&idp.poll_device_code(&device_code), "access_denied");
}

#[test]
fn device_code_expires_after_its_ttl() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions {
        device_code_ttl_secs: Some(2),
        ..IdpOptions::default()
    });
    let authorization = idp.device_authorization(ALL_SCOPES);
    assert_eq!(authorization.body["expires_in"], 2, "{authorization:?}");
    let device_code = authorization.str("device_code");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = idp.poll_device_code(device_code);
        if answer.error() == Some("expired_token") {
            assert_eq!(answer.status, 400, "{answer:?}");
            break;
        }
        assert_oauth_error(&answer, "authorization_pending");
        assert!(Instant::now() < deadline, "no expired_token within 10 s");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn forced_slow_down_answers_the_next_poll_and_is_recorded() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let (device_code, user_code) = authorize(&idp);
    assert_eq!(idp.polls(&user_code), Vec::<u64>::new());

    assert_oauth_error(&idp.poll_device_code(&device_code), "authorization_pending");
    idp.force_slow_down(&user_code);
    assert_oauth_error(&idp.poll_device_code(&device_code), "slow_down");
    assert_oauth_error(&idp.poll_device_code(&device_code), "authorization_pending");

    let polls = idp.polls(&user_code);
    assert_eq!(polls.len(), 3, "{polls:?}");
    assert!(polls.is_sorted(), "{polls:?}");
}
