//! The service on its own: an in-memory store, a fixed clock, ID tokens from a fixed table
//! instead of an IdP, and real DPoP proofs, access tokens and possession proofs. What the
//! HTTP layer adds (extraction, statuses, limits) is tested against the real binary in
//! `tests/attacks`.

use std::collections::HashMap;
use std::sync::Arc;

use ssh_key::{Algorithm, PrivateKey};
use zt_core::audit::{AuditRecord, EventKind};
use zt_core::device::DeviceStatus;
use zt_core::id_token::{IdTokenError, VerifiedIdToken};
use zt_core::jose::SigningKey;
use zt_core::policy::{Identity, Policy};
use zt_core::proto::{self, CertificateResponse, ErrorCode, TokenExchangeRequest};
use zt_core::requests::{certificate_request, exchange_form};
use zt_core::revocation::Revocation;

use super::{Broker, Refusal, RequestMeta};
use crate::config::BrokerConfig;
use crate::idp::{IdTokenVerifier, IdpError, VerifyFuture, WorkloadFuture};
use zt_core::workload_token::VerifiedWorkloadToken;

mod workload;
use crate::keys::BrokerKeys;
use crate::store::memory::MemoryStore;
use crate::store::{Change, Store, Write};

const NOW: u64 = 1_800_000_000;
const BROKER: &str = "https://broker.test";
const ISSUER: &str = "https://idp.test";

const CONFIG: &str = r#"
policy = "policy.toml"
[server]
listen = "127.0.0.1:0"
public_url = "https://broker.test"
[identity_provider]
issuer = "https://idp.test"
client_id = "zt"
[keys]
user_ca = "user_ca"
host_ca = "host_ca"
token_signing = "token.pem"
[store]
sqlite = "unused.db"
"#;

const POLICY: &str = r#"
[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops", "root"]
extensions = ["permit-pty"]
ttl = "30m"

[[rules]]
name = "secure"
match.groups = ["secure"]
principals = ["vault"]
require.device = "approved"

[[rules]]
name = "laptops"
match.groups = ["laptops"]
principals = ["dev"]
ttl = "1h"
require.posture.disk_encryption = true
require.posture.firewall = true
require.posture.grace.firewall = "2m"

[[rules]]
name = "deploy"
match.issuers = ["https://ci.test"]
match.claims.repository = "acme/app"
match.claims.ref = "refs/heads/main"
principals = ["deploy"]
force_command = "/usr/local/bin/deploy"
audiences = ["kubernetes"]

[[rules]]
name = "api-readers"
match.groups = ["api"]
principals = ["reader"]
audiences = ["https://api.internal", "kubernetes"]
"#;

/// ID tokens by their text: what the broker's IdP verifier would say about each; and
/// workload tokens the same way.
struct FixedIdp(
    HashMap<&'static str, Answer>,
    HashMap<&'static str, VerifiedWorkloadToken>,
);

type Answer = Result<VerifiedIdToken, fn() -> IdpError>;

impl IdTokenVerifier for FixedIdp {
    fn verify<'a>(&'a self, token: &'a str, _now: u64) -> VerifyFuture<'a> {
        let answer = match self.0.get(token) {
            Some(Ok(verified)) => Ok(verified.clone()),
            Some(Err(error)) => Err(error()),
            None => Err(IdpError::Token(IdTokenError::Malformed)),
        };
        Box::pin(async move { answer })
    }

    fn verify_workload<'a>(&'a self, token: &'a str, _now: u64) -> WorkloadFuture<'a> {
        let answer = self
            .1
            .get(token)
            .cloned()
            .ok_or(IdpError::UntrustedIssuer("https://unknown.test".into()));
        Box::pin(async move { answer })
    }
}

fn identity(subject: &str, groups: &[&str]) -> Identity {
    Identity::person(
        ISSUER,
        subject,
        Some(format!("{subject}@example.com")),
        groups.iter().map(|g| g.to_string()).collect(),
    )
}

fn verified(subject: &str, groups: &[&str], token_id: &str) -> VerifiedIdToken {
    VerifiedIdToken {
        identity: identity(subject, groups),
        expires_at: NOW + 300,
        token_id: token_id.into(),
    }
}

struct Fixture {
    broker: Broker,
    store: Arc<MemoryStore>,
    /// Each user's own device key (a device belongs to the identity that registered it).
    devices: HashMap<&'static str, SigningKey>,
    requests: std::cell::Cell<u32>,
}

fn fixture() -> Fixture {
    let config: BrokerConfig = toml::from_str(CONFIG).unwrap();
    let ca = || PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).unwrap();
    let keys = BrokerKeys {
        user_ca: ca().into(),
        host_ca: ca().into(),
        token: SigningKey::generate().unwrap(),
        previous_token: None,
        additional_host_cas: vec![],
    };
    let idp = FixedIdp(
        HashMap::from([
            ("erin-1", Ok(verified("erin", &["api"], "id-erin-1"))),
            ("alice-1", Ok(verified("alice", &["sre"], "id-alice-1"))),
            ("alice-2", Ok(verified("alice", &["sre"], "id-alice-2"))),
            ("bob-1", Ok(verified("bob", &["dev"], "id-bob-1"))),
            ("carol-1", Ok(verified("carol", &["secure"], "id-carol-1"))),
            ("carol-2", Ok(verified("carol", &["secure"], "id-carol-2"))),
            ("dave-1", Ok(verified("dave", &["laptops"], "id-dave-1"))),
            (
                "expired",
                Err((|| IdpError::Token(IdTokenError::Expired)) as fn() -> IdpError),
            ),
            (
                "idp-down",
                Err(|| IdpError::Unreachable(ISSUER.into(), "connection refused".into())),
            ),
        ]),
        workload::jobs(),
    );
    let store = Arc::new(MemoryStore::new());
    let broker = Broker::new(
        config,
        keys,
        Policy::from_toml(POLICY).unwrap(),
        Arc::new(idp),
        store.clone(),
    );
    Fixture {
        broker,
        store,
        devices: ["alice", "bob", "carol", "dave", "erin", "job", "nobody"]
            .into_iter()
            .map(|who| (who, SigningKey::generate().unwrap()))
            .collect(),
        requests: std::cell::Cell::new(0),
    }
}

