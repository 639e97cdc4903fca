//! Posture reports the broker must refuse (issue 11): without its nonce, with a nonce used
//! before or never issued, a report the proof does not sign, a whole request replayed, and
//! another device's key. Each refusal is on the audit record; the control gets a certificate.

use super::assert_refused;
use crate::e2e::fixture::Broker;
use zt_core::posture::{Check, CheckResult, PostureReport, digest};
use zt_testkit::broker_client::{Caller, PostureRequest, ssh_key};
use zt_testkit::hostile_idp::HostileIdp;

const POLICY: &str = r#"
[[rules]]
name = "laptops"
match.groups = ["laptops"]
principals = ["dev"]
require.posture.disk_encryption = true
"#;

fn report(encrypted: bool) -> PostureReport {
    let check = if encrypted {
        CheckResult::pass(Check::DiskEncryption, "/ on dm-crypt (LUKS2)")
    } else {
        CheckResult::fail(Check::DiskEncryption, "/ is not encrypted", "encrypt it")
    };
    PostureReport {
        os: "linux".into(),
        os_id: "debian".into(),
        os_version: "12".into(),
        os_name: String::new(),
        kernel: "6.1.0".into(),
        hostname: "laptop".into(),
        zt_version: "0.1.0".into(),
        checks: vec![check],
        processes: vec![],
    }
}

#[test]
fn posture_reports_without_a_fresh_nonce_or_a_matching_proof_are_refused() {
    let idp = HostileIdp::start();
    let broker = Broker::start(&idp.issuer, POLICY);
    let caller = Caller::new(&broker.url);
    let token = caller.access_token(&idp.id_token("dana", &["laptops"]));
    let good = report(true);
    let good_digest = digest(&good);
    let bad_digest = digest(&report(false));
    let request = |nonce: Option<&str>, signed: &str| {
        caller
            .posture_certificate(
                &token,
                &ssh_key(),
                &PostureRequest {
                    report: Some(&good),
                    signed_digest: Some(signed),
                    nonce,
                },
            )
            .0
    };

    // No nonce: RFC 9449's use_dpop_nonce, with one in the DPoP-Nonce header.
    let first = request(None, &good_digest);
    assert_refused(&first, 401, "use_dpop_nonce", "no nonce", &token);
    let nonce = first.nonce.clone().expect("a DPoP-Nonce header");

    // A nonce the broker never made.
    let forged = "AQAAAABrSc0AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let reply = request(Some(forged), &good_digest);
    assert_refused(&reply, 401, "use_dpop_nonce", "forged nonce", &token);

    // The proof signs a failing report while the body carries a passing one.
    let reply = request(Some(&nonce), &bad_digest);
    assert_refused(&reply, 401, "invalid_dpop_proof", "swapped report", &token);

    // Control: the honest request.
    let (ok, proof, body) = caller.posture_certificate(
        &token,
        &ssh_key(),
        &PostureRequest {
            report: Some(&good),
            signed_digest: Some(&good_digest),
            nonce: Some(&nonce),
        },
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["posture"]["passed"][0], "disk_encryption");
    assert!(ok.nonce.is_some(), "a fresh nonce for the next request");

    // The same nonce again in a fresh proof, and the whole request replayed.
    let reply = request(Some(&nonce), &good_digest);
    assert_refused(&reply, 401, "invalid_dpop_proof", "nonce reused", &token);
    let replay = caller.certificate_raw(Some(&format!("DPoP {token}")), Some(&proof), &body);
    assert_refused(
        &replay,
        401,
        "invalid_dpop_proof",
        "request replayed",
        &token,
    );

    // Another device's key, with the victim's token and a fresh nonce.
    let thief = Caller::new(&broker.url);
    let (reply, _, _) = thief.posture_certificate(
        &token,
        &ssh_key(),
        &PostureRequest {
            report: Some(&good),
            signed_digest: Some(&good_digest),
            nonce: ok.nonce.as_deref(),
        },
    );
    assert_refused(&reply, 401, "invalid_dpop_proof", "another key", &token);

    let records = broker.audit();
    let refused = records
        .iter()
        .filter(|r| r["kind"] == "certificate_refused")
        .count();
    assert_eq!(refused, 6, "every refusal is on the record");
    let issued: Vec<_> = records
        .iter()
        .filter(|r| r["kind"] == "certificate_issued")
        .collect();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["posture"]["digest"], good_digest.as_str());
}
