//! The broker's view of the identity provider: OIDC discovery and a JWKS
//! cache that refetches on an unknown `kid` at most once a minute, so a
//! flood of forged `kid`s cannot turn the broker into a JWKS hammer, and
//! tokens signed with known keys never wait for a fetch.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::config::check_service_url;
use zt_core::id_token::{self, Expectations, IdTokenError, TokenBounds, VerifiedIdToken};

const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Verifies the identity provider's ID tokens for the service. The server's is [`IdpKeys`]
/// (keys fetched from the IdP); the service's unit tests pass in a fixed key set.
pub trait IdTokenVerifier: Send + Sync {
    /// Verify `token` at `now` (unix seconds): signature, issuer, audience, times.
    fn verify<'a>(&'a self, token: &'a str, now: u64) -> VerifyFuture<'a>;
}

pub type VerifyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<VerifiedIdToken, IdpError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("the identity provider at {0} is unreachable or answered badly: {1}")]
    Unreachable(String, String),
    #[error("the identity provider's metadata is invalid: {0}")]
    BadMetadata(String),
    #[error(transparent)]
    Token(#[from] IdTokenError),
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

struct Cache {
    jwks: Option<Arc<JwkSet>>,
    jwks_uri: Option<url::Url>,
    fetched_at: Option<Instant>,
}

pub struct IdpKeys {
    issuer: String,
    client_id: String,
    bounds: TokenBounds,
    http: reqwest::Client,
    cache: RwLock<Cache>,
    /// Held while fetching, so at most one fetch runs at a time.
    fetching: Mutex<()>,
}

impl IdpKeys {
    pub fn new(issuer: &str, client_id: &str, bounds: TokenBounds) -> Self {
        let http = super::outbound::client();
        IdpKeys {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            bounds,
            http,
            cache: RwLock::new(Cache {
                jwks: None,
                jwks_uri: None,
                fetched_at: None,
            }),
            fetching: Mutex::new(()),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Verify an ID token; refetch the JWKS once if it names an unknown
    /// key and the last fetch is over a minute old.
    pub async fn verify_token(&self, token: &str, now: u64) -> Result<VerifiedIdToken, IdpError> {
        let expect = Expectations {
            issuer: &self.issuer,
            client_id: &self.client_id,
            now,
            bounds: self.bounds,
        };
        let jwks = self.jwks(false).await?;
        match id_token::verify(token, &jwks, &expect) {
            Err(IdTokenError::UnknownKey(_)) => {
                let jwks = self.jwks(true).await?;
                Ok(id_token::verify(token, &jwks, &expect)?)
            }
            other => Ok(other?),
        }
    }
}

impl IdTokenVerifier for IdpKeys {
    fn verify<'a>(&'a self, token: &'a str, now: u64) -> VerifyFuture<'a> {
        Box::pin(self.verify_token(token, now))
    }
}

impl IdpKeys {
    /// The cached key set, if there is one and it may be used: always for
    /// a known kid, and for an unknown kid only if it is under a minute old.
    fn cached(&self, refresh: bool) -> Option<Arc<JwkSet>> {
        let cache = self.cache.read().expect("JWKS cache lock");
        let jwks = cache.jwks.as_ref()?;
        let fresh = cache
            .fetched_at
            .is_some_and(|t| t.elapsed() < REFETCH_INTERVAL);
        (!refresh || fresh).then(|| jwks.clone())
    }

    async fn jwks(&self, refresh: bool) -> Result<Arc<JwkSet>, IdpError> {
        // Readers never wait for a fetch in progress: a slow IdP stalls only
        // the requests that need new keys.
        if let Some(jwks) = self.cached(refresh) {
            return Ok(jwks);
        }
        let _fetching = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(jwks) = self.cached(refresh) {
            return Ok(jwks);
        }
        let uri = {
            let mut cache = self.cache.write().expect("JWKS cache lock");
            let fresh_enough = cache
                .fetched_at
                .is_some_and(|t| t.elapsed() < REFETCH_INTERVAL);
            if cache.jwks.is_none() && fresh_enough {
                return Err(IdpError::Unreachable(
                    self.issuer.clone(),
                    "recent fetch failed; retrying within a minute".into(),
                ));
            }
            cache.fetched_at = Some(Instant::now());
            cache.jwks_uri.clone()
        };
        let uri = match uri {
            Some(uri) => uri,
            None => {
                let uri = self.discover().await?;
                self.cache.write().expect("JWKS cache lock").jwks_uri = Some(uri.clone());
                uri
            }
        };
        let jwks: JwkSet = self.get_json(uri.as_str()).await?;
        let jwks = Arc::new(jwks);
        self.cache.write().expect("JWKS cache lock").jwks = Some(jwks.clone());
        Ok(jwks)
    }

    async fn discover(&self) -> Result<url::Url, IdpError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let doc: Discovery = self.get_json(&url).await?;
        if doc.issuer != self.issuer {
            return Err(IdpError::BadMetadata(format!(
                "discovery says issuer {:?}, configured {:?}",
                doc.issuer, self.issuer
            )));
        }
        check_service_url("jwks_uri", &doc.jwks_uri)
            .map_err(|e| IdpError::BadMetadata(e.to_string()))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, IdpError> {
        let unreachable = |e: String| IdpError::Unreachable(self.issuer.clone(), e);
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unreachable(format!("GET {url} → {}", response.status())));
        }
        if response
            .content_length()
            .is_some_and(|n| n as usize > MAX_DOCUMENT_BYTES)
        {
            return Err(unreachable(format!("GET {url}: document too large")));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(unreachable(format!("GET {url}: document too large")));
        }
        serde_json::from_slice(&bytes).map_err(|e| IdpError::BadMetadata(format!("{url}: {e}")))
    }
}
