//! `zt-broker.toml`: where the broker listens, which IdP it trusts, where
//! its keys, policy and store live. Relative paths are resolved against the
//! config file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

mod store;
pub use store::{Backend, PASSWORD_ENV, StoreConfig};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    pub server: ServerConfig,
    pub identity_provider: IdpConfig,
    /// Issuers of workload tokens (CI jobs, Kubernetes service accounts, OAuth clients) that
    /// `zt login --ci` may exchange. None by default: no workload gets in until one is listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workload_issuers: Vec<WorkloadIssuerConfig>,
    #[serde(default)]
    pub tokens: TokenConfig,
    pub keys: KeyPaths,
    pub policy: PathBuf,
    pub store: StoreConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub audit: AuditConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The URL clients use to reach the broker (issuer of broker tokens,
    /// base of DPoP `htu`). No trailing slash.
    pub public_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_certificate: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address. For a TLS-terminating
    /// proxy in front; logged loudly at start.
    #[serde(default)]
    pub insecure_http: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdpConfig {
    pub issuer: String,
    pub client_id: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// ID tokens issued longer ago than this are refused (zt exchanges them at once).
    #[serde(default = "default_max_token_age")]
    pub max_token_age_secs: u64,
    /// ID tokens valid for longer than this (`exp - iat`) are refused.
    #[serde(default = "default_max_token_lifetime")]
    pub max_token_lifetime_secs: u64,
}

fn default_max_token_age() -> u64 {
    zt_core::id_token::TokenBounds::default().max_age_secs
}

fn default_max_token_lifetime() -> u64 {
    zt_core::id_token::TokenBounds::default().max_lifetime_secs
}

fn default_scopes() -> Vec<String> {
    IdpConfig::default_scopes()
}

impl IdpConfig {
    /// A provider with the default scopes and token bounds.
    pub fn new(issuer: &str, client_id: &str) -> Self {
        IdpConfig {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            scopes: Self::default_scopes(),
            max_token_age_secs: default_max_token_age(),
            max_token_lifetime_secs: default_max_token_lifetime(),
        }
    }

    pub fn token_bounds(&self) -> zt_core::id_token::TokenBounds {
        zt_core::id_token::TokenBounds {
            max_age_secs: self.max_token_age_secs,
            max_lifetime_secs: self.max_token_lifetime_secs,
        }
    }

    pub fn default_scopes() -> Vec<String> {
        ["openid", "email", "profile", "groups", "offline_access"]
            .map(String::from)
            .to_vec()
    }
}

/// `[[workload_issuers]]`: one issuer of workload tokens the broker trusts, verified as
/// strictly as the people's IdP (exact `iss`, `aud`, typed times in bounds, algorithm from
/// the key, each token used once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadIssuerConfig {
    /// Exactly as the tokens' `iss` reads (e.g. `https://token.actions.githubusercontent.com`).
    pub issuer: String,
    /// The audience the tokens must carry; `[tokens] workload_audience` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The claim that names the workload (`sub`; `client_id` suits some OAuth servers).
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// Where the keys are, for an issuer without OIDC discovery; discovered when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Tokens issued longer ago than this are refused.
    #[serde(default = "default_workload_max_age")]
    pub max_token_age_secs: u64,
    /// Tokens valid for longer than this (`exp - iat`) are refused.
    #[serde(default = "default_max_token_lifetime")]
    pub max_token_lifetime_secs: u64,
}

fn default_subject_claim() -> String {
    "sub".into()
}

fn default_workload_max_age() -> u64 {
    3600
}

impl WorkloadIssuerConfig {
    pub fn token_bounds(&self) -> zt_core::id_token::TokenBounds {
        zt_core::id_token::TokenBounds {
            max_age_secs: self.max_token_age_secs,
            max_lifetime_secs: self.max_token_lifetime_secs,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    #[serde(default = "default_audience")]
    pub audience: String,
    #[serde(default = "default_token_ttl")]
    pub access_token_ttl_secs: u64,
    /// The audience workload tokens must be minted for (what a CI job asks its issuer for);
    /// the broker's public URL when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_audience: Option<String>,
    /// Lifetime of tokens for other services (`zt token --audience`).
    #[serde(default = "default_service_token_ttl")]
    pub service_token_ttl_secs: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            audience: default_audience(),
            access_token_ttl_secs: default_token_ttl(),
            workload_audience: None,
            service_token_ttl_secs: default_service_token_ttl(),
        }
    }
}

fn default_service_token_ttl() -> u64 {
    300
}

fn default_audience() -> String {
    "zt-broker".into()
}

fn default_token_ttl() -> u64 {
    300
}

