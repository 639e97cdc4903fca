//! The identity provider side of login: OIDC discovery, the RFC 8628
//! device authorization grant, refresh, revocation — through the
//! `openidconnect` crate — and local verification of each ID token.

use std::future::Future;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreDeviceAuthorizationResponse, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::{
    AdditionalProviderMetadata, ClientId, DeviceAuthorizationUrl, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, ProviderMetadata, RefreshToken,
    RequestTokenError, RevocationUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};

use super::error::{Error, IdpOperation, IdpRefusal, OAuthError, Peer};
use super::http::OidcHttp;
use zt_core::text::Printable;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ExtraMetadata {
    device_authorization_endpoint: DeviceAuthorizationUrl,
    #[serde(default)]
    revocation_endpoint: Option<RevocationUrl>,
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

type Client = CoreClient<
    EndpointSet,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub struct Idp {
    client: Client,
    http: OidcHttp,
    issuer: String,
    client_id: String,
    revocation: Option<RevocationUrl>,
}

/// What the device authorization endpoint told us to show the user.
pub struct DevicePrompt {
    pub response: CoreDeviceAuthorizationResponse,
}

impl DevicePrompt {
    pub fn verification_uri(&self) -> String {
        self.response.verification_uri().to_string()
    }
    pub fn verification_uri_complete(&self) -> Option<String> {
        self.response
            .verification_uri_complete()
            .map(|u| u.secret().to_owned())
    }
    pub fn user_code(&self) -> String {
        self.response.user_code().secret().to_owned()
    }
    pub fn expires_in(&self) -> Duration {
        self.response.expires_in()
    }
}

/// Tokens after a successful grant, the ID token already verified.
pub struct Tokens {
    pub id_token: String,
    pub refresh_token: Option<String>,
    pub subject: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

impl Idp {
    pub async fn discover(
        http: reqwest::Client,
        issuer: &str,
        client_id: &str,
    ) -> Result<Self, Error> {
        super::http::check_url("identity provider issuer", issuer)?;
        let http = OidcHttp(http);
        let issuer_url = IssuerUrl::new(issuer.to_owned())
            .map_err(|e| Error::config(format!("issuer URL: {e}")))?;
        let metadata = Metadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| {
                let mut error = Error::unreachable(Peer::IdentityProvider, &e);
                if let Error::Unreachable { detail, .. } = &mut error {
                    *detail = format!("discovery of {} failed: {detail}", Printable(issuer));
                }
                error
            })?;
        let extra = metadata.additional_metadata().clone();
        let client =
            CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.to_owned()), None)
                .set_device_authorization_url(extra.device_authorization_endpoint);
        Ok(Idp {
            client,
            http,
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            revocation: extra.revocation_endpoint,
        })
    }

    pub async fn start_device_flow(&self, scopes: &[String]) -> Result<DevicePrompt, Error> {
        let mut request = self.client.exchange_device_code();
        for scope in scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let response: CoreDeviceAuthorizationResponse = request
            .request_async(&self.http)
            .await
            .map_err(|e| grant_error(IdpOperation::DeviceAuthorization, e))?;
        Ok(DevicePrompt { response })
    }

    /// Poll the token endpoint per RFC 8628 §3.5 (the crate keeps polling on
    /// `authorization_pending`, adds 5 s on `slow_down`); `sleep` is called
    /// for each wait, so the caller can animate progress.
    pub async fn finish_device_flow<S, F>(
        &self,
        prompt: &DevicePrompt,
        sleep: S,
    ) -> Result<Tokens, Error>
    where
        S: Fn(Duration) -> F,
        F: Future<Output = ()>,
    {
        let token = self
            .client
            .exchange_device_access_token(&prompt.response)
            .map_err(|e| Error::config(format!("device flow: {e}")))?
            .request_async(&self.http, sleep, None)
            .await
            .map_err(|e| grant_error(IdpOperation::DeviceToken, e))?;
        self.verify(&token)
    }

    /// Trade the refresh token for fresh tokens (rotated if the IdP rotates).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, Error> {
        let token = self
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
            .map_err(|e| Error::config(format!("refresh: {e}")))?
            .request_async(&self.http)
            .await
            .map_err(|e| grant_error(IdpOperation::Refresh, e))?;
        let mut tokens = self.verify(&token)?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.to_owned());
        }
        Ok(tokens)
    }

    /// Revoke the refresh token (RFC 7009), if the IdP offers revocation.
    pub async fn revoke(&self, refresh_token: &str) -> Result<bool, Error> {
        let Some(url) = &self.revocation else {
            return Ok(false);
        };
        super::http::check_url("revocation endpoint", url.as_str())?;
        let form = [
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
            ("client_id", &self.client_id),
        ];
        let response = self
            .http
            .0
            .post(url.as_str())
            .form(&form)
            .send()
            .await
            .map_err(|e| Error::unreachable(Peer::IdentityProvider, &e))?;
        if !response.status().is_success() {
            return Err(Error::Unreachable {
                peer: Peer::IdentityProvider,
                detail: format!("revocation answered {}", response.status()),
                untrusted_certificate: false,
            });
        }
        Ok(true)
    }

    fn verify(&self, token: &CoreTokenResponse) -> Result<Tokens, Error> {
        let id_token = token.id_token().ok_or_else(|| {
            Error::Protocol(
                "the identity provider returned no ID token (is the `openid` scope allowed?)"
                    .into(),
            )
        })?;
        // The device grant carries no nonce (RFC 8628 has no front channel);
        // the token is bound to this exchange by the TLS channel instead.
        let no_nonce = |_: Option<&Nonce>| Ok(());
        let claims = id_token
            .claims(&self.client.id_token_verifier(), no_nonce)
            .map_err(|e| Error::IdTokenRejected {
                issuer: Printable(&self.issuer).to_string(),
                reason: Printable(&e.to_string()).to_string(),
            })?;
        let verified_email = claims.email_verified().unwrap_or(false);
        let groups = groups_claim(&id_token.to_string());
        Ok(Tokens {
            id_token: id_token.to_string(),
            refresh_token: token.refresh_token().map(|t| t.secret().to_owned()),
            subject: claims.subject().to_string(),
            email: claims
                .email()
                .filter(|_| verified_email)
                .map(|e| e.to_string()),
            groups,
        })
    }
}

/// `groups` from an ID token that has already been verified (display only).
fn groups_claim(id_token: &str) -> Vec<String> {
    id_token
        .split('.')
        .nth(1)
        .and_then(zt_core::jose::b64_decode)
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| serde_json::from_value(v.get("groups")?.clone()).ok())
        .unwrap_or_default()
}

/// A failed grant request: the IdP's OAuth error code as data, or the network failure.
fn grant_error<RE, T>(operation: IdpOperation, e: RequestTokenError<RE, T>) -> Error
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    match e {
        RequestTokenError::Request(inner) => Error::unreachable(Peer::IdentityProvider, &inner),
        RequestTokenError::ServerResponse(r) => {
            // Every standard error response serialises to `{"error": ..., ...}`; reading the
            // code from there works for the device grant's and the token endpoint's types.
            let body = serde_json::to_value(&r).unwrap_or_default();
            let text = |name: &str| {
                body.get(name)
                    .and_then(|v| v.as_str())
                    .map(|text| Printable(text).to_string())
            };
            IdpRefusal {
                operation,
                code: OAuthError::parse(&text("error").unwrap_or_default()),
                description: text("error_description"),
            }
            .into()
        }
        other => Error::Protocol(format!("{operation}: {}", super::http::error_chain(&other))),
    }
}
