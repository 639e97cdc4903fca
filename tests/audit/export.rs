//! `zt-broker audit export`: one JSON object per line with `seq` and
//! `hash`, filtered by serial, user and time, including refusals (which
//! carry only what was verified).

use std::process::Command;

use serde_json::Value;

use super::{Driver, broker_with_store};
use crate::e2e::fixture::ZT_BROKER;
use zt_testkit::api;
use zt_testkit::dev_idp::DevIdp;
use zt_testkit::tempdir;

fn export(config: &std::path::Path, filters: &[&str]) -> Vec<Value> {
    let out = Command::new(ZT_BROKER)
        .args(["audit", "export", "--json", "--config"])
        .arg(config)
        .args(filters)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn export_prints_records_with_seq_and_hash_filtered_by_serial_user_and_time() {
    let idp = DevIdp::start("alice");
    let state = tempdir();
    let mut broker = broker_with_store(&idp, &state.path().join("zt-broker.db"), 1000);
    broker.serve();
    let mut driver = Driver::new(&broker, &idp);
    let client = driver.client();
    let first = zt_testkit::serial(&driver.certificate(&client).json()["serial"]);
    let second = zt_testkit::serial(&driver.certificate(&client).json()["serial"]);
    // A refusal before any identity is verified: a forged access token.
    let forged = api::Client {
        device: zt_core::jose::SigningKey::generate().unwrap(),
        access_token: "not.a.token".into(),
    };
    assert_eq!(driver.certificate(&forged).status, 401);
    let config = broker.config_path();

    let all = export(&config, &[]);
    let kinds: Vec<&str> = all.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "token_exchange",
            "certificate_issued",
            "certificate_issued",
            "certificate_refused"
        ]
    );
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r["seq"], (i + 1).to_string());
        assert_eq!(r["hash"].as_str().unwrap().len(), 64);
    }
    let refused = &all[3];
    assert!(refused.get("identity").is_none(), "{refused}");
    assert_eq!(refused["outcome"]["status"], 401);
    assert_eq!(refused["outcome"]["error"], "invalid_token");

    let by_serial = export(&config, &["--serial", &second.to_string()]);
    assert_eq!(by_serial.len(), 1);
    assert_eq!(
        zt_testkit::serial(&by_serial[0]["certificate"]["serial"]),
        second
    );
    assert_ne!(first, second);

    let alice = export(&config, &["--user", "alice@example.com"]);
    assert_eq!(alice.len(), 3, "{alice:?}");
    let subject = alice[0]["identity"]["subject"].as_str().unwrap();
    let by_pair = export(&config, &["--user", &format!("{},{subject}", idp.issuer)]);
    assert_eq!(by_pair, alice);

    assert_eq!(export(&config, &["--since", "1h"]).len(), 4);
    assert!(export(&config, &["--until", "1"]).is_empty());
}