fn ssh_key() -> PrivateKey {
    PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).unwrap()
}

impl Fixture {
    fn meta(&self, dpop: Option<String>, authorization: Option<String>) -> RequestMeta {
        self.requests.set(self.requests.get() + 1);
        RequestMeta {
            request_id: format!("req-{}", self.requests.get()),
            client_addr: Some("192.0.2.7:5000".parse().unwrap()),
            dpop,
            authorization,
            now: NOW,
        }
    }

    fn token_proof(&self, key: &SigningKey) -> String {
        let url = format!("{BROKER}{}", proto::TOKEN_PATH);
        zt_core::dpop::create_proof(key, "POST", &url, NOW, None)
            .unwrap()
            .0
    }

    async fn exchange_with(
        &self,
        form: &TokenExchangeRequest,
        dpop: Option<String>,
    ) -> Result<proto::TokenExchangeResponse, Refusal> {
        self.broker.exchange(&self.meta(dpop, None), form).await
    }

    /// The device of the user an ID token of the table belongs to (`alice-1` → alice's).
    fn device_of(&self, who: &str) -> &SigningKey {
        let user = who.split('-').next().unwrap_or(who);
        self.devices
            .get(user)
            .unwrap_or_else(|| &self.devices["nobody"])
    }

    async fn exchange(&self, id_token: &str) -> Result<String, Refusal> {
        let proof = self.token_proof(self.device_of(id_token));
        self.exchange_with(&exchange_form(id_token), Some(proof))
            .await
            .map(|r| r.access_token)
    }

    /// A certificate request as `zt` makes it, with `device` signing the DPoP proof.
    async fn certificate_as(
        &self,
        device: &SigningKey,
        access_token: Option<&str>,
        key: &PrivateKey,
    ) -> Result<CertificateResponse, Refusal> {
        let url = format!("{BROKER}{}", proto::CERTIFICATE_PATH);
        let (proof, jti) =
            zt_core::dpop::create_proof(device, "POST", &url, NOW, access_token).unwrap();
        let body = certificate_request(key, &jti, None).unwrap();
        let meta = self.meta(Some(proof), access_token.map(|t| format!("DPoP {t}")));
        self.broker.issue_certificate(&meta, &body).await
    }