/// `[limits]`: request rates and connection counts. Sized so that honest
/// clients (a login, a renewal every few minutes, CI fleets behind one NAT
/// address) never meet them. A rate of 0 per minute switches that limit off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Token exchanges plus certificate requests per minute from one client
    /// address (IPv6: one /64), and the burst allowed on top.
    pub per_address_per_minute: u32,
    pub per_address_burst: u32,
    /// The same, per verified identity (IdP issuer and subject).
    pub per_identity_per_minute: u32,
    pub per_identity_burst: u32,
    /// Connections served at once, in total and from one client address. At either bound a new
    /// connection takes the place of the oldest one still waiting for its request head
    /// (of that address; overall: of the address with the most such connections); it is
    /// refused only when every connection there is serving a request.
    pub max_connections: u32,
    pub max_connections_per_address: u32,
    /// Connections pushed out at a bound before they sent a request head are parked:
    /// held open, unread and with no buffer, until their header deadline, so a slow
    /// client does not notice and reconnect at once. At most this many; then the oldest
    /// parked one is closed. 0: close them at once.
    pub max_parked_connections: u32,
    /// Time a client has to send a complete request head; slower clients are
    /// disconnected.
    pub header_read_timeout_secs: u64,
    /// The shorter time they have while more than `pressure_percent` % of
    /// `max_connections` are waiting for a request head (never longer than
    /// `header_read_timeout_secs`).
    pub pressure_header_read_timeout_secs: u64,
    pub pressure_percent: u32,
    /// Largest request head (request line and headers) read into memory; a longer one
    /// gets 431. Bounds what one connection can make the broker buffer.
    pub max_request_head_bytes: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            per_address_per_minute: 600,
            per_address_burst: 120,
            per_identity_per_minute: 60,
            per_identity_burst: 30,
            max_connections: 512,
            max_connections_per_address: 64,
            max_parked_connections: 8192,
            header_read_timeout_secs: 10,
            pressure_header_read_timeout_secs: 2,
            pressure_percent: 50,
            max_request_head_bytes: 16 * 1024,
        }
    }
}

impl LimitsConfig {
    /// No request rate limits (connection limits and timeouts stay).
    pub fn without_rate_limits(self) -> Self {
        LimitsConfig {
            per_address_per_minute: 0,
            per_identity_per_minute: 0,
            ..self
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(format!("limits.{m}")));
        if self.per_address_per_minute > 0 && self.per_address_burst == 0 {
            return bad("per_address_burst must be at least 1 when the rate is on");
        }
        if self.per_identity_per_minute > 0 && self.per_identity_burst == 0 {
            return bad("per_identity_burst must be at least 1 when the rate is on");
        }
        if self.max_connections == 0 || self.max_connections_per_address == 0 {
            return bad("max_connections and max_connections_per_address must be at least 1");
        }
        if self.max_connections_per_address > self.max_connections {
            return bad("max_connections_per_address must not exceed max_connections");
        }
        if !(1..=300).contains(&self.header_read_timeout_secs) {
            return bad("header_read_timeout_secs must be between 1 and 300");
        }
        if self.max_parked_connections > 1_000_000 {
            return bad("max_parked_connections must be at most 1000000");
        }
        if !(1..=300).contains(&self.pressure_header_read_timeout_secs) {
            return bad("pressure_header_read_timeout_secs must be between 1 and 300");
        }
        if !(1..=100).contains(&self.pressure_percent) {
            return bad("pressure_percent must be between 1 and 100");
        }
        // hyper's smallest read buffer is 8 KiB.
        if !(8 * 1024..=1024 * 1024).contains(&self.max_request_head_bytes) {
            return bad("max_request_head_bytes must be between 8192 and 1048576");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPaths {
    pub user_ca: PathBuf,
    pub host_ca: PathBuf,
    pub token_signing: PathBuf,
    /// ES256 key that signs audit checkpoints. Defaulted so that configs
    /// written before checkpoints existed still load; `serve` creates the
    /// key on first start if it is missing.
    #[serde(default = "default_audit_key")]
    pub audit_signing: PathBuf,
    /// Public keys (`.pub`) of other host CAs to publish next to this one,
    /// during a host CA rotation: the next CA before hosts move to it, or
    /// the previous one until every host has moved away. Clients trust each
    /// as `@cert-authority`, and hosts certified by one can renew.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_host_ca_keys: Vec<PathBuf>,
}

fn default_audit_key() -> PathBuf {
    PathBuf::from("audit_signing_key.pem")
}

/// When the broker signs an audit checkpoint: after this many records or
/// this many seconds with new records, whichever comes first, and on a
/// clean shutdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    #[serde(default = "default_checkpoint_records")]
    pub checkpoint_records: u64,
    #[serde(default = "default_checkpoint_secs")]
    pub checkpoint_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_records: default_checkpoint_records(),
            checkpoint_secs: default_checkpoint_secs(),
        }
    }
}

fn default_checkpoint_records() -> u64 {
    1000
}

fn default_checkpoint_secs() -> u64 {
    10
}

/// An http(s) URL the broker may talk to or advertise (see [`zt_core::urls::service_url`]).
pub fn check_service_url(what: &str, text: &str) -> Result<Url, ConfigError> {
    zt_core::urls::service_url(what, text).map_err(|e| ConfigError::Invalid(e.to_string()))
}

