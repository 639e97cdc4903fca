//! The broker's logic behind the HTTP handlers: token exchange and
//! certificate issue. Handlers extract, call one method here, and map the
//! error; everything a request must prove is checked here, in order.

mod hosts;
mod posture;
mod refusal;
#[cfg(test)]
mod tests;
mod token_cache;

pub use hosts::{HOST_CERTIFICATE_TTL, KrlDocument, enrolment_token_hash};
pub use posture::GRACE_TTL;
pub use refusal::Refusal;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ssh_key::PublicKey;

use super::config::BrokerConfig;
use super::idp::{IdTokenVerifier, IdpError};
use super::keys::{BrokerKeys, openssh_public};
use super::limits::RateLimits;
use super::store::{Coming, DeviceUse, OnceKind, OnceValue, Store, StoreError, Write};
use zt_core::access_token::{self, AccessClaims, AccessTokenError};
use zt_core::audit::{AuditRecord, CertificateFacts, EventKind, Outcome, PostureFacts, Subject};
use zt_core::ca::{self, KeyIdFields, UserCertSpec};
use zt_core::device::DeviceRequirement;
use zt_core::dpop::{self, DpopError, VerifiedProof};
use zt_core::id_token::{IdTokenError, LEEWAY_SECS};
use zt_core::nonce::NonceKey;
use zt_core::policy::{Identity, Policy};
use zt_core::proto::{self, ErrorCode};

/// What the HTTP layer knows about a request.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_addr: Option<SocketAddr>,
    pub dpop: Option<String>,
    pub authorization: Option<String>,
    pub now: u64,
}

pub struct Broker {
    config: BrokerConfig,
    keys: BrokerKeys,
    policy: RwLock<Arc<Policy>>,
    idp: Arc<dyn IdTokenVerifier>,
    store: Arc<dyn Store>,
    token_url: String,
    certificate_url: String,
    host_certificate_url: String,
    limits: RateLimits,
    krl_cache: hosts::KrlCache,
    nonces: NonceKey,
    verified_tokens: token_cache::TokenCache,
}