    /// A certificate request with `user`'s access token, from `user`'s device.
    async fn certificate(
        &self,
        user: &str,
        access_token: &str,
    ) -> Result<CertificateResponse, Refusal> {
        self.certificate_as(self.device_of(user), Some(access_token), &ssh_key())
            .await
    }

    fn records(&self) -> Vec<AuditRecord> {
        self.store.records()
    }

    async fn revoke(&self, subject: &str) {
        let revocation = Revocation::User {
            issuer: ISSUER.into(),
            subject: subject.into(),
        };
        let mut record = self.records().last().cloned().expect("a record to copy");
        record.kind = EventKind::Revoked;
        record.revocation = Some(revocation.clone());
        let mut write = Write::record(record);
        write.changes.push(Change::Revoke(revocation));
        self.store.commit(write).await.unwrap();
    }
}

fn code(result: Result<impl std::fmt::Debug, Refusal>) -> ErrorCode {
    result.expect_err("the request must be refused").code
}

#[tokio::test]
async fn a_certificate_carries_exactly_what_the_rule_grants_and_is_audited_first() {
    let f = fixture();
    let token = f.exchange("alice-1").await.unwrap();
    let cert = f.certificate("alice", &token).await.unwrap();
    assert_eq!(cert.principals, ["ops", "root"]);
    assert_eq!(cert.rule, "sre");
    assert_eq!(cert.valid_before, NOW + 30 * 60);
    let records = f.records();
    let kinds: Vec<_> = records.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::TokenExchange, EventKind::CertificateIssued]
    );
    let issued = &records[1];
    let facts = issued.certificate.as_ref().unwrap();
    assert_eq!(facts.serial, cert.serial);
    assert_eq!(issued.rule.as_deref(), Some("sre"));
    assert_eq!(issued.identity.as_ref().unwrap().subject, "alice");
    assert_eq!(
        issued.device.as_deref(),
        Some(f.device_of("alice").thumbprint().as_str())
    );
}

#[tokio::test]
async fn exchange_checks_grant_type_then_dpop_then_the_id_token() {
    let f = fixture();
    let mut wrong_grant = exchange_form("alice-1");
    wrong_grant.grant_type = "password".into();
    // Everything else wrong as well: no proof, and a token the IdP does not know.
    let mut everything_wrong = wrong_grant.clone();
    everything_wrong.subject_token = "forged".into();
    assert_eq!(
        code(f.exchange_with(&everything_wrong, None).await),
        ErrorCode::UnsupportedGrantType
    );
    assert_eq!(
        code(f.exchange_with(&exchange_form("forged"), None).await),
        ErrorCode::InvalidDpopProof
    );
    let proof = f.token_proof(f.device_of("nobody"));
    assert_eq!(
        code(f.exchange_with(&exchange_form("forged"), Some(proof)).await),
        ErrorCode::InvalidGrant
    );
    assert_eq!(code(f.exchange("expired").await), ErrorCode::InvalidGrant);
    assert_eq!(
        code(f.exchange("idp-down").await),
        ErrorCode::TemporarilyUnavailable
    );
}

