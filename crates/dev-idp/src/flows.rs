//! The OAuth flows behind the endpoints: device authorization, the token endpoint's two
//! grants, revocation. Handlers in `routes.rs` parse the request, read the clock and call these.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::device::{self, Approval};
use super::error::OAuthError;
use super::random::{self, SecretRng};
use super::scope::Scopes;
use super::tokens::{IdTokenClaims, Subject, TokenResponse};
use super::{DevIssuer, users};

/// RFC 8628 §3.1 request.
#[derive(Debug, Deserialize)]
pub struct DeviceAuthorizationForm {
    pub client_id: Option<String>,
    pub scope: Option<String>,
}

/// RFC 8628 §3.2 response.
#[derive(Debug, Serialize)]
pub struct DeviceAuthorizationResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// Token endpoint request: the union of the two grants' parameters.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub device_code: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

/// RFC 7009 §2.1 request. `token_type_hint` is accepted and ignored (unknown form fields are):
/// access tokens are not recorded, so every token is looked up as a refresh token.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    pub token: Option<String>,
    pub client_id: Option<String>,
}

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const REFRESH_TOKEN_GRANT: &str = "refresh_token";

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, OAuthError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(format!("the {name} parameter is missing")))
}

impl DevIssuer {
    /// `verification_uri`: the approval page.
    pub(super) fn verification_uri(&self) -> String {
        format!("{}/device", self.issuer)
    }

    /// A public client authenticates by naming itself (RFC 6749 §2.3, method `none`).
    fn authenticate_client<'a>(
        &self,
        client_id: &'a Option<String>,
    ) -> Result<&'a str, OAuthError> {
        match client_id.as_deref() {
            Some(id) if id == self.config.client_id => Ok(id),
            Some(other) => Err(OAuthError::invalid_client(other)),
            None => Err(OAuthError::invalid_client("")),
        }
    }

    pub(super) fn device_authorization(
        &self,
        form: &DeviceAuthorizationForm,
        rng: &mut impl SecretRng,
        now: SystemTime,
    ) -> Result<DeviceAuthorizationResponse, OAuthError> {
        let client_id = self.authenticate_client(&form.client_id)?;
        let scopes = Scopes::parse(form.scope.as_deref())?;
        let request = device::Request {
            client_id,
            scopes,
            ttl: self.config.device_code_ttl,
            interval: std::time::Duration::from_secs(self.config.interval_secs),
            auto_approve: self.config.auto_approve.as_deref(),
        };
        let issued = self.lock().devices.issue(request, rng, now).map_err(|e| {
            OAuthError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                e.to_string(),
            )
        })?;
        let verification_uri = self.verification_uri();
        Ok(DeviceAuthorizationResponse {
            verification_uri_complete: format!("{verification_uri}?user_code={}", issued.user_code),
            verification_uri,
            device_code: issued.device_code,
            user_code: issued.user_code,
            expires_in: issued.expires_in.as_secs(),
            interval: issued.interval.as_secs(),
        })
    }

    pub(super) fn token(
        &self,
        form: &TokenForm,
        rng: &mut impl SecretRng,
        now: SystemTime,
    ) -> Result<TokenResponse, OAuthError> {
        let grant_type = required(&form.grant_type, "grant_type")?;
        let client_id = self.authenticate_client(&form.client_id)?;
        match grant_type {
            DEVICE_CODE_GRANT => {
                let device_code = required(&form.device_code, "device_code")?;
                self.redeem_device_code(device_code, client_id, rng, now)
            }
            REFRESH_TOKEN_GRANT => {
                let refresh_token = required(&form.refresh_token, "refresh_token")?;
                self.refresh(refresh_token, client_id, form.scope.as_deref(), rng, now)
            }
            other => Err(OAuthError::bad_request(
                "unsupported_grant_type",
                format!(
                    "grant_type {other:?} is not supported: use {DEVICE_CODE_GRANT} or {REFRESH_TOKEN_GRANT}"
                ),
            )),
        }
    }

    fn redeem_device_code(
        &self,
        device_code: &str,
        client_id: &str,
        rng: &mut impl SecretRng,
        now: SystemTime,
    ) -> Result<TokenResponse, OAuthError> {
        let (approval, refresh_token) = {
            let mut state = self.lock();
            let approval: Approval = state.devices.poll(device_code, client_id, now)?;
            let refresh_token = approval
                .scopes
                .contains("offline_access")
                .then(|| state.grants.start(&approval, client_id, rng, now));
            (approval, refresh_token)
        };
        tracing::info!(user = %approval.username, "dev issuer: device code redeemed");
        self.respond(
            &approval.username,
            &approval.scopes,
            approval.auth_time,
            refresh_token,
            rng,
            now,
        )
    }

    fn refresh(
        &self,
        refresh_token: &str,
        client_id: &str,
        scope: Option<&str>,
        rng: &mut impl SecretRng,
        now: SystemTime,
    ) -> Result<TokenResponse, OAuthError> {
        let refreshed = self
            .lock()
            .grants
            .refresh(refresh_token, client_id, rng, now)
            .inspect_err(|e| tracing::info!(reason = ?e, "dev issuer: refresh refused"))?;
        // A narrower scope applies to this response only; the grant keeps what was approved.
        let scopes = refreshed.scopes.narrow(scope)?;
        let refresh_token = Some(refreshed.refresh_token);
        self.respond(
            &refreshed.username,
            &scopes,
            refreshed.auth_time,
            refresh_token,
            rng,
            now,
        )
    }

    /// Signs a fresh ID token and assembles the token response.
    fn respond(
        &self,
        username: &str,
        scopes: &Scopes,
        auth_time: SystemTime,
        refresh_token: Option<String>,
        rng: &mut impl SecretRng,
        now: SystemTime,
    ) -> Result<TokenResponse, OAuthError> {
        // Users cannot change while the issuer runs, so an approved username always resolves.
        let user = users::find(&self.config.users, username)
            .ok_or_else(|| OAuthError::server_error("the approved user no longer exists"))?;
        let subject = Subject {
            user,
            scopes,
            auth_time,
        };
        let ttl = self.config.id_token_ttl;
        let claims = IdTokenClaims::new(
            &self.issuer,
            &self.config.client_id,
            &subject,
            now,
            ttl,
            random::token(rng),
        );
        let id_token = self
            .key
            .sign(&claims)
            .map_err(|e| OAuthError::server_error(format!("could not sign the ID token: {e}")))?;
        Ok(TokenResponse {
            // Opaque and not recorded: nothing at this issuer accepts access tokens.
            access_token: random::token(rng),
            token_type: "Bearer",
            expires_in: ttl.as_secs(),
            id_token,
            refresh_token,
            scope: scopes.to_param(),
        })
    }

    /// RFC 7009 §2.2: the answer is 200 whether or not the token was known, so a client
    /// learns nothing about other clients' tokens; only an unauthenticated client is refused.
    pub(super) fn revoke(&self, form: &RevokeForm) -> Result<(), OAuthError> {
        let client_id = self.authenticate_client(&form.client_id)?;
        let token = required(&form.token, "token")?;
        if self.lock().grants.revoke(token, client_id) {
            tracing::info!("dev issuer: refresh grant revoked");
        }
        Ok(())
    }
}
