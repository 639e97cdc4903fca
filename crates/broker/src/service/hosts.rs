//! Host certificates and the KRL. A host enrols with a one-time enrolment
//! token (its principals come from the token, never from the request) and
//! renews with its current certificate; either way it proves it holds its
//! host key. The KRL is built from the store's revocations on each request.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use ssh_key::{Certificate, PublicKey};

use super::Refusal;
use super::{Broker, Known, RequestMeta, map_store_error};
use crate::store::{Change, Coming, OnceKind, OnceValue, StoreError, Write};
use zt_core::audit::{CertificateFacts, EnrolmentFacts, EventKind, Outcome};
use zt_core::ca::{self, HostCertSpec};
use zt_core::proto;
use zt_core::revocation::{RevocationList, build_krl};

/// Lifetime of a host certificate; `zt host renew` renews it when a third
/// of it is left.
pub const HOST_CERTIFICATE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A built KRL is rebuilt at least this often even when nothing was
/// revoked since, so certificates of revoked users drop out once expired.
const KRL_REBUILD_AFTER: Duration = Duration::from_secs(3600);

/// The last KRL built: its revocation version, when, and the document.
/// Nothing can be revoked without raising the version (certificates issued
/// to a revoked user after its revocation are refused), so a KRL built at
/// the current version is current.
#[derive(Default)]
pub(super) struct KrlCache(std::sync::Mutex<Option<(u64, std::time::Instant, Arc<KrlDocument>)>>);

/// The KRL as served, with its ETag (a hash of the bytes).
pub struct KrlDocument {
    pub bytes: Vec<u8>,
    pub etag: String,
}

/// The first 16 hex digits of an enrolment token's hash: how the audit log
/// names a token.
fn token_name(hash: &str) -> String {
    hash.chars().take(16).collect()
}

/// Hex SHA-256 of an enrolment token (what the store keeps).
pub fn enrolment_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How the request authenticated.
enum HostAuth {
    Enrolment { hash: String },
    Renewal(Box<Certificate>),
}

impl Broker {
    pub async fn krl(&self, now: u64) -> Result<Arc<KrlDocument>, Refusal> {
        let version = self
            .store
            .revocation_version()
            .await
            .map_err(|e| Refusal::unavailable(format!("cannot read revocations: {e}")))?;
        if let Some((cached, built, document)) =
            self.krl_cache.0.lock().expect("krl cache").as_ref()
        {
            if *cached == version && built.elapsed() < KRL_REBUILD_AFTER {
                return Ok(document.clone());
            }
        }
        let document = Arc::new(self.build_krl(now).await?);
        *self.krl_cache.0.lock().expect("krl cache") =
            Some((version, std::time::Instant::now(), document.clone()));
        Ok(document)
    }

