//! Built-in **development** OpenID Connect issuer, mounted by `zt-broker dev`.
//!
//! **Development only. Never use it in production.** It keeps everything in memory, knows a
//! fixed list of fake users (no passwords: anyone who can reach the `/device` page can approve
//! a login as any of them) and forgets every key and grant when the process exits. It exists so
//! that the quick start works on a machine with nothing else installed, and so that tests have a
//! real HTTP OpenID provider to talk to. `zt-broker dev` binds it to loopback only, and
//! [`DevIssuer::new`] refuses an issuer URL whose host is not a loopback address.
//!
//! What it speaks, relative to the issuer URL:
//!
//! | path | what |
//! |---|---|
//! | `GET /.well-known/openid-configuration` | OpenID Connect discovery |
//! | `GET /jwks` | the one ES256 (P-256) signing key, `kid` = RFC 7638 thumbprint |
//! | `POST /device_authorization` | RFC 8628 device authorization request |
//! | `POST /token` | device code grant (RFC 8628 §3.4/§3.5) and refresh with rotation |
//! | `POST /revoke` | RFC 7009 revocation of a refresh token's whole grant |
//! | `GET`/`POST /device` | HTML page to approve or deny a user code as one of the dev users |
//! | `GET /authorize` | always `unsupported_response_type` (discovery requires the field) |
//!
//! Only one client is known: the public client named by [`DevIssuerConfig::client_id`]
//! (`token_endpoint_auth_method` `none`; the `client_id` form field is required).
//!
//! Every piece of state is bounded (10 000 device authorizations, 10 000 grants, 10 000 form
//! tokens) and expired entries are dropped lazily when the state is next touched.
//!
//! Logic that depends on time takes `now` as a parameter; only the HTTP handlers in
//! `routes.rs` (and [`DevIssuer::decide`]) read the clock.

mod approval;
mod config;
mod device;
mod error;
mod flows;
mod keys;
mod pages;
mod random;
mod routes;
mod scope;
mod tokens;
mod users;

#[cfg(test)]
mod http_tests;
#[cfg(test)]
mod oidc_client_tests;
#[cfg(test)]
mod test_harness;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

pub use config::DevIssuerConfig;
pub use error::DevIssuerError;
pub use users::{DevUser, default_users};

use device::DeviceAuthorizations;
use keys::SigningKey;
use pages::FormTokens;
use tokens::Grants;

/// The development OpenID provider: configuration, signing key and in-memory state.
///
/// Build it with [`DevIssuer::new`], mount [`DevIssuer::router`] at the issuer URL's path.
pub struct DevIssuer {
    config: DevIssuerConfig,
    /// `iss` exactly as it appears in discovery and in ID tokens (no trailing slash).
    issuer: String,
    key: SigningKey,
    state: Mutex<State>,
}

/// Everything that changes while the issuer runs. One lock: the issuer is for one developer's
/// machine, contention is not a concern, and one lock keeps the device code → grant hand-over
/// atomic.
#[derive(Default)]
struct State {
    devices: DeviceAuthorizations,
    grants: Grants,
    form_tokens: FormTokens,
}

impl DevIssuer {
    /// Validates the configuration and generates a fresh P-256 signing key.
    ///
    /// # Errors
    /// A [`DevIssuerError`] naming the configuration field to fix, or
    /// [`DevIssuerError::KeyGeneration`] if the system could not produce a key.
    pub fn new(config: DevIssuerConfig) -> Result<Arc<Self>, DevIssuerError> {
        config.validate()?;
        let issuer = config.issuer_string();
        let key = SigningKey::generate()?;
        tracing::warn!(
            issuer = %issuer,
            "development OpenID issuer enabled: anyone who can reach {issuer}/device can log in as any dev user; never use it in production"
        );
        Ok(Arc::new(Self {
            config,
            issuer,
            key,
            state: Mutex::new(State::default()),
        }))
    }

    /// Router to be nested at the issuer URL's path, e.g.
    /// `Router::new().nest("/dev-idp", issuer.router())` for `http://127.0.0.1:8080/dev-idp`.
    /// (For an issuer URL with an empty path, `merge` it instead: axum cannot nest at `/`.)
    pub fn router(self: Arc<Self>) -> axum::Router {
        routes::router(self)
    }

    /// Approves (`Some(username)`) or denies (`None`) a pending user code, as the `/device`
    /// page does. For a second terminal, scripts and tests.
    ///
    /// The user code is matched case-insensitively and ignoring `-` and spaces.
    ///
    /// # Errors
    /// [`DevIssuerError::UnknownUserCode`], [`DevIssuerError::UserCodeExpired`],
    /// [`DevIssuerError::AlreadyDecided`] or [`DevIssuerError::UnknownUser`].
    pub fn decide(&self, user_code: &str, username: Option<&str>) -> Result<(), DevIssuerError> {
        self.decide_at(user_code, username, SystemTime::now())
    }

    /// The `iss` value: the issuer URL without a trailing slash.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The configuration this issuer runs with.
    pub fn config(&self) -> &DevIssuerConfig {
        &self.config
    }

    fn decide_at(
        &self,
        user_code: &str,
        username: Option<&str>,
        now: SystemTime,
    ) -> Result<(), DevIssuerError> {
        let user = match username {
            Some(name) => Some(
                users::find(&self.config.users, name)
                    .ok_or_else(|| DevIssuerError::UnknownUser(name.to_owned()))?,
            ),
            None => None,
        };
        let mut state = self.lock();
        state
            .devices
            .decide(user_code, user.map(|u| u.username.as_str()), now)?;
        match user {
            Some(u) => tracing::info!(user = %u.username, "dev issuer: user code approved"),
            None => tracing::info!("dev issuer: user code denied"),
        }
        Ok(())
    }

    /// Locks the state. A panic while holding the lock cannot leave the maps half-updated in a
    /// way that matters for a development issuer, so a poisoned lock is simply taken over.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
