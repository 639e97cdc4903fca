//! Devices as the real zt, broker and IdP see them (issue 11): a device registers at its first
//! login; a rule that requires an approved device refuses it until `zt-broker device approve`;
//! a revoked device gets no more tokens.

use super::fixture::{Broker, User};
use crate::hosts::admin::{text, zt_broker};
use zt_testkit::idp::{ALICE, IdpOptions, TestIdp};
use zt_testkit::{Peer, require_peers};

const APPROVED_ONLY: &str = r#"
[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops"]
require.device = "approved"
"#;

fn devices(broker: &Broker) -> serde_json::Value {
    let out = zt_broker(broker, &["device", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn an_unapproved_device_is_refused_until_an_admin_approves_it_and_a_revoked_one_gets_nothing() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, APPROVED_ONLY);
    let user = User::new();

    // First login: the device registers itself, and the rule refuses it (exit 4), naming it.
    let login = user.login(&broker, |code| idp.approve(code, ALICE.0, ALICE.1));
    assert_eq!(login.code, Some(4), "{login:?}");
    let error = login.json_lines().pop().unwrap();
    assert_eq!(error["error"]["code"], "denied", "{error}");
    let listed = devices(&broker);
    let device = &listed["devices"][0];
    let id = device["id"].as_str().unwrap().to_owned();
    assert_eq!(device["status"], "registered");
    assert_eq!(device["owner"]["subject"], "sub-alice");
    assert!(
        login.stderr.contains("not approved") && login.stderr.contains(&id),
        "{}",
        login.stderr
    );

    // The admin approves it, and the same device logs in.
    let out = zt_broker(&broker, &["device", "approve", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(devices(&broker)["devices"][0]["status"], "approved");
    user.login_as(&broker, &idp, ALICE);
    let status = user.run(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap();
    assert_eq!(status["device"]["id"], id.as_str());

    // Revoked: no new token for it, and the change is on the record.
    let out = zt_broker(&broker, &["device", "revoke", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = user.run(&["token", "--json"]);
    assert_eq!(token.code, Some(4), "{token:?}");
    assert!(token.stderr.contains("revoked"), "{}", token.stderr);
    let kinds: Vec<_> = broker
        .audit()
        .into_iter()
        .filter(|r| r["device"] == id.as_str())
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"device_approved".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"device_revoked".to_owned()), "{kinds:?}");

    // An unknown device ID is a usage error, not a silent success.
    let out = zt_broker(&broker, &["device", "approve", "no-such-device"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