impl BrokerConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: BrokerConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.validate()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.keys.user_ca);
        fix(&mut self.keys.host_ca);
        fix(&mut self.keys.token_signing);
        fix(&mut self.keys.audit_signing);
        self.keys.additional_host_ca_keys.iter_mut().for_each(fix);
        fix(&mut self.policy);
        self.store.resolve_paths(fix);
        if let Some(p) = self.server.tls_certificate.as_mut() {
            fix(p);
        }
        if let Some(p) = self.server.tls_key.as_mut() {
            fix(p);
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        check_service_url("identity_provider.issuer", &self.identity_provider.issuer)?;
        let public = Url::parse(&self.server.public_url)
            .map_err(|e| ConfigError::Invalid(format!("server.public_url is not a URL: {e}")))?;
        if self.server.public_url.ends_with('/') || public.query().is_some() {
            return Err(ConfigError::Invalid(
                "server.public_url must have no trailing slash or query".into(),
            ));
        }
        if self.server.tls_certificate.is_some() != self.server.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "server.tls_certificate and server.tls_key go together".into(),
            ));
        }
        let tls = self.server.tls_certificate.is_some();
        if !tls && !self.server.listen.ip().is_loopback() && !self.server.insecure_http {
            return Err(ConfigError::Invalid(format!(
                "refusing plain HTTP on {}: configure server.tls_certificate/tls_key, or set server.insecure_http = true behind a TLS proxy",
                self.server.listen
            )));
        }
        if self.identity_provider.client_id.is_empty() {
            return Err(ConfigError::Invalid(
                "identity_provider.client_id is empty".into(),
            ));
        }
        if self.audit.checkpoint_records == 0 || !(1..=3600).contains(&self.audit.checkpoint_secs) {
            return Err(ConfigError::Invalid(
                "audit.checkpoint_records must be at least 1 and audit.checkpoint_secs between 1 and 3600".into(),
            ));
        }
        let idp = &self.identity_provider;
        if !(30..=86_400).contains(&idp.max_token_age_secs)
            || !(60..=30 * 86_400).contains(&idp.max_token_lifetime_secs)
        {
            return Err(ConfigError::Invalid(
                "identity_provider.max_token_age_secs must be between 30 and 86400, and max_token_lifetime_secs between 60 and 2592000".into(),
            ));
        }
        if !(30..=3600).contains(&self.tokens.service_token_ttl_secs) {
            return Err(ConfigError::Invalid(
                "tokens.service_token_ttl_secs must be between 30 and 3600".into(),
            ));
        }
        self.validate_workload_issuers()?;
        self.store.validate()?;
        if !(30..=3600).contains(&self.tokens.access_token_ttl_secs) {
            return Err(ConfigError::Invalid(
                "tokens.access_token_ttl_secs must be between 30 and 3600".into(),
            ));
        }
        self.limits.validate()
    }

    /// The audience workload tokens must carry: `[tokens] workload_audience`, else the
    /// broker's public URL (unique to this broker, so a token minted for another service
    /// or another company's broker is refused).
    pub fn workload_audience(&self) -> &str {
        self.tokens
            .workload_audience
            .as_deref()
            .unwrap_or(&self.server.public_url)
    }

    fn validate_workload_issuers(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(format!("workload_issuers: {m}")));
        if self.workload_audience().is_empty() {
            return bad("tokens.workload_audience is empty".into());
        }
        let mut seen = std::collections::HashSet::new();
        for w in &self.workload_issuers {
            check_service_url("workload_issuers.issuer", &w.issuer)?;
            if let Some(uri) = &w.jwks_uri {
                check_service_url("workload_issuers.jwks_uri", uri)?;
            }
            if w.issuer == self.server.public_url {
                return bad("the broker cannot trust itself as a workload issuer".into());
            }
            if !seen.insert(w.issuer.as_str()) {
                return bad(format!("{} is listed twice", w.issuer));
            }
            if w.audience.as_deref() == Some("") || w.subject_claim.is_empty() {
                return bad(format!(
                    "{}: audience and subject_claim must not be empty",
                    w.issuer
                ));
            }
            if !(30..=86_400).contains(&w.max_token_age_secs)
                || !(60..=30 * 86_400).contains(&w.max_token_lifetime_secs)
            {
                return bad(format!(
                    "{}: max_token_age_secs must be between 30 and 86400, and max_token_lifetime_secs between 60 and 2592000",
                    w.issuer
                ));
            }
        }
        Ok(())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_from_before_audit_checkpoints_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zt-broker.toml");
        std::fs::write(
            &path,
            r#"policy = "policy.toml"
[server]
listen = "127.0.0.1:8443"
public_url = "http://127.0.0.1:8443"
[identity_provider]
issuer = "https://idp.example"
client_id = "zt"
[keys]
user_ca = "user_ca"
host_ca = "host_ca"
token_signing = "token_signing_key.pem"
[store]
sqlite = "zt-broker.db"
"#,
        )
        .unwrap();
        let config = BrokerConfig::load(&path).unwrap();
        assert_eq!(
            config.keys.audit_signing,
            dir.path().join("audit_signing_key.pem")
        );
        assert_eq!(config.audit, AuditConfig::default());
    }
}
