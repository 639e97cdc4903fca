//! The issuer over real HTTP on loopback: discovery, the device flow with every RFC 8628
//! error, ID token verification with the published JWKS, refresh rotation and reuse, revocation,
//! and the approval page.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use super::test_harness::{DEVICE_GRANT, Harness};

fn error_of(response: &(StatusCode, Value)) -> (StatusCode, &str) {
    let description = response.1["error_description"].as_str().unwrap_or_default();
    assert!(
        !description.is_empty(),
        "every error explains itself: {}",
        response.1
    );
    (response.0, response.1["error"].as_str().unwrap())
}

const BAD: StatusCode = StatusCode::BAD_REQUEST;

#[tokio::test]
async fn discovery_names_every_endpoint() {
    let h = Harness::start(|_| {}).await;
    let response = h.get("/.well-known/openid-configuration").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let d: Value = response.json().await.unwrap();
    assert_eq!(d["issuer"], h.base);
    for (field, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("device_authorization_endpoint", "/device_authorization"),
        ("jwks_uri", "/jwks"),
        ("revocation_endpoint", "/revoke"),
    ] {
        assert_eq!(d[field], format!("{}{path}", h.base), "{field}");
    }
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        serde_json::json!(["none"])
    );
    assert_eq!(
        d["grant_types_supported"],
        serde_json::json!([DEVICE_GRANT, "refresh_token"])
    );
    assert!(
        d["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&"offline_access".into())
    );
    assert!(
        d["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&"groups".into())
    );

    let jwks: Value = h.get("/jwks").await.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert_eq!(
        (key["alg"].as_str(), key["use"].as_str()),
        (Some("ES256"), Some("sig"))
    );

    let authorize = h.get("/authorize?response_type=code").await;
    assert_eq!(authorize.status(), BAD);
    let body: Value = authorize.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_response_type");
}

#[tokio::test]
async fn device_flow_refresh_reuse_and_revoke() {
    let h = Harness::start(|_| {}).await;
    let auth = h
        .authorize("openid email profile groups offline_access")
        .await;
    let device_code = auth["device_code"].as_str().unwrap();
    let user_code = auth["user_code"].as_str().unwrap();
    assert_eq!(auth["verification_uri"], format!("{}/device", h.base));
    assert_eq!(
        auth["verification_uri_complete"],
        format!("{}/device?user_code={user_code}", h.base)
    );
    assert_eq!(
        (auth["interval"].as_u64(), auth["expires_in"].as_u64()),
        (Some(1), Some(600))
    );

    assert_eq!(
        error_of(&h.poll(device_code).await),
        (BAD, "authorization_pending")
    );
    assert_eq!(error_of(&h.poll(device_code).await), (BAD, "slow_down"));

    h.issuer
        .decide(&user_code.to_lowercase().replace('-', ""), Some("alice"))
        .unwrap();
    let (status, tokens) = h.poll(device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(
        tokens["scope"],
        "openid email profile groups offline_access"
    );
    assert_eq!(tokens["expires_in"], 300);
    assert!(tokens["access_token"].as_str().unwrap().len() >= 43);

    let claims = h.verify(tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["iss"], h.base);
    assert_eq!(claims["aud"], "zt");
    assert_eq!(claims["azp"], "zt");
    assert_eq!(claims["sub"], "dev-9f1c2a7e-alice");
    assert_eq!(claims["groups"], serde_json::json!(["sre"]));
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["preferred_username"], "alice");
    assert!(claims["jti"].is_string() && claims["auth_time"].is_u64());
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );

    // Single use.
    assert_eq!(error_of(&h.poll(device_code).await), (BAD, "invalid_grant"));

    // Refresh rotates, and gives a fresh ID token for the same login.
    let first = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = h.refresh(first).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let second = refreshed["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    let again = h.verify(refreshed["id_token"].as_str().unwrap()).await;
    assert_eq!(again["sub"], claims["sub"]);
    assert_eq!(again["auth_time"], claims["auth_time"]);
    assert_ne!(again["jti"], claims["jti"]);

    // Reusing the retired token kills the whole grant, the new token included.
    assert_eq!(error_of(&h.refresh(first).await), (BAD, "invalid_grant"));
    assert_eq!(error_of(&h.refresh(second).await), (BAD, "invalid_grant"));

    // Revocation: a second login, revoked, can no longer refresh.
    let auth = h.authorize("openid offline_access").await;
    h.issuer
        .decide(auth["user_code"].as_str().unwrap(), Some("bob"))
        .unwrap();
    let (_, tokens) = h.poll(auth["device_code"].as_str().unwrap()).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let revoke = [
        ("token", refresh_token),
        ("token_type_hint", "refresh_token"),
        ("client_id", "zt"),
    ];
    assert_eq!(
        h.post("/revoke", &revoke).await,
        (StatusCode::OK, Value::Null)
    );
    assert_eq!(
        error_of(&h.refresh(refresh_token).await),
        (BAD, "invalid_grant")
    );
    // Unknown tokens are "revoked" too (RFC 7009 §2.2).
    let unknown = [("token", "nope"), ("client_id", "zt")];
    assert_eq!(h.post("/revoke", &unknown).await.0, StatusCode::OK);
}

#[tokio::test]
async fn without_offline_access_there_is_no_refresh_token() {
    let h = Harness::start(|c| c.auto_approve = Some("carol".into())).await;
    let auth = h.authorize("openid email").await;
    let (status, tokens) = h.poll(auth["device_code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(tokens.get("refresh_token").is_none());
    let claims = h.verify(tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["email_verified"], false);
    assert!(claims.get("groups").is_none(), "groups scope not requested");
}

#[tokio::test]
async fn denial_is_access_denied() {
    let h = Harness::start(|_| {}).await;
    let auth = h.authorize("openid").await;
    h.issuer
        .decide(auth["user_code"].as_str().unwrap(), None)
        .unwrap();
    assert_eq!(
        error_of(&h.poll(auth["device_code"].as_str().unwrap()).await),
        (BAD, "access_denied")
    );
}

#[tokio::test]
async fn unapproved_codes_expire() {
    let h = Harness::start(|c| c.device_code_ttl = Duration::from_secs(1)).await;
    let auth = h.authorize("openid").await;
    let device_code = auth["device_code"].as_str().unwrap();
    let interval = Duration::from_secs(auth["interval"].as_u64().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = h.poll(device_code).await;
        match error_of(&response) {
            (BAD, "expired_token") => break,
            (BAD, "authorization_pending") => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(Instant::now() < deadline, "the device code never expired");
        // Poll no faster than allowed, so only expiry can end the loop.
        tokio::time::sleep(interval + Duration::from_millis(50)).await;
    }
    assert!(
        h.issuer
            .decide(auth["user_code"].as_str().unwrap(), Some("alice"))
            .is_err()
    );
}

#[tokio::test]
async fn client_and_request_errors_are_oauth_json() {
    let h = Harness::start(|_| {}).await;
    let unknown_client = h
        .post(
            "/device_authorization",
            &[("client_id", "evil"), ("scope", "openid")],
        )
        .await;
    assert_eq!(
        error_of(&unknown_client),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    let missing_client = h
        .post("/device_authorization", &[("scope", "openid")])
        .await;
    assert_eq!(
        error_of(&missing_client),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    let bad_scope = h
        .post(
            "/device_authorization",
            &[("client_id", "zt"), ("scope", "openid admin")],
        )
        .await;
    assert_eq!(error_of(&bad_scope), (BAD, "invalid_scope"));

    let auth = h.authorize("openid").await;
    let device_code = auth["device_code"].as_str().unwrap();
    let wrong_client = [
        ("grant_type", DEVICE_GRANT),
        ("client_id", "evil"),
        ("device_code", device_code),
    ];
    assert_eq!(
        error_of(&h.post("/token", &wrong_client).await),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    assert_eq!(
        error_of(&h.poll("not-a-code").await),
        (BAD, "invalid_grant")
    );
    let grant = [("grant_type", "password"), ("client_id", "zt")];
    assert_eq!(
        error_of(&h.post("/token", &grant).await),
        (BAD, "unsupported_grant_type")
    );
    let no_code = [("grant_type", DEVICE_GRANT), ("client_id", "zt")];
    assert_eq!(
        error_of(&h.post("/token", &no_code).await),
        (BAD, "invalid_request")
    );
    let twice = "grant_type=refresh_token&grant_type=refresh_token&client_id=zt";
    let response = reqwest::Client::new()
        .post(format!("{}/token", h.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(twice)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), BAD);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn approval_page_escapes_and_approves() {
    let h = Harness::start(|_| {}).await;
    let page = h
        .get("/device?user_code=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains(r#"<meta name="zt-dev-page" content="enter-code">"#));
    assert!(html.contains("DEVELOPMENT ISSUER — never use in production"));

    let auth = h.authorize("openid groups").await;
    let user_code = auth["user_code"].as_str().unwrap();
    let html = h
        .get(&format!("/device?user_code={}", user_code.to_lowercase()))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"content="device-decide""#), "{html}");
    assert!(html.contains("Approve as alice") && html.contains("Approve as bob"));
    let token = extract_value(&html, "form_token");

    let approve = [
        ("user_code", user_code),
        ("form_token", token.as_str()),
        ("user", "bob"),
    ];
    let response = h
        .http
        .post(format!("{}/device", h.base))
        .form(&approve)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains(r#"content="approved""#)
    );
    // The form token was used up.
    let response = h
        .http
        .post(format!("{}/device", h.base))
        .form(&approve)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), BAD);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains(r#"content="error""#)
    );

    let (status, tokens) = h.poll(auth["device_code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let claims = h.verify(tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["groups"], serde_json::json!(["dev"]));
    assert_eq!(claims["sub"], "dev-4b8d03c5-bob");

    // A forged or missing form token changes nothing.
    let auth = h.authorize("openid").await;
    let user_code = auth["user_code"].as_str().unwrap();
    let forged = [
        ("user_code", user_code),
        ("form_token", "forged"),
        ("deny", "1"),
    ];
    let response = h
        .http
        .post(format!("{}/device", h.base))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), BAD);
    assert_eq!(
        error_of(&h.poll(auth["device_code"].as_str().unwrap()).await),
        (BAD, "authorization_pending")
    );
}

/// The `value` of the input named `name` in one of our own pages.
fn extract_value(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).unwrap() + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}
