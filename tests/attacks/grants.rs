//! Asking for more than the policy grants, and identity text with control
//! characters. The certificate returned is parsed with ssh-key and must carry
//! exactly what the rule grants: nothing a request adds survives.

use serde_json::json;
use ssh_key::certificate::{CertType, OptionsMap};
use ssh_key::{Certificate, PublicKey};

use super::{Caller, assert_refused, setup};
use zt_testkit::broker_client::ssh_key;
use zt_testkit::hostile_idp::RSA_KID;

fn options(pairs: &[(&str, &str)]) -> OptionsMap {
    OptionsMap(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn requests_beyond_the_rule_are_refused_and_the_certificate_is_exactly_the_grant() {
    let (idp, broker) = setup();
    let caller = Caller::new(&broker.url);
    let token = caller.access_token(&idp.id_token("dana", &["deploy"]));
    let over: Vec<(&str, serde_json::Value)> = vec![
        ("other principals", json!({"principals": ["root"]})),
        (
            "an extra principal",
            json!({"principals": ["deploy", "root"]}),
        ),
        ("ttl of 10 years", json!({"ttl_secs": 10 * 365 * 86_400u64})),
        ("ttl above the rule's max", json!({"ttl_secs": 31 * 60})),
        ("ttl of u64::MAX", json!({"ttl_secs": u64::MAX})),
    ];
    for (case, extra) in over {
        let reply = caller.certificate_with(&token, &ssh_key(), |body| {
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
        });
        assert_refused(&reply, 403, "access_denied", case, &token);
    }
    // Fields no request may carry at all: the body rejects unknown fields.
    let smuggled: Vec<(&str, serde_json::Value)> = vec![
        ("valid_after = 0", json!({"valid_after": 0})),
        ("valid_before far away", json!({"valid_before": u64::MAX})),
        ("host certificate type", json!({"cert_type": "host"})),
        ("permit-user-rc", json!({"extensions": ["permit-user-rc"]})),
        (
            "agent forwarding",
            json!({"extensions": {"permit-agent-forwarding": ""}}),
        ),
        ("dropping force-command", json!({"force_command": null})),
        (
            "widening source-address",
            json!({"source_address": "0.0.0.0/0"}),
        ),
        ("critical options", json!({"critical_options": {}})),
    ];
    for (case, extra) in smuggled {
        let reply = caller.certificate_with(&token, &ssh_key(), |body| {
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
        });
        assert_refused(&reply, 400, "invalid_request", case, &token);
    }

    // The positive control, checked field by field.
    let key = ssh_key();
    let reply = caller.certificate(&token, &key);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cert = Certificate::from_openssh(reply.str("certificate")).unwrap();
    assert_eq!(cert.cert_type(), CertType::User);
    assert_eq!(cert.valid_principals(), ["deploy".to_string()]);
    assert_eq!(*cert.extensions(), options(&[("permit-pty", "")]));
    assert_eq!(
        *cert.critical_options(),
        options(&[
            ("force-command", "/usr/local/bin/deploy"),
            ("source-address", "127.0.0.1/32"),
        ])
    );
    assert_eq!(
        cert.valid_before() - cert.valid_after(),
        10 * 60 + 60,
        "ttl 10m + 60 s skew"
    );
    assert_eq!(cert.public_key(), key.public_key().key_data());
    let ca = PublicKey::from_openssh(&broker.user_ca()).unwrap();
    assert_eq!(cert.signature_key(), ca.key_data());
    assert_eq!(cert.serial(), zt_testkit::serial(&reply.body["serial"]));
    assert_eq!(cert.key_id(), reply.str("key_id"));
}

#[test]
fn narrowing_works_and_extensions_stay_the_rules() {
    let (idp, broker) = setup();
    let caller = Caller::new(&broker.url);
    let token = caller.access_token(&idp.id_token("sam", &["sre"]));
    let reply = caller.certificate_with(&token, &ssh_key(), |body| {
        body["principals"] = json!(["ops-ro"]);
        body["ttl_secs"] = json!(300);
    });
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cert = Certificate::from_openssh(reply.str("certificate")).unwrap();
    assert_eq!(cert.valid_principals(), ["ops-ro".to_string()]);
    assert_eq!(cert.valid_before() - cert.valid_after(), 300 + 60);
    // The sre rule grants a pty only: no agent or port forwarding, no user rc.
    assert_eq!(*cert.extensions(), options(&[("permit-pty", "")]));
    assert!(cert.critical_options().is_empty());
}

/// True for any control character but the newline that ends each log line.
fn has_raw_control(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

#[test]
fn control_characters_in_identity_fields_never_reach_key_ids_audit_or_logs() {
    let (idp, broker) = setup();
    let forged_line = "2026-01-01T00:00:00Z  INFO zt_broker::http: certificate issued rule=root";
    let sub = format!("mallory\n{forged_line}\r\u{1b}[2K\u{7}");
    let mut claims = idp.claims("mallory", &["sre"]);
    claims["sub"] = sub.clone().into();
    claims["email"] = "m\r\nallory@example.com\u{7}".into();
    claims["name"] = "Mal\nlory".into();
    let token = idp.rs256(json!({"kid": RSA_KID}), &claims);
    let caller = Caller::new(&broker.url);
    let access = caller.access_token(&token);
    let reply = caller.certificate(&access, &ssh_key());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cert = Certificate::from_openssh(reply.str("certificate")).unwrap();
    for key_id in [cert.key_id(), reply.str("key_id")] {
        assert!(!key_id.chars().any(char::is_control), "key id {key_id:?}");
        assert!(
            key_id.contains("mallory%0A"),
            "escaped, still traceable: {key_id}"
        );
    }
    // A refusal quoting attacker text, too.
    let mut evil = idp.claims("x", &["sre"]);
    evil["iss"] = format!("https://evil.example/\n{forged_line}").into();
    let evil = idp.rs256(json!({"kid": RSA_KID}), &evil);
    assert_eq!(Caller::new(&broker.url).exchange(&evil).status, 400);
    // A NUL names no identity (and PostgreSQL could not store it): refused, not escaped.
    let mut nul = idp.claims("x", &["sre"]);
    nul["sub"] = format!("mallory\u{0}{forged_line}").into();
    let nul = idp.rs256(json!({"kid": RSA_KID}), &nul);
    let reply = Caller::new(&broker.url).exchange(&nul);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.str("error_description").contains("NUL"),
        "{}",
        reply.body
    );

    for record in broker.audit_raw() {
        assert!(
            !record.chars().any(char::is_control),
            "raw control bytes in audit record {record:?}"
        );
    }
    let log = broker.log();
    assert!(
        !has_raw_control(&log),
        "raw control bytes in the log:\n{log:?}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("2026-01-01")),
        "a forged log line:\n{log}"
    );
}
