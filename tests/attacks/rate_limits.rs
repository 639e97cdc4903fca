//! Rate limits on token exchange and certificate requests: per client address in
//! the HTTP layer, per identity in the service. Over the limit → 429 with
//! `Retry-After`; other addresses and identities, and honest rates, are untouched.

use super::{Caller, POLICY, assert_refused};
use crate::e2e::fixture::Broker;
use zt_testkit::broker_client::ssh_key;
use zt_testkit::hostile_idp::HostileIdp;
use zt_testkit::http::JsonResponse;

fn limited(reply: &JsonResponse, case: &str) {
    assert_refused(reply, 429, "rate_limited", case, "");
    let retry = reply
        .retry_after
        .unwrap_or_else(|| panic!("{case}: no Retry-After"));
    assert!((1..=120).contains(&retry), "{case}: Retry-After {retry}");
}

#[test]
fn one_address_over_its_rate_gets_429_and_others_are_served() {
    let idp = HostileIdp::start();
    let broker = Broker::start_with(&idp.issuer, POLICY, |config| {
        config["limits"]["per_address_per_minute"] = 1.into();
        config["limits"]["per_address_burst"] = 5.into();
        config["limits"]["per_identity_per_minute"] = 0.into();
    });
    let attacker = Caller::new(&broker.url);
    assert_eq!(
        attacker.exchange(&idp.id_token("alice", &["sre"])).status,
        200
    );
    // Junk counts too: the limit applies before any work is done.
    for _ in 0..4 {
        assert_eq!(
            attacker
                .exchange_raw(&zt_core::requests::exchange_form("junk"), None)
                .status,
            401
        );
    }
    limited(
        &attacker.exchange(&idp.id_token("alice", &["sre"])),
        "sixth request",
    );
    let body = serde_json::json!({"public_key": "k", "possession_proof": "p"});
    limited(
        &attacker.certificate_raw(None, None, &body),
        "certificate endpoint, same address",
    );
    // Another client address is not affected.
    let neighbour = Caller::from_address(&broker.url, "127.0.0.2");
    let token = neighbour.access_token(&idp.id_token("bob", &["sre"]));
    assert_eq!(neighbour.certificate(&token, &ssh_key()).status, 200);
}

#[test]
fn one_identity_over_its_rate_gets_429_and_others_are_served() {
    let idp = HostileIdp::start();
    let broker = Broker::start_with(&idp.issuer, POLICY, |config| {
        config["limits"]["per_identity_per_minute"] = 1.into();
        config["limits"]["per_identity_burst"] = 3.into();
        config["limits"]["per_address_per_minute"] = 0.into();
    });
    let alice = Caller::new(&broker.url);
    let token = alice.access_token(&idp.id_token("alice", &["sre"]));
    // A thief with alice's token but not her device key cannot spend her budget.
    let thief = Caller::new(&broker.url);
    for _ in 0..5 {
        let (proof, body) = thief.certificate_body(&token, &ssh_key());
        let reply = thief.certificate_raw(Some(&format!("DPoP {token}")), Some(&proof), &body);
        assert_refused(&reply, 401, "invalid_dpop_proof", "stolen token", &token);
    }
    assert_eq!(alice.certificate(&token, &ssh_key()).status, 200);
    assert_eq!(alice.exchange(&idp.id_token("alice", &["sre"])).status, 200);
    limited(
        &alice.exchange(&idp.id_token("alice", &["sre"])),
        "exchange over the identity's rate",
    );
    limited(
        &alice.certificate(&token, &ssh_key()),
        "certificate over the identity's rate",
    );
    // From another device and address, alice is still alice.
    let elsewhere = Caller::from_address(&broker.url, "127.0.0.3");
    limited(
        &elsewhere.exchange(&idp.id_token("alice", &["sre"])),
        "same identity elsewhere",
    );
    // Bob, on alice's address, is served.
    let bob = Caller::new(&broker.url);
    let token = bob.access_token(&idp.id_token("bob", &["sre"]));
    assert_eq!(bob.certificate(&token, &ssh_key()).status, 200);
}

#[test]
fn honest_clients_at_a_normal_rate_are_never_limited_by_the_defaults() {
    let idp = HostileIdp::start();
    let broker = Broker::start(&idp.issuer, POLICY);
    // Far more than a person does in a minute: 12 logins, each with a certificate,
    // and a handful of colleagues behind the same address.
    for round in 0..12 {
        for sub in ["alice", "bob", "carol"] {
            let caller = Caller::new(&broker.url);
            let token = caller.access_token(&idp.id_token(sub, &["sre"]));
            let reply = caller.certificate(&token, &ssh_key());
            assert_eq!(reply.status, 200, "round {round}, {sub}: {}", reply.body);
        }
    }
}