    async fn build_krl(&self, now: u64) -> Result<KrlDocument, Refusal> {
        let list = self.revocation_list(now).await?;
        let blob = self
            .keys
            .user_ca_public()
            .to_bytes()
            .map_err(|e| Refusal::internal(format!("cannot encode the user CA: {e}")))?;
        let bytes = build_krl(&blob, &list).encode();
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&bytes))[..32]);
        Ok(KrlDocument { bytes, etag })
    }

    async fn revocation_list(&self, now: u64) -> Result<RevocationList, Refusal> {
        self.store.revocations(now).await.map_err(|e| {
            tracing::error!(error = %e, "cannot read revocations");
            Refusal::unavailable("the broker cannot read its revocations right now")
        })
    }

    /// A host certificate for a host that enrols or renews. Audited either way.
    pub async fn issue_host_certificate(
        &self,
        meta: &RequestMeta,
        req: &proto::HostCertificateRequest,
    ) -> Result<proto::HostCertificateResponse, Refusal> {
        let mut enrolment = None;
        let result = self.try_issue_host(meta, req, &mut enrolment).await;
        if let Err(error) = &result {
            let outcome = error.outcome();
            let mut record = self.record(
                meta,
                EventKind::HostCertificateRefused,
                &Known::default(),
                None,
                outcome,
            );
            record.enrolment = enrolment;
            if let Err(e) = self.store.commit(Write::record(record)).await {
                tracing::warn!(request_id = %meta.request_id, error = %e, "could not record a refusal in the audit log");
            }
        }
        result
    }

    fn host_auth(
        &self,
        meta: &RequestMeta,
        req: &proto::HostCertificateRequest,
    ) -> Result<HostAuth, Refusal> {
        let token = match meta.authorization.as_deref() {
            None => None,
            Some(header) => match header.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") => {
                    Some(token.trim())
                }
                _ => {
                    return Err(Refusal::invalid_token(
                        "send the enrolment token as Authorization: Bearer <token>",
                    ));
                }
            },
        };
        match (token, &req.certificate) {
            (Some(token), None) => Ok(HostAuth::Enrolment {
                hash: enrolment_token_hash(token),
            }),
            (None, Some(text)) => Certificate::from_openssh(text.trim())
                .map(|c| HostAuth::Renewal(Box::new(c)))
                .map_err(|_| Refusal::bad_request("certificate is not an OpenSSH certificate")),
            (Some(_), Some(_)) => Err(Refusal::bad_request(
                "send either an enrolment token or the current certificate, not both",
            )),
            (None, None) => Err(Refusal::invalid_token(
                "a host certificate needs an enrolment token (run `zt host enroll`) or the current host certificate (`zt host renew`)",
            )),
        }
    }

    async fn try_issue_host(
        &self,
        meta: &RequestMeta,
        req: &proto::HostCertificateRequest,
        enrolment: &mut Option<EnrolmentFacts>,
    ) -> Result<proto::HostCertificateResponse, Refusal> {
        let auth = self.host_auth(meta, req)?;
        if req.nonce.len() < 16
            || req.nonce.len() > 128
            || !req.nonce.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(Refusal::bad_request(
                "nonce must be 16 to 128 printable characters",
            ));
        }
        if req.issued_at.abs_diff(meta.now) > zt_core::dpop::IAT_WINDOW_SECS {
            return Err(Refusal::bad_request(
                "issued_at is more than 60 s from the broker's clock; check the host's time",
            ));
        }
        let public_text = req.public_key.trim();
        let host_key = PublicKey::from_openssh(public_text)
            .map_err(|_| Refusal::invalid_key("public_key is not an OpenSSH public key line"))?;
        let mut ca_keys = self.keys.host_ca_publics();
        ca_keys.push(self.keys.user_ca_public());
        ca::check_subject_key(&host_key, &ca_keys)
            .map_err(|e| Refusal::invalid_key(e.to_string()))?;
        let context =
            ca::host_possession_context(&self.host_certificate_url, &req.nonce, req.issued_at);
        let message = ca::possession_message(&context, public_text);
        ca::verify_possession(&host_key, &message, &req.possession_proof).map_err(|_| {
            Refusal::invalid_key("possession_proof does not verify: sign with the host key")
        })?;
        let fingerprint = ca::fingerprint(&host_key);
        let revoked = self.revocation_list(meta.now).await?;

        let (principals, changes, rule) = match auth {
            HostAuth::Enrolment { hash } => {
                let token = self
                    .store
                    .enrolment_token(hash.clone())
                    .await
                    .map_err(map_store_error)?
                    .filter(|t| !t.used && t.expires_at > meta.now)
                    .ok_or_else(|| map_store_error(StoreError::TokenUnusable))?;
                *enrolment = Some(EnrolmentFacts {
                    token: token_name(&hash),
                    principals: token.principals.clone(),
                    expires_at: token.expires_at,
                });
                let principals = match &req.principals {
                    None => token.principals.clone(),
                    Some(asked) => {
                        if asked.is_empty() || asked.iter().any(|p| !token.principals.contains(p)) {
                            return Err(Refusal::denied(format!(
                                "the enrolment token allows only the principals {}",
                                token.principals.join(",")
                            )));
                        }
                        asked.clone()
                    }
                };
                let change = Change::UseEnrolmentToken {
                    hash,
                    now: meta.now,
                };
                (principals, vec![change], "enrolment")
            }
            HostAuth::Renewal(current) => {
                if req.principals.is_some() {
                    return Err(Refusal::bad_request(
                        "a renewal keeps the current principals; enrol again to change them",
                    ));
                }
                let trusted: Vec<_> = self
                    .keys
                    .host_ca_publics()
                    .iter()
                    .map(|k| k.fingerprint(ssh_key::HashAlg::Sha256))
                    .collect();
                let valid = current.cert_type().is_host()
                    && current.public_key() == host_key.key_data()
                    && current.validate_at(meta.now, &trusted).is_ok();
                if !valid {
                    return Err(Refusal::invalid_token(
                        "the certificate is not a current host certificate from this broker for this key; enrol again",
                    ));
                }
                if revoked.revokes(current.serial(), current.key_id(), &fingerprint) {
                    return Err(Refusal::denied(
                        "this host certificate was revoked; enrol again with a new token",
                    ));
                }
                (current.valid_principals().to_vec(), vec![], "renewal")
            }
        };
        if revoked.revokes(0, "", &fingerprint) {
            return Err(Refusal::denied(
                "this host key was revoked; generate a new host key and enrol it",
            ));
        }
        let grant = HostGrant {
            principals,
            changes,
            rule,
            enrolment: enrolment.clone(),
            nonce: req.nonce.clone(),
        };
        self.sign_host(meta, &host_key, grant).await
    }

    async fn sign_host(
        &self,
        meta: &RequestMeta,
        host_key: &PublicKey,
        grant: HostGrant,
    ) -> Result<proto::HostCertificateResponse, Refusal> {
        let HostGrant {
            principals,
            changes,
            rule,
            enrolment,
            nonce,
        } = grant;
        let (valid_after, valid_before) = ca::validity(meta.now, HOST_CERTIFICATE_TTL);
        let key_id = format!("zt-host:{}:req={}", principals.join(","), meta.request_id);
        let known = Known {
            rule: Some(rule.to_owned()),
            ..Known::default()
        };
        let (serial, certificate) = self
            .issue_with_fresh_serial(Coming::none(), |serial| {
                let spec = HostCertSpec {
                    serial,
                    key_id: key_id.clone(),
                    principals: principals.clone(),
                    valid_after,
                    valid_before,
                };
                let certificate = ca::sign_host_certificate(
                    &self.keys.host_ca,
                    host_key,
                    &spec,
                    &mut rand_core::OsRng,
                )
                .map_err(|e| Refusal::bad_request(format!("cannot certify this host: {e}")))?;
                let facts = CertificateFacts {
                    serial,
                    key_id: spec.key_id.clone(),
                    principals: spec.principals.clone(),
                    valid_after,
                    valid_before,
                    key_fingerprint: ca::fingerprint(host_key),
                };
                let mut audit = self.record(
                    meta,
                    EventKind::HostCertificateIssued,
                    &known,
                    Some(facts),
                    Outcome::success(),
                );
                audit.enrolment = enrolment.clone();
                let write = Write {
                    once: vec![OnceValue {
                        kind: OnceKind::HostNonce,
                        value: nonce.clone(),
                        expires_at: meta.now + 2 * zt_core::dpop::IAT_WINDOW_SECS,
                    }],
                    serial: Some(serial),
                    audit,
                    unless_revoked: None,
                    changes: changes.clone(),
                    device: None,
                };
                Ok((certificate, write))
            })
            .await?;
        Ok(proto::HostCertificateResponse {
            certificate,
            serial,
            principals,
            valid_before,
            user_ca_keys: vec![crate::keys::openssh_public(&self.keys.user_ca_public())],
        })
    }
}

/// What a host is about to be certified for.
struct HostGrant {
    principals: Vec<String>,
    changes: Vec<Change>,
    rule: &'static str,
    enrolment: Option<EnrolmentFacts>,
    nonce: String,
}