#[tokio::test]
async fn certificate_checks_the_token_then_dpop_then_the_key_then_policy_then_the_store() {
    let f = fixture();
    let alice = f.exchange("alice-1").await.unwrap();
    let bob = f.exchange("bob-1").await.unwrap();
    let stranger = SigningKey::generate().unwrap();

    // No access token: refused for the token, whatever else is wrong.
    let no_token = f.certificate_as(&stranger, None, &ssh_key()).await;
    assert_eq!(code(no_token), ErrorCode::InvalidToken);
    // A forged token.
    let forged = f
        .certificate_as(f.device_of("alice"), Some("e30.e30.sig"), &ssh_key())
        .await;
    assert_eq!(code(forged), ErrorCode::InvalidToken);
    // A good token with another device's proof: DPoP, before policy (bob has no rule).
    let stolen = f.certificate_as(&stranger, Some(&bob), &ssh_key()).await;
    assert_eq!(code(stolen), ErrorCode::InvalidDpopProof);
    // A good token and proof, but the key to certify is the CA's own: the key, before policy.
    let ca_key = f.broker.keys.user_ca.private().clone();
    let as_ca = f
        .certificate_as(f.device_of("bob"), Some(&bob), &ca_key)
        .await;
    assert_eq!(code(as_ca), ErrorCode::InvalidKey);
    // Everything proven, and policy says no.
    let denied = f.certificate("bob", &bob).await.unwrap_err();
    assert_eq!(denied.code, ErrorCode::AccessDenied);
    assert!(
        denied.description.contains("no policy rule matches"),
        "{denied}"
    );
    // Policy says yes, and the store refuses: the identity was revoked after its exchange.
    f.revoke("alice").await;
    let revoked = f.certificate("alice", &alice).await.unwrap_err();
    assert_eq!(revoked.code, ErrorCode::AccessDenied);
    assert!(revoked.description.contains("revoked"), "{revoked}");
    assert!(
        f.records()
            .iter()
            .all(|r| r.kind != EventKind::CertificateIssued)
    );
}

#[tokio::test]
async fn a_token_served_from_the_cache_is_still_refused_once_its_user_is_revoked() {
    let f = fixture();
    let alice = f.exchange("alice-1").await.unwrap();
    // Two certificates: the second is served with the token verified for the first.
    f.certificate("alice", &alice).await.unwrap();
    f.certificate("alice", &alice).await.unwrap();
    // The same token with one byte of its signature changed is verified, not looked up.
    let mut tampered = alice.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let refused = f
        .certificate_as(f.device_of("alice"), Some(&tampered), &ssh_key())
        .await;
    assert_eq!(code(refused), ErrorCode::InvalidToken);
    // A revocation applies to the very next request, cached token or not.
    f.revoke("alice").await;
    let revoked = f.certificate("alice", &alice).await.unwrap_err();
    assert_eq!(revoked.code, ErrorCode::AccessDenied);
    assert!(revoked.description.contains("revoked"), "{revoked}");
}

#[tokio::test]
async fn refusals_are_audited_with_only_the_identity_that_was_verified() {
    let f = fixture();
    let bob = f.exchange("bob-1").await.unwrap();
    let stranger = SigningKey::generate().unwrap();
    f.certificate_as(&stranger, None, &ssh_key())
        .await
        .unwrap_err();
    f.certificate_as(&stranger, Some(&bob), &ssh_key())
        .await
        .unwrap_err();
    f.certificate("bob", &bob).await.unwrap_err();
    f.exchange("forged").await.unwrap_err();

    let records = f.records();
    let refused: Vec<&AuditRecord> = records[1..].iter().collect();
    let kinds: Vec<_> = refused.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::CertificateRefused,
            EventKind::CertificateRefused,
            EventKind::CertificateRefused,
            EventKind::TokenExchangeRefused,
        ]
    );
    let who = |r: &AuditRecord| r.identity.as_ref().map(|i| i.subject.clone());
    // No token: nobody was verified.
    assert_eq!(who(refused[0]), None);
    assert_eq!(refused[0].device, None);
    // bob's token verified (the broker's own signature), the stranger's proof did not:
    // bob is named, no device is.
    assert_eq!(who(refused[1]).as_deref(), Some("bob"));
    assert_eq!(refused[1].device, None);
    // Denied by policy: bob and his device, no rule.
    assert_eq!(who(refused[2]).as_deref(), Some("bob"));
    assert_eq!(
        refused[2].device.as_deref(),
        Some(f.device_of("bob").thumbprint().as_str())
    );
    assert_eq!(refused[2].rule, None);
    // An ID token that does not verify names nobody, but the proof's device.
    assert_eq!(who(refused[3]), None);
    assert_eq!(
        refused[3].device.as_deref(),
        Some(f.device_of("forged").thumbprint().as_str())
    );
    for (record, status, error) in [
        (refused[0], 401, "invalid_token"),
        (refused[1], 401, "invalid_dpop_proof"),
        (refused[2], 403, "access_denied"),
        (refused[3], 400, "invalid_grant"),
    ] {
        let outcome = record.outcome.as_ref().unwrap();
        assert_eq!(
            (outcome.status, outcome.error.as_deref()),
            (status, Some(error))
        );
    }
}

