//! Where the broker will fetch identity provider metadata and keys from: HTTPS
//! only (loopback excepted), never `file://` or a link-local address, and never
//! by following a redirect.

use std::process::Command;

use super::{Caller, POLICY, assert_refused};
use crate::e2e::fixture::{Broker, ZT_BROKER};
use zt_testkit::hostile_idp::{HostileIdp, HostileOptions};
use zt_testkit::tempdir;

const CONFIG_EXIT: i32 = 7;

fn init(dir: &std::path::Path, issuer: &str) -> std::process::Output {
    Command::new(ZT_BROKER)
        .args(["init", "--client-id", "zt", "--issuer", issuer])
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn unsafe_issuer_urls_are_refused_at_config_time() {
    let cases = [
        ("http://idp.example", "https"),
        ("ftp://idp.example", "https"),
        ("file:///etc/passwd", "https"),
        ("https://169.254.169.254", "link-local"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]", "link-local"),
        ("https://[::ffff:169.254.169.254]", "link-local"),
        ("https://user:pw@idp.example", "credentials"),
    ];
    for (issuer, reason) in cases {
        let dir = tempdir();
        let out = init(&dir.path().join("b"), issuer);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(CONFIG_EXIT), "{issuer}: {stderr}");
        assert!(stderr.contains(reason), "{issuer}: {stderr}");
    }
    // `serve` checks a hand-edited config the same way.
    let dir = tempdir();
    let home = dir.path().join("b");
    assert!(init(&home, "https://idp.example").status.success());
    let config = home.join("zt-broker.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("https://idp.example", "https://169.254.169.254"),
    )
    .unwrap();
    let out = Command::new(ZT_BROKER)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(CONFIG_EXIT), "{stderr}");
    assert!(stderr.contains("link-local"), "{stderr}");
}

#[test]
fn a_redirected_jwks_is_not_followed() {
    let elsewhere = HostileIdp::start();
    let idp = HostileIdp::start_with(HostileOptions {
        jwks_redirect: Some(elsewhere.jwks_url()),
        ..HostileOptions::default()
    });
    let broker = Broker::start(&idp.issuer, POLICY);
    let reply = Caller::new(&broker.url).exchange(&idp.id_token("alice", &["sre"]));
    assert_refused(
        &reply,
        503,
        "temporarily_unavailable",
        "redirected JWKS",
        "",
    );
    assert!(idp.jwks_fetches() >= 1);
    assert_eq!(
        elsewhere.jwks_fetches(),
        0,
        "the broker followed the redirect"
    );
}

#[test]
fn discovery_naming_an_unsafe_jwks_uri_is_refused() {
    let target = HostileIdp::start();
    for jwks_uri in [
        "http://169.254.169.254/latest/meta-data/iam".to_owned(),
        "https://[fe80::1]/jwks".to_owned(),
        "file:///etc/passwd".to_owned(),
        "http://idp.example/jwks".to_owned(),
    ] {
        let idp = HostileIdp::start_with(HostileOptions {
            jwks_uri: Some(jwks_uri.clone()),
            ..HostileOptions::default()
        });
        let broker = Broker::start(&idp.issuer, POLICY);
        let reply = Caller::new(&broker.url).exchange(&idp.id_token("alice", &["sre"]));
        assert_refused(&reply, 503, "temporarily_unavailable", &jwks_uri, "");
        assert_eq!(idp.jwks_fetches(), 0, "{jwks_uri}");
    }
    // The positive control: a loopback jwks_uri on another port is fine.
    let idp = HostileIdp::start_with(HostileOptions {
        jwks_uri: Some(target.jwks_url()),
        ..HostileOptions::default()
    });
    let broker = Broker::start(&idp.issuer, POLICY);
    // target's keys are the same RSA key (shared per process), so this verifies.
    let reply = Caller::new(&broker.url).exchange(&idp.id_token("alice", &["sre"]));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(target.jwks_fetches(), 1);
}