impl Broker {
    /// The service over its parts: `idp` verifies ID tokens (the server fetches the IdP's
    /// keys; tests pass a fixed set), `store` makes every decision durable.
    pub fn new(
        config: BrokerConfig,
        keys: BrokerKeys,
        policy: Policy,
        idp: Arc<dyn IdTokenVerifier>,
        store: Arc<dyn Store>,
    ) -> Self {
        let base = config.server.public_url.clone();
        let nonces = NonceKey::derive(
            &keys
                .user_ca
                .private()
                .to_bytes()
                .expect("a loaded CA key encodes"),
        );
        Broker {
            nonces,
            limits: RateLimits::new(&config.limits),
            krl_cache: hosts::KrlCache::default(),
            verified_tokens: token_cache::TokenCache::default(),
            token_url: format!("{base}{}", proto::TOKEN_PATH),
            certificate_url: format!("{base}{}", proto::CERTIFICATE_PATH),
            host_certificate_url: format!("{base}{}", proto::HOST_CERTIFICATE_PATH),
            config,
            keys,
            policy: RwLock::new(Arc::new(policy)),
            idp,
            store,
        }
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// A fresh `DPoP-Nonce` (RFC 9449 §8) for a client's next posture-bound proof.
    pub fn fresh_nonce(&self, now: u64) -> String {
        self.nonces.issue(now)
    }

    fn policy(&self) -> Arc<Policy> {
        self.policy.read().expect("policy lock").clone()
    }

    pub fn configuration(&self) -> proto::BrokerConfiguration {
        let policy_defaults = self.policy().defaults();
        proto::BrokerConfiguration {
            api_version: proto::API_VERSION,
            broker: self.config.server.public_url.clone(),
            audience: self.config.tokens.audience.clone(),
            identity_provider: proto::IdentityProviderInfo {
                issuer: self.config.identity_provider.issuer.clone(),
                client_id: self.config.identity_provider.client_id.clone(),
                scopes: self.config.identity_provider.scopes.clone(),
            },
            user_ca_keys: vec![openssh_public(&self.keys.user_ca_public())],
            host_ca_keys: self
                .keys
                .host_ca_publics()
                .iter()
                .map(openssh_public)
                .collect(),
            certificate_ttl: proto::TtlLimits {
                default_secs: policy_defaults.ttl.as_secs(),
                max_secs: policy_defaults.max_ttl.as_secs(),
            },
            token_endpoint: self.token_url.clone(),
            certificate_endpoint: self.certificate_url.clone(),
            jwks_uri: format!("{}{}", self.config.server.public_url, proto::JWKS_PATH),
            workload_audience: if self.config.workload_issuers.is_empty() {
                String::new()
            } else {
                self.config.workload_audience().to_owned()
            },
        }
    }

    pub async fn ready(&self) -> Result<(), Refusal> {
        self.store
            .ping()
            .await
            .map_err(|e| Refusal::unavailable(e.to_string()))
    }

    /// RFC 8693: an IdP ID token (plus a DPoP proof) for a broker access
    /// token bound to the proof's key. A refusal is audited too.
    pub async fn exchange(
        &self,
        meta: &RequestMeta,
        req: &proto::TokenExchangeRequest,
    ) -> Result<proto::TokenExchangeResponse, Refusal> {
        let mut known = Known::default();
        let result = self.try_exchange(meta, req, &mut known).await;
        self.audit_refusal(meta, EventKind::TokenExchangeRefused, known, &result)
            .await;
        result
    }

    async fn try_exchange(
        &self,
        meta: &RequestMeta,
        req: &proto::TokenExchangeRequest,
        known: &mut Known,
    ) -> Result<proto::TokenExchangeResponse, Refusal> {
        if req.grant_type != proto::GRANT_TYPE_TOKEN_EXCHANGE {
            return Err(Refusal::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type must be {}", proto::GRANT_TYPE_TOKEN_EXCHANGE),
            ));
        }
        let for_broker = req
            .audience
            .as_deref()
            .is_none_or(|a| a == self.config.tokens.audience);
        match req.subject_token_type.as_str() {
            proto::TOKEN_TYPE_ACCESS_TOKEN if !for_broker => {
                self.try_service_token(meta, req, known).await
            }
            proto::TOKEN_TYPE_ACCESS_TOKEN => Err(Refusal::new(
                ErrorCode::InvalidTarget,
                "a broker token is exchanged only for another audience; the broker's own audience needs no exchange",
            )),
            proto::TOKEN_TYPE_ID_TOKEN | proto::TOKEN_TYPE_JWT if !for_broker => Err(Refusal::new(
                ErrorCode::InvalidTarget,
                "exchange the identity for a broker token first, then that token for the other audience",
            )),
            proto::TOKEN_TYPE_ID_TOKEN => self.try_identity_exchange(meta, req, known, false).await,
            proto::TOKEN_TYPE_JWT => self.try_identity_exchange(meta, req, known, true).await,
            _ => Err(Refusal::bad_request(format!(
                "subject_token_type must be {} (a person's ID token), {} (a workload token) or, with an audience, {} (a broker token)",
                proto::TOKEN_TYPE_ID_TOKEN,
                proto::TOKEN_TYPE_JWT,
                proto::TOKEN_TYPE_ACCESS_TOKEN,
            ))),
        }
    }

