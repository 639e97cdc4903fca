//! Posture on a certificate request: the report must be the one the DPoP proof signs; where
//! the rule requires posture, the proof must also carry a fresh broker nonce (used once),
//! and the report must meet the requirements, or be within a check's grace period, which
//! shortens the certificate.

use std::time::Duration;

use super::refusal::Refusal;
use super::{Broker, Known, RequestMeta};
use crate::store::{OnceKind, OnceValue};
use zt_core::audit::PostureFacts;
use zt_core::dpop::VerifiedProof;
use zt_core::nonce::NonceError;
use zt_core::policy::Require;
use zt_core::posture::{self, Check, Failing, PostureReport};
use zt_core::proto::{self, CertificateRequest};

/// While a check is failing within its grace period, no certificate lives longer than this.
pub const GRACE_TTL: Duration = Duration::from_secs(5 * 60);

/// What the posture side of a request decided.
#[derive(Debug, Default)]
pub(super) struct Decision {
    /// For the response, when the rule requires posture.
    pub outcome: Option<proto::PostureOutcome>,
    /// The certificate's `posture@zt.dev` extension.
    pub extension: Option<String>,
    /// A cap on the certificate's lifetime (a check in grace).
    pub ttl_cap: Option<Duration>,
    /// The nonce, to be used up in the issuing write.
    pub once: Option<OnceValue>,
    /// The checks failing, for the device's grace bookkeeping (when posture was evaluated).
    pub failing_checks: Option<Vec<Check>>,
}

impl Broker {
    pub(super) async fn check_posture(
        &self,
        meta: &RequestMeta,
        req: &CertificateRequest,
        proof: &VerifiedProof,
        require: &Require,
        known: &mut Known,
    ) -> Result<Decision, Refusal> {
        let digest = req.posture.as_ref().map(posture::digest);
        if digest != proof.posture_digest {
            return Err(Refusal::invalid_dpop(
                "the DPoP proof does not sign this request's posture report (zt_posture must be its digest)",
            ));
        }
        if let Some(digest) = &digest {
            known.posture = Some(PostureFacts {
                digest: digest.clone(),
                ..PostureFacts::default()
            });
        }
        let Some(requirements) = &require.posture else {
            return Ok(Decision::default());
        };
        let once = self.check_nonce(meta, proof)?;
        let (Some(report), Some(digest)) = (&req.posture, digest) else {
            return Err(Refusal::posture_not_met(
                "this rule checks device posture and the request carries no posture report; upgrade zt",
                vec![],
            ));
        };
        let evaluation = posture::evaluate(report, requirements);
        let graced = self
            .in_grace(&proof.jkt, &evaluation.failing, requirements, meta.now)
            .await?;
        let (warnings, refused): (Vec<Failing>, Vec<Failing>) = evaluation
            .failing
            .iter()
            .cloned()
            .partition(|f| f.check.is_some_and(|c| graced.iter().any(|(g, _)| *g == c)));
        known.posture = Some(PostureFacts {
            digest: digest.clone(),
            passed: evaluation.passed.clone(),
            failing: evaluation
                .failing
                .iter()
                .map(|f| f.requirement.clone())
                .collect(),
        });
        if !refused.is_empty() {
            let names: Vec<&str> = refused.iter().map(|f| f.requirement.as_str()).collect();
            return Err(Refusal::posture_not_met(
                format!(
                    "this device does not meet the posture requirements of rule {:?}: {}",
                    known.rule.as_deref().unwrap_or_default(),
                    names.join(", ")
                ),
                refused,
            ));
        }
        let ttl_cap = graced
            .iter()
            .map(|(_, remaining)| *remaining)
            .min()
            .map(|remaining| remaining.min(GRACE_TTL));
        Ok(Decision {
            extension: Some(extension(&proof.jkt, &digest, &evaluation.passed)),
            outcome: Some(proto::PostureOutcome {
                digest,
                passed: evaluation.passed,
                warnings,
                requirements: requirements.clone(),
            }),
            ttl_cap,
            once: Some(once),
            failing_checks: Some(evaluation.failing.iter().filter_map(|f| f.check).collect()),
        })
    }

    /// The proof's nonce, checked: made by this broker (any replica) and fresh. A missing,
    /// expired or foreign nonce gets `use_dpop_nonce` with a fresh one, as RFC 9449 §8 says.
    fn check_nonce(&self, meta: &RequestMeta, proof: &VerifiedProof) -> Result<OnceValue, Refusal> {
        let Some(nonce) = &proof.nonce else {
            return Err(Refusal::use_nonce(
                "this rule checks device posture: sign the request with the broker's nonce from the DPoP-Nonce header",
                self.fresh_nonce(meta.now),
            ));
        };
        match self.nonces.check(nonce, meta.now) {
            Ok(expires_at) => Ok(OnceValue {
                kind: OnceKind::DpopNonce,
                value: nonce.clone(),
                expires_at,
            }),
            Err(e @ (NonceError::Expired | NonceError::Forged)) => Err(Refusal::use_nonce(
                e.to_string(),
                self.fresh_nonce(meta.now),
            )),
        }
    }

    /// The failing checks still in their grace period, with the time each has left. The
    /// device record says since when each check has been failing.
    async fn in_grace(
        &self,
        device: &str,
        failing: &[Failing],
        requirements: &posture::Requirements,
        now: u64,
    ) -> Result<Vec<(Check, Duration)>, Refusal> {
        let graceable: Vec<(Check, u64)> = failing
            .iter()
            .filter_map(|f| f.check)
            .filter_map(|c| requirements.grace_secs.get(&c).map(|g| (c, *g)))
            .collect();
        if graceable.is_empty() {
            return Ok(vec![]);
        }
        let since = self
            .store
            .device(device.to_owned())
            .await
            .map_err(super::map_store_error)?
            .map(|d| d.posture_failing_since)
            .unwrap_or_default();
        Ok(graceable
            .into_iter()
            .filter_map(|(check, grace)| {
                let first = since.get(&check).copied().unwrap_or(now);
                let ends = first.saturating_add(grace);
                (ends > now).then(|| (check, Duration::from_secs(ends - now)))
            })
            .collect())
    }
}

/// The value of the certificate's `posture@zt.dev` extension.
fn extension(device: &str, digest: &str, passed: &[String]) -> String {
    format!(
        "v=1 device={device} digest={digest} passed={}",
        passed.join(",")
    )
}

/// A report's host name and OS, for the device registry.
pub(super) fn device_facts(report: Option<&PostureReport>) -> (Option<String>, Option<String>) {
    let Some(report) = report else {
        return (None, None);
    };
    let printable = |text: &str| zt_core::text::printable(text, 100);
    let os = if report.os_name.is_empty() {
        format!("{} {}", report.os_id, report.os_version)
    } else {
        report.os_name.clone()
    };
    (
        Some(printable(&report.hostname)),
        Some(printable(os.trim())),
    )
}