#[tokio::test]
async fn an_id_token_and_a_proof_are_each_used_once_across_requests() {
    let f = fixture();
    f.exchange("alice-1").await.unwrap();
    assert_eq!(code(f.exchange("alice-1").await), ErrorCode::IdTokenReused);
    // The same proof replayed on a second request.
    let proof = f.token_proof(f.device_of("alice"));
    let form = exchange_form("alice-2");
    f.exchange_with(&form, Some(proof.clone())).await.unwrap();
    assert_eq!(
        code(f.exchange_with(&exchange_form("bob-1"), Some(proof)).await),
        ErrorCode::InvalidDpopProof
    );
    let replays = f
        .records()
        .iter()
        .filter(|r| r.kind == EventKind::TokenExchangeRefused)
        .count();
    assert_eq!(replays, 2);
}

#[tokio::test]
async fn a_serial_collision_is_retried_with_a_new_serial_and_three_give_up() {
    let f = fixture();
    let token = f.exchange("alice-1").await.unwrap();
    f.store.collide_serials(2);
    let cert = f.certificate("alice", &token).await.unwrap();
    let issued: Vec<u64> = f
        .records()
        .iter()
        .filter_map(|r| r.certificate.as_ref().map(|c| c.serial))
        .collect();
    assert_eq!(
        issued,
        [cert.serial],
        "one record, for the serial that was returned"
    );
    let parsed = ssh_key::Certificate::from_openssh(&cert.certificate).unwrap();
    assert_eq!(parsed.serial(), cert.serial);

    f.store.collide_serials(3);
    let refusal = f.certificate("alice", &token).await.unwrap_err();
    assert_eq!(refusal.code, ErrorCode::ServerError);
    assert_eq!(
        f.records()
            .iter()
            .filter(|r| r.kind == EventKind::CertificateIssued)
            .count(),
        1
    );
}

#[tokio::test]
async fn nothing_is_issued_when_the_log_cannot_be_written() {
    let f = fixture();
    let token = f.exchange("alice-1").await.unwrap();
    f.store.set_unwritable(true);
    assert_eq!(
        code(f.certificate("alice", &token).await),
        ErrorCode::TemporarilyUnavailable
    );
    assert_eq!(
        code(f.exchange("alice-2").await),
        ErrorCode::TemporarilyUnavailable
    );
    f.store.set_unwritable(false);
    f.certificate("alice", &token).await.unwrap();
}

impl Fixture {
    /// An admin's approval or revocation, as `zt-broker device` writes it.
    async fn set_device(&self, user: &str, status: DeviceStatus) {
        let mut record = self.records().last().cloned().expect("a record to copy");
        record.kind = EventKind::DeviceRevoked;
        let mut write = Write::record(record);
        write.changes.push(Change::SetDeviceStatus {
            id: self.device_of(user).thumbprint(),
            status,
        });
        self.store.commit(write).await.unwrap();
    }
}

#[tokio::test]
async fn a_device_registers_at_first_use_and_a_revoked_one_gets_nothing() {
    let f = fixture();
    let token = f.exchange("alice-1").await.unwrap();
    let devices = f.store.devices().await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, f.device_of("alice").thumbprint());
    assert_eq!(
        (devices[0].subject.as_str(), devices[0].status),
        ("alice", DeviceStatus::Registered)
    );
    f.certificate("alice", &token).await.unwrap();

    f.set_device("alice", DeviceStatus::Revoked).await;
    assert_eq!(
        code(f.certificate("alice", &token).await),
        ErrorCode::DeviceRevoked
    );
    assert_eq!(code(f.exchange("alice-2").await), ErrorCode::DeviceRevoked);
    let refused = f
        .records()
        .into_iter()
        .filter(|r| r.outcome.as_ref().and_then(|o| o.error.as_deref()) == Some("device_revoked"));
    assert_eq!(refused.count(), 2, "both refusals are on the record");
}