    /// An ID token (a person) or a workload token (a CI job, a service account, an OAuth
    /// client) for a broker access token bound to the DPoP proof's key.
    async fn try_identity_exchange(
        &self,
        meta: &RequestMeta,
        req: &proto::TokenExchangeRequest,
        known: &mut Known,
        workload: bool,
    ) -> Result<proto::TokenExchangeResponse, Refusal> {
        let proof = self.check_proof(meta, &self.token_url, None)?;
        known.device = Some(proof.jkt.clone());
        let (identity, token_id, expires_at) = if workload {
            let verified = self
                .idp
                .verify_workload(&req.subject_token, meta.now)
                .await
                .map_err(map_workload_error)?;
            (verified.identity, verified.token_id, verified.expires_at)
        } else {
            let verified = self
                .idp
                .verify(&req.subject_token, meta.now)
                .await
                .map_err(map_idp_error)?;
            (verified.identity, verified.token_id, verified.expires_at)
        };
        known.identity = Some(identity.clone());
        known.workload = workload_facts(&identity, None);
        self.check_identity_rate(&identity)?;
        if identity.is_workload() {
            // A job no rule admits is told now, naming what did not match, rather than
            // after it has made a key and asked for a certificate.
            let grant = self
                .policy()
                .evaluate(&identity)
                .map_err(|denial| Refusal::denied(denial.to_string()))?;
            known.rule = Some(grant.rule.clone());
            known.workload = workload_facts(&identity, self.policy().rule(&grant.rule));
        }
        let ttl = self.config.tokens.access_token_ttl_secs;
        let mint = access_token::Mint {
            issuer: &self.config.server.public_url,
            audience: &self.config.tokens.audience,
            identity: &identity,
            jkt: &proof.jkt,
            now: meta.now,
            ttl_secs: ttl,
        };
        let (token, _) = access_token::mint(&self.keys.token, &mint)
            .map_err(|e| Refusal::internal(format!("could not sign the access token: {e}")))?;
        let write = Write {
            once: vec![
                proof_once(&proof, meta.now),
                OnceValue {
                    kind: OnceKind::IdToken,
                    value: token_id,
                    expires_at: expires_at + LEEWAY_SECS,
                },
            ],
            serial: None,
            unless_revoked: Some((identity.issuer.clone(), identity.subject.clone())),
            changes: vec![],
            device: Some(device_use(
                &proof,
                &identity,
                DeviceRequirement::Registered,
                meta.now,
            )),
            audit: self.record(
                meta,
                EventKind::TokenExchange,
                known,
                None,
                Outcome::success(),
            ),
        };
        self.store.commit(write).await.map_err(map_store_error)?;
        Ok(proto::TokenExchangeResponse {
            access_token: token,
            issued_token_type: proto::TOKEN_TYPE_ACCESS_TOKEN.into(),
            token_type: "DPoP".into(),
            expires_in: ttl,
        })
    }

