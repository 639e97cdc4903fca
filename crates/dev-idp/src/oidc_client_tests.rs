//! Compatibility with the client library `zt login` uses: the `openidconnect` crate discovers
//! the issuer, runs the device flow (through `authorization_pending`), verifies the ID token
//! with its own verifier and refreshes. (Revocation goes around the crate; see below.)
//!
//! The reqwest adapter here is a test-only stand-in; the real one lives with the client.

use std::future::Future;
use std::pin::Pin;

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreDeviceAuthorizationResponse, CoreErrorResponseType, CoreGenderClaim, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreRevocableToken,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, AsyncHttpClient, ClientId, ConfigurationError,
    DeviceAuthorizationUrl, HttpClientError, HttpRequest, HttpResponse, IdToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, ProviderMetadata, RequestTokenError, RevocationUrl, Scope,
};
use serde::{Deserialize, Serialize};

use super::test_harness::Harness;

/// Discovery fields the core metadata type does not have.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct ExtraMetadata {
    device_authorization_endpoint: DeviceAuthorizationUrl,
    revocation_endpoint: RevocationUrl,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The `groups` claim, which standard OpenID Connect does not define.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Groups {
    groups: Vec<String>,
}
impl AdditionalClaims for Groups {}

type GroupsIdToken =
    IdToken<Groups, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// openidconnect's HTTP seam over reqwest 0.13 (the crate's own adapter targets 0.12).
/// Redirects are off: following them from an IdP is an SSRF risk.
struct Reqwest(reqwest::Client);

impl Reqwest {
    fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self(client)
    }

    async fn send(
        &self,
        request: HttpRequest,
    ) -> Result<HttpResponse, HttpClientError<reqwest::Error>> {
        let (parts, body) = request.into_parts();
        let response = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(Box::new)?;
        let mut converted = openidconnect::http::Response::builder().status(response.status());
        if let Some(headers) = converted.headers_mut() {
            *headers = response.headers().clone();
        }
        let bytes = response.bytes().await.map_err(Box::new)?;
        Ok(converted.body(bytes.to_vec())?)
    }
}

impl<'c> AsyncHttpClient<'c> for Reqwest {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// Device flow: no nonce (there is no authorization request to carry one).
fn no_nonce(_: Option<&Nonce>) -> Result<(), String> {
    Ok(())
}

#[tokio::test]
async fn openidconnect_crate_logs_in_refreshes_and_revokes() {
    let h = Harness::start(|_| {}).await;
    let http = Reqwest::new();

    let metadata = Metadata::discover_async(IssuerUrl::new(h.base.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let extra = metadata.additional_metadata().clone();
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new("zt".into()), None)
        .set_device_authorization_url(extra.device_authorization_endpoint)
        .set_revocation_url(extra.revocation_endpoint);

    let details: CoreDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scopes(["email", "profile", "groups", "offline_access"].map(|s| Scope::new(s.into())))
        .request_async(&http)
        .await
        .expect("device authorization");
    let user_code = details.user_code().secret().clone();

    // The first poll finds the login pending; the user approves while the client waits.
    let issuer = &h.issuer;
    let approve_then_sleep = |interval| {
        let _ = issuer.decide(&user_code, Some("alice"));
        tokio::time::sleep(interval)
    };
    let tokens = client
        .exchange_device_access_token(&details)
        .unwrap()
        .request_async(&http, approve_then_sleep, None)
        .await
        .expect("device access token");

    let verifier = client.id_token_verifier();
    let id_token = tokens.extra_fields().id_token().expect("id_token");
    let claims = id_token
        .claims(&verifier, no_nonce)
        .expect("valid ID token");
    assert_eq!(claims.issuer().as_str(), h.base);
    assert_eq!(claims.subject().as_str(), "dev-9f1c2a7e-alice");
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    assert_eq!(claims.authorized_party().map(|p| p.as_str()), Some("zt"));

    let with_groups: GroupsIdToken = id_token.to_string().parse().unwrap();
    let claims = with_groups.claims(&verifier, no_nonce).unwrap();
    assert_eq!(claims.additional_claims().groups, ["sre"]);

    let refresh_token = tokens.refresh_token().expect("refresh token").clone();
    let refreshed = client
        .exchange_refresh_token(&refresh_token)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    let new_id_token = refreshed.extra_fields().id_token().expect("fresh id_token");
    new_id_token
        .claims(&verifier, no_nonce)
        .expect("valid refreshed ID token");
    let new_refresh = refreshed
        .refresh_token()
        .expect("rotated refresh token")
        .clone();
    assert_ne!(new_refresh.secret(), refresh_token.secret());

    // oauth2's `revoke_token` refuses non-https revocation URLs (RFC 7009 §2 says clients
    // MUST check for HTTPS), and the development issuer is plain http on loopback. So the
    // client has to send RFC 7009 requests to it itself, as here.
    let revocation_url = client.revocation_url().url().clone();
    let refused = client.revoke_token(CoreRevocableToken::from(new_refresh.clone()));
    assert!(matches!(
        refused,
        Err(ConfigurationError::InsecureUrl("revocation"))
    ));
    let revoke = [
        ("token", new_refresh.secret().as_str()),
        ("token_type_hint", "refresh_token"),
        ("client_id", "zt"),
    ];
    let response = http
        .0
        .post(revocation_url)
        .form(&revoke)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);

    let refused = client
        .exchange_refresh_token(&new_refresh)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap_err();
    match refused {
        RequestTokenError::ServerResponse(e) => {
            assert_eq!(*e.error(), CoreErrorResponseType::InvalidGrant);
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}