#[tokio::test]
async fn a_rule_that_requires_an_approved_device_waits_for_an_admin() {
    let f = fixture();
    let token = f.exchange("carol-1").await.unwrap();
    let refusal = f.certificate("carol", &token).await.unwrap_err();
    assert_eq!(refusal.code, ErrorCode::DeviceNotApproved);
    assert!(
        refusal
            .description
            .contains(&f.device_of("carol").thumbprint()),
        "the refusal names the device to approve: {refusal}"
    );
    f.set_device("carol", DeviceStatus::Approved).await;
    let cert = f.certificate("carol", &token).await.unwrap();
    assert_eq!(cert.rule, "secure");
}

#[tokio::test]
async fn a_device_belongs_to_the_identity_that_registered_it() {
    let f = fixture();
    f.exchange("alice-1").await.unwrap();
    // bob, with alice's device key.
    let proof = f.token_proof(f.device_of("alice"));
    let refusal = f
        .exchange_with(&exchange_form("bob-1"), Some(proof))
        .await
        .unwrap_err();
    assert_eq!(refusal.code, ErrorCode::AccessDenied);
    assert!(refusal.description.contains("another user"), "{refusal}");
}

mod posture {
    //! Posture on certificate requests: the nonce, the binding of the report to the proof,
    //! evaluation, grace, and the certificate's extension.

    use super::*;
    use zt_core::dpop::Binding;
    use zt_core::posture::{Check, CheckResult, PostureReport, Status};

    fn report(disk: Status, firewall: Status) -> PostureReport {
        let result = |check, status| CheckResult {
            check,
            status,
            evidence: format!("{} is {status:?}", Check::as_str(check)),
            fix: (status != Status::Pass).then(|| "fix it".to_owned()),
        };
        PostureReport {
            os: "linux".into(),
            os_id: "debian".into(),
            os_version: "12".into(),
            os_name: "Debian GNU/Linux 12 (bookworm)".into(),
            kernel: "6.1.0".into(),
            hostname: "dave-laptop".into(),
            zt_version: "0.1.0".into(),
            checks: vec![
                result(Check::DiskEncryption, disk),
                result(Check::Firewall, firewall),
            ],
            processes: vec![],
        }
    }