    /// RFC 8693 with `audience`: the caller's broker access token (and a DPoP proof by its
    /// device key) for a short-lived token for another service, when the rule that matches
    /// the caller lists that service in `audiences`. Audited before it leaves.
    async fn try_service_token(
        &self,
        meta: &RequestMeta,
        req: &proto::TokenExchangeRequest,
        known: &mut Known,
    ) -> Result<proto::TokenExchangeResponse, Refusal> {
        let audience = req.audience.as_deref().unwrap_or_default();
        known.audience = Some(audience.to_owned());
        if audience.is_empty()
            || audience.len() > 256
            || !audience.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Refusal::new(
                ErrorCode::InvalidTarget,
                "audience must be 1-256 printable ASCII characters without spaces",
            ));
        }
        if req
            .requested_token_type
            .as_deref()
            .is_some_and(|t| t != proto::TOKEN_TYPE_JWT)
        {
            return Err(Refusal::bad_request(format!(
                "requested_token_type must be {} for another audience",
                proto::TOKEN_TYPE_JWT
            )));
        }
        let claims = self.verify_access_token(&req.subject_token, meta.now)?;
        let identity = claims.identity();
        known.identity = Some(identity.clone());
        let proof = self.check_proof(meta, &self.token_url, Some(&req.subject_token))?;
        if proof.jkt != claims.cnf.jkt {
            return Err(Refusal::invalid_dpop(DpopError::KeyMismatch.to_string()));
        }
        known.device = Some(proof.jkt.clone());
        self.check_identity_rate(&identity)?;
        let policy = self.policy();
        let grant = policy
            .evaluate(&identity)
            .map_err(|denial| Refusal::denied(denial.to_string()))?;
        known.rule = Some(grant.rule.clone());
        known.workload = workload_facts(&identity, policy.rule(&grant.rule));
        if !grant.audiences.iter().any(|a| a == audience) {
            return Err(Refusal::denied(format!(
                "rule {} does not list audience {} in its audiences; ask a zt admin to add it",
                zt_core::text::quoted(&grant.rule, 80),
                zt_core::text::quoted(audience, 120),
            )));
        }
        if grant.require.posture.is_some() {
            return Err(Refusal::denied(format!(
                "rule {} requires device posture, and tokens for other services do not carry a posture check yet; ask a zt admin for a rule without posture for this audience",
                zt_core::text::quoted(&grant.rule, 80),
            )));
        }
        let ttl = self.config.tokens.service_token_ttl_secs;
        let mint = zt_core::service_token::Mint {
            issuer: &self.config.server.public_url,
            audience,
            identity: &identity,
            device: &proof.jkt,
            rule: &grant.rule,
            now: meta.now,
            ttl_secs: ttl,
        };
        let (token, _) = zt_core::service_token::mint(&self.keys.token, &mint)
            .map_err(|e| Refusal::internal(format!("could not sign the token: {e}")))?;
        let write = Write {
            once: vec![proof_once(&proof, meta.now)],
            serial: None,
            unless_revoked: Some((identity.issuer.clone(), identity.subject.clone())),
            changes: vec![],
            device: Some(device_use(
                &proof,
                &identity,
                grant.require.device,
                meta.now,
            )),
            audit: self.record(
                meta,
                EventKind::ServiceTokenIssued,
                known,
                None,
                Outcome::success(),
            ),
        };
        self.store
            .commit(write)
            .await
            .map_err(|e| with_device_id(map_store_error(e), &proof.jkt))?;
        Ok(proto::TokenExchangeResponse {
            access_token: token,
            issued_token_type: proto::TOKEN_TYPE_JWT.into(),
            token_type: "Bearer".into(),
            expires_in: ttl,
        })
    }

    /// The keys that verify the tokens this broker mints, for `GET /v1/jwks`: the current
    /// token key first, then the previous one during a rotation.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .token_publics()
            .map(zt_core::service_token::public_jwk)
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// Sign an SSH user certificate for a key the caller proves it holds,
    /// with exactly what the matching policy rule grants (narrowed on
    /// request). Returned only after its audit record is durable. A refusal
    /// is audited too.
    pub async fn issue_certificate(
        &self,
        meta: &RequestMeta,
        req: &proto::CertificateRequest,
    ) -> Result<proto::CertificateResponse, Refusal> {
        let mut known = Known::default();
        let result = self.try_issue_certificate(meta, req, &mut known).await;
        self.audit_refusal(meta, EventKind::CertificateRefused, known, &result)
            .await;
        result
    }

    async fn try_issue_certificate(
        &self,
        meta: &RequestMeta,
        req: &proto::CertificateRequest,
        known: &mut Known,
    ) -> Result<proto::CertificateResponse, Refusal> {
        // Announced before the work, so that a commit group can wait for it.
        let coming = self.store.coming();
        let (token, claims) = self.check_access_token(meta)?;
        // Our own signature on the access token verified it: the identity
        // in it is verified.
        known.identity = Some(claims.identity());
        let proof = self.check_proof(meta, &self.certificate_url, Some(&token))?;
        if proof.jkt != claims.cnf.jkt {
            return Err(Refusal::invalid_dpop(DpopError::KeyMismatch.to_string()));
        }
        known.device = Some(proof.jkt.clone());
        // Counted only once the caller proved it holds the token's device key,
        // so a stolen token cannot spend its owner's budget.
        self.check_identity_rate(&claims.identity())?;
        let subject_key = PublicKey::from_openssh(req.public_key.trim())
            .map_err(|_| Refusal::invalid_key("public_key is not an OpenSSH public key line"))?;
        let ca_keys = [self.keys.user_ca_public(), self.keys.host_ca_public()];
        ca::check_subject_key(&subject_key, &ca_keys)
            .map_err(|e| Refusal::invalid_key(e.to_string()))?;
        let message = ca::possession_message(&proof.jti, req.public_key.trim());
        ca::verify_possession(&subject_key, &message, &req.possession_proof).map_err(|_| {
            Refusal::invalid_key(
                "possession_proof does not verify: sign the request with the key being certified",
            )
        })?;

        let identity = claims.identity();
        let grant = self
            .policy()
            .evaluate(&identity)
            .map_err(|denial| Refusal::denied(denial.to_string()))?;
        known.rule = Some(grant.rule.clone());
        known.workload = workload_facts(&identity, self.policy().rule(&grant.rule));
        let grant_require = grant.require.clone();
        let requested_ttl = req.ttl_secs.map(Duration::from_secs);
        let mut issue = grant
            .narrow(req.principals.as_deref(), requested_ttl)
            .map_err(|e| Refusal::denied(e.to_string()))?;
        let posture = self
            .check_posture(meta, req, &proof, &grant_require, known)
            .await?;
        if let Some(cap) = posture.ttl_cap {
            issue.ttl = issue.ttl.min(cap);
        }
        let (hostname, os) = posture::device_facts(req.posture.as_ref());
        let key_id = ca::key_id(&KeyIdFields {
            issuer: &identity.issuer,
            subject: &identity.subject,
            email: identity.email.as_deref(),
            device: &proof.jkt,
            request_id: &meta.request_id,
        });
        let (valid_after, valid_before) = ca::validity(meta.now, issue.ttl);
        let fingerprint = ca::fingerprint(&subject_key);
        let spec = UserCertSpec {
            serial: 0,
            key_id,
            principals: issue.principals.clone(),
            valid_after,
            valid_before,
            extensions: issue.extensions.clone(),
            force_command: issue.force_command.clone(),
            source_address: issue.source_address.clone(),
            posture: posture.extension.clone(),
        };
        let (serial, certificate) = self
            .issue_with_fresh_serial(coming, |serial| {
                let spec = UserCertSpec {
                    serial,
                    ..spec.clone()
                };
                let certificate = ca::sign_user_certificate(
                    &self.keys.user_ca,
                    &subject_key,
                    &spec,
                    &mut rand_core::OsRng,
                )
                .map_err(|e| Refusal::internal(format!("could not sign the certificate: {e}")))?;
                let facts = CertificateFacts {
                    serial,
                    key_id: spec.key_id.clone(),
                    principals: spec.principals.clone(),
                    valid_after,
                    valid_before,
                    key_fingerprint: fingerprint.clone(),
                };
                let write = Write {
                    once: std::iter::once(proof_once(&proof, meta.now))
                        .chain(posture.once.clone())
                        .collect(),
                    serial: Some(serial),
                    unless_revoked: Some((identity.issuer.clone(), identity.subject.clone())),
                    changes: vec![],
                    device: Some(DeviceUse {
                        hostname: hostname.clone(),
                        os: os.clone(),
                        posture_failing: posture.failing_checks.clone(),
                        ..device_use(&proof, &identity, grant_require.device, meta.now)
                    }),
                    audit: self.record(
                        meta,
                        EventKind::CertificateIssued,
                        known,
                        Some(facts),
                        Outcome::success(),
                    ),
                };
                Ok((certificate, write))
            })
            .await
            .map_err(|refusal| with_device_id(refusal, &proof.jkt))?;
        Ok(proto::CertificateResponse {
            certificate,
            serial,
            key_id: spec.key_id,
            principals: spec.principals,
            valid_after,
            valid_before,
            rule: issue.rule,
            posture: posture.outcome,
        })
    }

    /// Sign with a fresh random 63-bit serial and commit the write that goes
    /// with it; the OpenSSH text of the certificate leaves only after that.
    /// Serials are unguessable, and the store's unique index turns the
    /// (astronomically rare) collision into another try with a new serial.
    /// `coming` is the request's announcement, ended as its write is queued.
    async fn issue_with_fresh_serial(
        &self,
        coming: Coming,
        mut sign: impl FnMut(u64) -> Result<(ssh_key::Certificate, Write), Refusal>,
    ) -> Result<(u64, String), Refusal> {
        let mut coming = Some(coming);
        for _ in 0..3 {
            let serial = random_serial();
            let (certificate, write) = sign(serial)?;
            drop(coming.take());
            match self.store.commit(write).await {
                Ok(()) => {
                    let text = certificate.to_openssh().map_err(|e| {
                        Refusal::internal(format!("could not encode the certificate: {e}"))
                    })?;
                    return Ok((serial, text));
                }
                Err(StoreError::SerialTaken) => continue,
                Err(e) => return Err(map_store_error(e)),
            }
        }
        Err(Refusal::internal("could not allocate a unique serial"))
    }

    fn check_identity_rate(&self, identity: &Identity) -> Result<(), Refusal> {
        let subject = access_token::broker_subject(identity);
        self.limits
            .check_identity(&subject)
            .map_err(|retry| Refusal::rate_limited(retry.0, "too many requests for this identity"))
    }

    fn check_access_token(
        &self,
        meta: &RequestMeta,
    ) -> Result<(String, Arc<AccessClaims>), Refusal> {
        let header = meta.authorization.as_deref().ok_or_else(|| {
            Refusal::invalid_token("missing Authorization: DPoP <token>; run `zt login`")
        })?;
        let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("DPoP") || token.is_empty() {
            return Err(Refusal::invalid_token(
                "this broker accepts only DPoP-bound tokens (Authorization: DPoP <token>)",
            ));
        }
        let claims = self.verify_access_token(token, meta.now)?;
        Ok((token.to_owned(), claims))
    }

    /// One of this broker's access tokens: signed by its token key (or, during a rotation,
    /// the previous one), for its audience, unexpired. A token verified before is served from
    /// [`token_cache`], its time checked again.
    fn verify_access_token(&self, token: &str, now: u64) -> Result<Arc<AccessClaims>, Refusal> {
        let verify = |key: &zt_core::jose::SigningKey| {
            access_token::verify(
                token,
                key,
                &self.config.server.public_url,
                &self.config.tokens.audience,
                now,
            )
        };
        self.verified_tokens
            .get_or_verify(token, now, || {
                let mut result = verify(&self.keys.token);
                if matches!(result, Err(AccessTokenError::BadSignature)) {
                    if let Some(previous) = &self.keys.previous_token {
                        result = verify(previous);
                    }
                }
                result
            })
            .map_err(|e| Refusal::invalid_token(e.to_string()))
    }

    fn check_proof(
        &self,
        meta: &RequestMeta,
        url: &str,
        token: Option<&str>,
    ) -> Result<VerifiedProof, Refusal> {
        let proof = meta
            .dpop
            .as_deref()
            .ok_or_else(|| Refusal::invalid_dpop(DpopError::Missing.to_string()))?;
        let expected = dpop::Expected {
            method: "POST",
            url,
            now: meta.now,
            access_token: token,
        };
        dpop::verify_proof(proof, &expected).map_err(|e| Refusal::invalid_dpop(e.to_string()))
    }

    fn record(
        &self,
        meta: &RequestMeta,
        kind: EventKind,
        known: &Known,
        certificate: Option<CertificateFacts>,
        outcome: Outcome,
    ) -> AuditRecord {
        AuditRecord {
            time: meta.now,
            kind,
            request_id: meta.request_id.clone(),
            identity: known.identity.as_ref().map(|identity| Subject {
                issuer: identity.issuer.clone(),
                subject: identity.subject.clone(),
                email: identity.email.clone(),
            }),
            client_addr: meta.client_addr.map(|a| a.ip().to_string()),
            device: known.device.clone(),
            rule: known.rule.clone(),
            certificate,
            outcome: Some(outcome),
            revocation: None,
            enrolment: None,
            posture: known.posture.clone(),
            audience: known.audience.clone(),
            workload: known.workload.clone(),
        }
    }

    /// Record a refusal, best effort: the caller gets its refusal whether
    /// or not the record could be written (an unwritable log must not turn
    /// a 401 into a 503, and the refusal issues nothing that needs a
    /// record). Successes were recorded, durably, before they were returned.
    async fn audit_refusal<T>(
        &self,
        meta: &RequestMeta,
        kind: EventKind,
        known: Known,
        result: &Result<T, Refusal>,
    ) {
        let Err(error) = result else { return };
        let outcome = error.outcome();
        let write = Write::record(self.record(meta, kind, &known, None, outcome));
        if let Err(e) = self.store.commit(write).await {
            tracing::warn!(request_id = %meta.request_id, error = %e, "could not record a refusal in the audit log");
        }
    }
}

