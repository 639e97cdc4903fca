//! The audit key that signed a log cannot silently change: a broker whose
//! key went missing or was swapped refuses to start over that log (a new
//! key would leave the earlier checkpoints unverifiable), and one
//! initialised before checkpoints existed gets its key on first start.

use std::process::Command;

use crate::e2e::fixture::{Broker, POLICY, ZT_BROKER};

fn sign_host(broker: &Broker) -> std::process::Output {
    let key = broker.dir.path().join("host.pub");
    let host =
        ssh_key::PrivateKey::random(&mut rand_core::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
    std::fs::write(&key, host.public_key().to_openssh().unwrap()).unwrap();
    // sign-host opens the store exactly as `serve` does.
    Command::new(ZT_BROKER)
        .args(["sign-host", "--principals", "h", "--config"])
        .arg(broker.config_path())
        .arg(&key)
        .output()
        .unwrap()
}

#[test]
fn a_missing_or_swapped_audit_key_is_refused_over_a_signed_log() {
    let broker = Broker::init("http://127.0.0.1:9/idp", POLICY);
    let key = broker.home().join("audit_signing_key.pem");
    let out = sign_host(&broker);
    assert!(out.status.success(), "{out:?}");

    let original = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let out = sign_host(&broker);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is missing"));
    assert!(!key.exists(), "no new key may be created over a signed log");

    let other = broker.dir.path().join("other");
    zt_broker::keys::load_or_create_audit_key(&other).unwrap();
    std::fs::copy(&other, &key).unwrap();
    let out = sign_host(&broker);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not the key"));

    std::fs::write(&key, original).unwrap();
    assert!(sign_host(&broker).status.success());
    assert_eq!(super::verify(&broker.config_path()).0, Some(0));
}

#[test]
fn a_broker_from_before_checkpoints_gets_its_audit_key_on_first_start() {
    let broker = Broker::init("http://127.0.0.1:9/idp", POLICY);
    let key = broker.home().join("audit_signing_key.pem");
    std::fs::remove_file(&key).unwrap();
    std::fs::remove_file(key.with_extension("pub.json")).unwrap();
    // And a config file without the key's path, as init wrote it then.
    let config = std::fs::read_to_string(broker.config_path()).unwrap();
    let old: String = config
        .lines()
        .filter(|l| !l.starts_with("audit_signing"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(old, config);
    std::fs::write(broker.config_path(), old).unwrap();

    assert!(sign_host(&broker).status.success());
    assert!(key.exists() && key.with_extension("pub.json").exists());
    let (code, verdict) = super::verify(&broker.config_path());
    assert_eq!(code, Some(0), "{verdict}");
    assert_eq!(verdict["checkpoints"], 1);
}