    struct Request<'a> {
        report: Option<&'a PostureReport>,
        /// The report whose digest the proof signs (normally `report`).
        signed: Option<&'a PostureReport>,
        nonce: Option<&'a str>,
        now: u64,
    }

    impl<'a> Request<'a> {
        fn of(report: &'a PostureReport, nonce: Option<&'a str>, now: u64) -> Self {
            Request {
                report: Some(report),
                signed: Some(report),
                nonce,
                now,
            }
        }
    }

    impl Fixture {
        async fn with_posture(
            &self,
            user: &str,
            token: &str,
            r: Request<'_>,
        ) -> Result<CertificateResponse, Refusal> {
            let url = format!("{BROKER}{}", proto::CERTIFICATE_PATH);
            let digest = r.signed.map(zt_core::posture::digest);
            let binding = Binding {
                nonce: r.nonce,
                posture_digest: digest.as_deref(),
            };
            let (proof, jti) = zt_core::dpop::create_bound_proof(
                self.device_of(user),
                "POST",
                &url,
                r.now,
                Some(token),
                binding,
            )
            .unwrap();
            let body = certificate_request(&ssh_key(), &jti, r.report.cloned()).unwrap();
            let mut meta = self.meta(Some(proof), Some(format!("DPoP {token}")));
            meta.now = r.now;
            self.broker.issue_certificate(&meta, &body).await
        }
    }

    #[tokio::test]
    async fn a_compliant_device_gets_a_short_certificate_that_names_its_posture() {
        let f = fixture();
        let token = f.exchange("dave-1").await.unwrap();
        let good = report(Status::Pass, Status::Pass);

        // Without a nonce: 401 use_dpop_nonce, and a nonce to use.
        let refusal = f
            .with_posture("dave", &token, Request::of(&good, None, NOW))
            .await
            .unwrap_err();
        assert_eq!(refusal.code, ErrorCode::UseDpopNonce);
        let nonce = refusal.nonce.expect("a fresh nonce");

        let issued = f
            .with_posture("dave", &token, Request::of(&good, Some(&nonce), NOW))
            .await
            .unwrap();
        // The rule grants 1 h; posture caps it at the default 15 min.
        assert_eq!(issued.valid_before - NOW, 15 * 60);
        let outcome = issued.posture.as_ref().expect("a posture outcome");
        assert_eq!(outcome.passed, ["disk_encryption", "firewall"]);
        assert!(outcome.warnings.is_empty());
        let digest = zt_core::posture::digest(&good);
        assert_eq!(outcome.digest, digest);
        let cert = ssh_key::Certificate::from_openssh(&issued.certificate).unwrap();
        let extension = &cert.extensions()[proto::POSTURE_EXTENSION];
        let device = f.devices["dave"].thumbprint();
        assert_eq!(
            extension,
            &format!("v=1 device={device} digest={digest} passed=disk_encryption,firewall")
        );
        let record = f.records().pop().unwrap();
        assert_eq!(record.kind, EventKind::CertificateIssued);
        assert_eq!(record.posture.unwrap().digest, digest);
        let devices = f.store.devices().await.unwrap();
        let dave = devices.iter().find(|d| d.id == device).unwrap();
        assert_eq!(dave.hostname, "dave-laptop");

        // The same nonce again, in a new proof: used up.
        let replay = f
            .with_posture("dave", &token, Request::of(&good, Some(&nonce), NOW))
            .await;
        assert_eq!(code(replay), ErrorCode::InvalidDpopProof);
    }

    #[tokio::test]
    async fn a_failing_device_is_refused_check_by_check_and_the_record_says_why() {
        let f = fixture();
        let token = f.exchange("dave-1").await.unwrap();
        let bad = report(Status::Fail, Status::Pass);
        let nonce = f.broker.fresh_nonce(NOW);
        let refusal = f
            .with_posture("dave", &token, Request::of(&bad, Some(&nonce), NOW))
            .await
            .unwrap_err();
        assert_eq!(refusal.code, ErrorCode::PostureNotMet);
        assert_eq!(refusal.failing.len(), 1);
        assert_eq!(refusal.failing[0].requirement, "disk_encryption");
        assert_eq!(refusal.failing[0].evidence, "disk_encryption is Fail");
        assert_eq!(refusal.failing[0].fix.as_deref(), Some("fix it"));
        let record = f.records().pop().unwrap();
        assert_eq!(record.kind, EventKind::CertificateRefused);
        let facts = record.posture.unwrap();
        assert_eq!(facts.failing, ["disk_encryption"]);
        assert_eq!(facts.passed, ["firewall"]);
        assert!(!f.store.issued_any());
    }

    #[tokio::test]
    async fn a_report_the_proof_does_not_sign_or_a_stale_or_forged_nonce_is_refused() {
        let f = fixture();
        let token = f.exchange("dave-1").await.unwrap();
        let good = report(Status::Pass, Status::Pass);
        let bad = report(Status::Fail, Status::Pass);
        let nonce = f.broker.fresh_nonce(NOW);

        // The proof signs a failing report; the body carries a passing one.
        let swapped = Request {
            report: Some(&good),
            signed: Some(&bad),
            nonce: Some(&nonce),
            now: NOW,
        };
        let result = f.with_posture("dave", &token, swapped).await;
        assert_eq!(code(result), ErrorCode::InvalidDpopProof);
        let unsigned = Request {
            signed: None,
            ..Request::of(&good, Some(&nonce), NOW)
        };
        let result = f.with_posture("dave", &token, unsigned).await;
        assert_eq!(code(result), ErrorCode::InvalidDpopProof);

        // A nonce from three minutes ago, and one this broker never made.
        let old = f.broker.fresh_nonce(NOW - 180);
        let result = f
            .with_posture("dave", &token, Request::of(&good, Some(&old), NOW))
            .await;
        assert_eq!(code(result), ErrorCode::UseDpopNonce);
        let forged = "AQAAAABrSc0AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let result = f
            .with_posture("dave", &token, Request::of(&good, Some(forged), NOW))
            .await;
        assert_eq!(code(result), ErrorCode::UseDpopNonce);

        // Another device's key cannot use dave's token, report or not.
        let url = format!("{BROKER}{}", proto::CERTIFICATE_PATH);
        let digest = zt_core::posture::digest(&good);
        let binding = Binding {
            nonce: Some(&nonce),
            posture_digest: Some(&digest),
        };
        let (proof, jti) = zt_core::dpop::create_bound_proof(
            &f.devices["bob"],
            "POST",
            &url,
            NOW,
            Some(&token),
            binding,
        )
        .unwrap();
        let body = certificate_request(&ssh_key(), &jti, Some(good.clone())).unwrap();
        let meta = f.meta(Some(proof), Some(format!("DPoP {token}")));
        let result = f.broker.issue_certificate(&meta, &body).await;
        assert_eq!(code(result), ErrorCode::InvalidDpopProof);
        assert!(!f.store.issued_any());
    }

    #[tokio::test]
    async fn a_check_in_grace_gets_short_certificates_until_the_grace_ends() {
        let f = fixture();
        let token = f.exchange("dave-1").await.unwrap();
        let no_firewall = report(Status::Pass, Status::Fail);
        let at = |now| {
            let nonce = f.broker.fresh_nonce(now);
            (nonce, now)
        };

        let (nonce, now) = at(NOW);
        let issued = f
            .with_posture("dave", &token, Request::of(&no_firewall, Some(&nonce), now))
            .await
            .unwrap();
        // Two minutes of grace left: the certificate lives no longer.
        assert_eq!(issued.valid_before - now, 120);
        let outcome = issued.posture.unwrap();
        assert_eq!(outcome.warnings[0].requirement, "firewall");
        assert_eq!(outcome.passed, ["disk_encryption"]);

        // A minute later the grace still counts from the first failure.
        let (nonce, now) = at(NOW + 60);
        let issued = f
            .with_posture("dave", &token, Request::of(&no_firewall, Some(&nonce), now))
            .await
            .unwrap();
        assert_eq!(issued.valid_before - now, 60);

        // Past the grace: refused.
        let (nonce, now) = at(NOW + 121);
        let result = f
            .with_posture("dave", &token, Request::of(&no_firewall, Some(&nonce), now))
            .await;
        assert_eq!(code(result), ErrorCode::PostureNotMet);

        // Fixed, then failing again: a new grace period starts.
        let good = report(Status::Pass, Status::Pass);
        let (nonce, now) = at(NOW + 130);
        let issued = f
            .with_posture("dave", &token, Request::of(&good, Some(&nonce), now))
            .await
            .unwrap();
        assert_eq!(issued.valid_before - now, 15 * 60);
        let (nonce, now) = at(NOW + 140);
        let issued = f
            .with_posture("dave", &token, Request::of(&no_firewall, Some(&nonce), now))
            .await
            .unwrap();
        assert_eq!(issued.valid_before - now, 120);
    }

    #[tokio::test]
    async fn a_rule_without_posture_needs_no_nonce_and_records_the_report() {
        let f = fixture();
        let token = f.exchange("alice-1").await.unwrap();
        let bad = report(Status::Fail, Status::Fail);
        let issued = f
            .with_posture("alice", &token, Request::of(&bad, None, NOW))
            .await
            .unwrap();
        assert!(issued.posture.is_none());
        assert_eq!(issued.valid_before - NOW, 30 * 60);
        let cert = ssh_key::Certificate::from_openssh(&issued.certificate).unwrap();
        assert!(!cert.extensions().contains_key(proto::POSTURE_EXTENSION));
        let record = f.records().pop().unwrap();
        assert_eq!(
            record.posture.unwrap().digest,
            zt_core::posture::digest(&bad)
        );
        // And with no report at all, exactly as before.
        assert!(f.certificate("alice", &token).await.is_ok());
    }
}