/// What a request has proven so far; a refusal records exactly this, so an
/// identity is recorded only once its token verified.
#[derive(Debug, Default)]
struct Known {
    identity: Option<Identity>,
    /// Thumbprint of a DPoP key whose proof verified.
    device: Option<String>,
    rule: Option<String>,
    /// The posture report's digest, and how it met the rule.
    posture: Option<PostureFacts>,
    /// The service a token was asked for.
    audience: Option<String>,
    /// A workload's identifying claims (see [`workload_facts`]).
    workload: Option<BTreeMap<String, String>>,
}

/// Claims that say which run of which job a workload is (GitHub Actions, GitLab CI,
/// Kubernetes): recorded with every decision about it, so an auditor can find the run.
const TRACE_CLAIMS: [&str; 20] = [
    "sub",
    "repository",
    "ref",
    "sha",
    "workflow",
    "job_workflow_ref",
    "environment",
    "event_name",
    "run_id",
    "run_attempt",
    "actor",
    "project_path",
    "pipeline_id",
    "job_id",
    "namespace_path",
    "client_id",
    "kubernetes.io.namespace",
    "kubernetes.io.serviceaccount.name",
    "kubernetes.io.pod.name",
    "kubernetes.io.pod.uid",
];

/// For the audit record of a workload: its run-identifying claims and those the rule tested.
fn workload_facts(
    identity: &Identity,
    rule: Option<&zt_core::policy::Rule>,
) -> Option<BTreeMap<String, String>> {
    let claims = identity.workload.as_ref()?;
    let tested: Vec<&str> = rule
        .map(|r| {
            r.conditions()
                .claims()
                .iter()
                .map(|(name, _)| name)
                .collect()
        })
        .unwrap_or_default();
    Some(
        claims
            .iter()
            .filter(|(name, _)| {
                TRACE_CLAIMS.contains(&name.as_str()) || tested.contains(&name.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// The use of the proof's device by `identity` that a write records (and refuses when the
/// device is revoked, another user's, or not approved where `require` says so).
fn device_use(
    proof: &VerifiedProof,
    identity: &Identity,
    require: DeviceRequirement,
    now: u64,
) -> DeviceUse {
    DeviceUse {
        id: proof.jkt.clone(),
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        hostname: None,
        os: None,
        require,
        now,
        posture_failing: None,
    }
}

fn proof_once(proof: &VerifiedProof, now: u64) -> OnceValue {
    // A proof is acceptable for ±60 s around its iat, so remembering its
    // jti a little longer than that is enough.
    OnceValue {
        kind: OnceKind::DpopJti,
        value: proof.jti.clone(),
        expires_at: proof.iat.max(now) + 2 * dpop::IAT_WINDOW_SECS,
    }
}

/// A device refusal names the device, so the user can hand its ID to an admin.
fn with_device_id(mut refusal: Refusal, device: &str) -> Refusal {
    if matches!(
        refusal.code,
        ErrorCode::DeviceNotApproved | ErrorCode::DeviceRevoked
    ) {
        refusal.description = format!("{} (device ID {device})", refusal.description);
    }
    refusal
}

/// A random non-zero 63-bit certificate serial.
pub(crate) fn random_serial() -> u64 {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system RNG failed");
    (u64::from_be_bytes(bytes) >> 1).max(1)
}

fn map_idp_error(e: IdpError) -> Refusal {
    match e {
        IdpError::Unreachable(..) | IdpError::BadMetadata(_) => {
            Refusal::unavailable(format!("cannot verify ID tokens right now: {e}"))
        }
        IdpError::Token(IdTokenError::Expired) => Refusal::invalid_grant(
            "the ID token has expired; zt refreshes it automatically, or run `zt login`",
        ),
        IdpError::Token(t) => Refusal::invalid_grant(t.to_string()),
        IdpError::UntrustedIssuer(_) => Refusal::invalid_grant(e.to_string()),
    }
}

/// A workload token's refusal speaks of the workload token, not of an ID token and `zt login`.
fn map_workload_error(e: IdpError) -> Refusal {
    match e {
        IdpError::Token(IdTokenError::Expired) => Refusal::invalid_grant(
            "the workload token has expired; ask the CI system or the cluster for a fresh one",
        ),
        IdpError::Token(t) => Refusal::invalid_grant(format!(
            "the workload token was refused: {}",
            t.to_string().replace("the ID token", "the token")
        )),
        IdpError::UntrustedIssuer(_) => Refusal::invalid_grant(e.to_string()),
        e => map_idp_error(e),
    }
}

fn map_store_error(e: StoreError) -> Refusal {
    match e {
        StoreError::Replayed(OnceKind::DpopJti) => {
            Refusal::invalid_dpop(DpopError::Replayed.to_string())
        }
        StoreError::Replayed(OnceKind::IdToken) => Refusal::new(
            ErrorCode::IdTokenReused,
            "this identity token was already exchanged; each may be used once. Ask its issuer for a new one",
        ),
        StoreError::Replayed(OnceKind::DpopNonce) => Refusal::invalid_dpop(
            "this DPoP nonce was already used; each may be used once. Sign again with the fresh one in the DPoP-Nonce header",
        ),
        StoreError::Replayed(OnceKind::HostNonce) => {
            Refusal::invalid_grant("this host_nonce was already exchanged; each may be used once")
        }
        StoreError::SerialTaken => Refusal::internal("serial collision"),
        StoreError::IdentityRevoked => {
            Refusal::denied("your access was revoked by an administrator; ask them to restore it")
        }
        StoreError::DeviceRevoked => Refusal::new(
            ErrorCode::DeviceRevoked,
            "this device was revoked by an administrator; use another device, or ask them to restore it",
        ),
        StoreError::DeviceNotApproved => Refusal::new(
            ErrorCode::DeviceNotApproved,
            "this rule requires an approved device and this one is not approved yet; ask an administrator to run `zt-broker device approve` for it",
        ),
        StoreError::DeviceOfAnotherUser => {
            Refusal::denied("this device is registered to another user; log in on your own device")
        }
        StoreError::UnknownDevice => Refusal::internal("no such device"),
        StoreError::TokenUnusable => Refusal::invalid_token(
            "the enrolment token is unknown, already used or expired; create a new one with `zt-broker host token create`",
        ),
        StoreError::Unavailable(_) => {
            // Fail closed: without a durable audit record nothing leaves.
            tracing::error!(error = %e, "store write failed; refusing to issue");
            Refusal::unavailable(
                "the broker cannot record this request right now; nothing was issued. Try again shortly",
            )
        }
    }
}
