//! The broker's view of the token issuers it trusts (the people's identity provider and the
//! `[[workload_issuers]]`): OIDC discovery and, per issuer, a JWKS cache that refetches on
//! an unknown `kid` at most once a minute, so a flood of forged `kid`s cannot turn the
//! broker into a JWKS hammer, and tokens signed with known keys never wait for a fetch.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::config::{WorkloadIssuerConfig, check_service_url};
use zt_core::id_token::{self, Expectations, IdTokenError, TokenBounds, VerifiedIdToken};
use zt_core::text::quoted;
use zt_core::workload_token::{self, VerifiedWorkloadToken};

const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Verifies the tokens the service exchanges: the identity provider's ID tokens and workload
/// tokens. The server's is [`Issuers`] (keys fetched from each issuer); the service's unit
/// tests pass in fixed answers.
pub trait IdTokenVerifier: Send + Sync {
    /// Verify an ID token at `now` (unix seconds): signature, issuer, audience, times.
    fn verify<'a>(&'a self, token: &'a str, now: u64) -> VerifyFuture<'a>;
    /// Verify a workload token against the trusted issuer it names.
    fn verify_workload<'a>(&'a self, token: &'a str, now: u64) -> WorkloadFuture<'a>;
}

pub type VerifyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<VerifiedIdToken, IdpError>> + Send + 'a>>;
pub type WorkloadFuture<'a> =
    Pin<Box<dyn Future<Output = Result<VerifiedWorkloadToken, IdpError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("the identity provider at {0} is unreachable or answered badly: {1}")]
    Unreachable(String, String),
    #[error("the identity provider's metadata is invalid: {0}")]
    BadMetadata(String),
    #[error(transparent)]
    Token(#[from] IdTokenError),
    #[error(
        "this broker does not trust workload tokens from {}; an admin lists trusted issuers in [[workload_issuers]]",
        quoted(.0, 120)
    )]
    UntrustedIssuer(String),
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

/// One issuer's keys: discovery, then a cached JWKS.
pub struct IdpKeys {
    issuer: String,
    http: reqwest::Client,
    cache: RwLock<Cache>,
    /// Held while fetching, so at most one fetch runs at a time.
    fetching: Mutex<()>,
}

/// Every issuer the broker trusts, and what it expects of each one's tokens.
pub struct Issuers {
    idp: IdpKeys,
    client_id: String,
    bounds: TokenBounds,
    workloads: Vec<(WorkloadIssuerConfig, IdpKeys)>,
    workload_audience: String,
}

impl Issuers {
    /// The people's IdP (`client_id` and `bounds` for its ID tokens), and the workload
    /// issuers with the audience their tokens must carry unless one says otherwise.
    pub fn new(
        idp_issuer: &str,
        client_id: &str,
        bounds: TokenBounds,
        workloads: &[WorkloadIssuerConfig],
        workload_audience: &str,
    ) -> Self {
        let workloads = workloads
            .iter()
            .map(|w| {
                let keys = IdpKeys::new(&w.issuer);
                if let Some(uri) = w.jwks_uri.as_deref().and_then(|u| url::Url::parse(u).ok()) {
                    keys.cache.write().expect("JWKS cache lock").jwks_uri = Some(uri);
                }
                (w.clone(), keys)
            })
            .collect();
        Issuers {
            idp: IdpKeys::new(idp_issuer),
            client_id: client_id.to_owned(),
            bounds,
            workloads,
            workload_audience: workload_audience.to_owned(),
        }
    }

    pub async fn verify_id_token(
        &self,
        token: &str,
        now: u64,
    ) -> Result<VerifiedIdToken, IdpError> {
        let expect = Expectations {
            issuer: &self.idp.issuer,
            client_id: &self.client_id,
            now,
            bounds: self.bounds,
        };
        self.idp
            .with_keys(|jwks| id_token::verify(token, jwks, &expect))
            .await
    }

    pub async fn verify_workload_token(
        &self,
        token: &str,
        now: u64,
    ) -> Result<VerifiedWorkloadToken, IdpError> {
        let claimed = workload_token::claimed_issuer(token)
            .ok_or(IdpError::Token(IdTokenError::Malformed))?;
        let (config, keys) = self
            .workloads
            .iter()
            .find(|(w, _)| w.issuer == claimed)
            .ok_or(IdpError::UntrustedIssuer(claimed))?;
        let expect = workload_token::Expectations {
            issuer: &config.issuer,
            audience: config
                .audience
                .as_deref()
                .unwrap_or(&self.workload_audience),
            subject_claim: &config.subject_claim,
            now,
            bounds: config.token_bounds(),
        };
        keys.with_keys(|jwks| workload_token::verify(token, jwks, &expect))
            .await
    }
}

impl IdTokenVerifier for Issuers {
    fn verify<'a>(&'a self, token: &'a str, now: u64) -> VerifyFuture<'a> {
        Box::pin(self.verify_id_token(token, now))
    }

    fn verify_workload<'a>(&'a self, token: &'a str, now: u64) -> WorkloadFuture<'a> {
        Box::pin(self.verify_workload_token(token, now))
    }
}

impl IdpKeys {
    pub fn new(issuer: &str) -> Self {
        IdpKeys {
            issuer: issuer.to_owned(),
            http: super::outbound::client(),
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

    /// Run `verify` with the cached keys; when it names an unknown key and the last fetch is
    /// over a minute old, refetch the JWKS once and run it again.
    async fn with_keys<T>(
        &self,
        verify: impl Fn(&JwkSet) -> Result<T, IdTokenError>,
    ) -> Result<T, IdpError> {
        let jwks = self.jwks(false).await?;
        match verify(&jwks) {
            Err(IdTokenError::UnknownKey(_)) => {
                let jwks = self.jwks(true).await?;
                Ok(verify(&jwks)?)
            }
            other => Ok(other?),
        }
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
