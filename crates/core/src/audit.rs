//! Audit records and their hash chain.
//!
//! Each record is serialised canonically (serde_json with fields in
//! declaration order, no whitespace) and chained: `hash = SHA-256(prev_hash
//! || canonical record)`. Pure; the store persists records and hashes.
//! Control characters in identity fields are escaped by JSON encoding, so a
//! newline in a name can never forge a second record in a line-oriented
//! export. Signed checkpoints ([`checkpoint`]) pin the chain at intervals,
//! and [`verify`] walks a stored chain and names the first thing wrong.

pub mod checkpoint;
pub mod filter;
pub mod verify;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    TokenExchange,
    CertificateIssued,
    HostCertificateIssued,
    /// A token exchange the broker refused (see the record's `outcome`).
    TokenExchangeRefused,
    /// A certificate request the broker refused.
    CertificateRefused,
    /// An admin revoked a certificate, key or user (see `revocation`).
    Revoked,
    /// An admin created a host enrolment token (see `enrolment`).
    EnrolmentTokenCreated,
    /// A host certificate request (enrolment or renewal) the broker refused.
    HostCertificateRefused,
    /// An admin approved the device named in `device`.
    DeviceApproved,
    /// An admin revoked the device named in `device`.
    DeviceRevoked,
    /// A token for another service (`zt token --audience`; see `audience`).
    ServiceTokenIssued,
}

/// How a decision ended: the HTTP status the client got and, for a
/// refusal, the OAuth-style error code and the reason given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Outcome {
    pub fn success() -> Self {
        Outcome {
            status: 200,
            error: None,
            reason: None,
        }
    }
}

/// A stored record with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    /// The canonical record text exactly as it was hashed.
    pub record: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub issuer: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateFacts {
    /// A decimal string since serials outgrew JSON numbers; older records hold a number.
    #[serde(with = "crate::proto::decimal")]
    pub serial: u64,
    pub key_id: String,
    pub principals: Vec<String>,
    pub valid_after: u64,
    pub valid_before: u64,
    pub key_fingerprint: String,
}

/// One decision of the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    pub time: u64,
    pub kind: EventKind,
    pub request_id: String,
    /// The identity as verified by the broker (an ID token or a broker
    /// access token whose signature checked out). Absent when the request
    /// was refused before any identity was verified: a claimed, unverified
    /// identity is never recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Subject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
    /// RFC 7638 thumbprint of the device (DPoP) key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateFacts>,
    /// Absent only in records written before outcomes were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// What an admin revoked (`revoked` records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<crate::revocation::Revocation>,
    /// The enrolment token created or used (never the token itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolment: Option<EnrolmentFacts>,
    /// The device's posture report as the broker held it against the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posture: Option<PostureFacts>,
    /// The service a token was asked for (`zt token --audience`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// For a workload (CI job, service account): the claims of its token that identify the
    /// run (repository, ref, run ID, …) and those the matching rule tested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<std::collections::BTreeMap<String, String>>,
}

/// A posture report as the audit log names it: its digest, and what it met and failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostureFacts {
    pub digest: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passed: Vec<String>,
    /// Requirements not met (for a refusal, the reason; for an issue, those in grace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<String>,
}

/// An enrolment token as the audit log names it: the first 16 hex digits of
/// its SHA-256 (enough to tell tokens apart, useless to enrol with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentFacts {
    pub token: String,
    pub principals: Vec<String>,
    pub expires_at: u64,
}

impl AuditRecord {
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).expect("audit records always serialise")
    }
}

/// The chain hash of `canonical` following `prev_hash` (both hex).
pub fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> AuditRecord {
        AuditRecord {
            time: 1,
            kind: EventKind::CertificateIssued,
            request_id: "r".into(),
            identity: Some(Subject {
                issuer: "i".into(),
                subject: name.into(),
                email: None,
            }),
            client_addr: None,
            device: None,
            rule: Some("sre".into()),
            certificate: None,
            outcome: Some(Outcome {
                status: 403,
                error: Some("access_denied".into()),
                reason: Some(format!("no rule for {name}")),
            }),
            revocation: None,
            enrolment: None,
            posture: None,
            audience: None,
            workload: None,
        }
    }

    #[test]
    fn control_characters_stay_escaped_in_one_line() {
        let text = record("eve\n{\"forged\":true}\u{1b}[2J").canonical();
        assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text}");
        let back: AuditRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back, record("eve\n{\"forged\":true}\u{1b}[2J"));
    }

    #[test]
    fn records_from_before_outcomes_still_parse() {
        let old = r#"{"time":1,"kind":"token_exchange","request_id":"r","identity":{"issuer":"i","subject":"s"},"device":"d"}"#;
        let record: AuditRecord = serde_json::from_str(old).unwrap();
        assert_eq!(record.outcome, None);
        assert_eq!(record.identity.as_ref().unwrap().subject, "s");
        // And an unverified request records no identity at all.
        let mut refused = record.clone();
        refused.identity = None;
        assert!(!refused.canonical().contains("identity"));
    }

    #[test]
    fn the_chain_depends_on_order_and_content() {
        let a = chain_hash(GENESIS, &record("a").canonical());
        let b = chain_hash(&a, &record("b").canonical());
        let b_first = chain_hash(GENESIS, &record("b").canonical());
        assert_ne!(chain_hash(&b_first, &record("a").canonical()), b);
        assert_ne!(chain_hash(&a, &record("c").canonical()), b);
        assert_eq!(a.len(), 64);
    }
}
