//! `zt-broker policy check`: the real binary on a policy file, explaining
//! which rule grants what (exit 0) or that none does (exit 4).

use std::process::Command;

use super::fixture::{POLICY, ZT_BROKER};
use zt_testkit::tempdir;

fn check(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempdir();
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, POLICY).unwrap();
    let out = Command::new(ZT_BROKER)
        .args(["policy", "check"])
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn policy_check_explains_the_decision_for_an_identity() {
    let (code, out) = check(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("2 rule(s) in order: sre, short-lived"),
        "{out}"
    );

    let (code, out) = check(&[
        "--issuer",
        "https://idp",
        "--subject",
        "a",
        "--group",
        "dev",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{out}");
    let verdict: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verdict["grant"]["rule"], "short-lived");
    assert_eq!(verdict["grant"]["principals"], serde_json::json!(["dev"]));
    assert_eq!(verdict["grant"]["ttl_secs"], 90);
    assert_eq!(verdict["rules"][0]["outcome"], "no_match");

    let (code, out) = check(&[
        "--issuer",
        "https://idp",
        "--subject",
        "c",
        "--group",
        "guest",
    ]);
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("→ denied"), "{out}");
}

#[test]
fn a_broken_policy_is_a_configuration_error() {
    let dir = tempdir();
    let path = dir.path().join("policy.toml");
    std::fs::write(
        &path,
        "[[rules]]\nname = \"x\"\nprincipals = [\"-oProxyCommand=sh\"]\n",
    )
    .unwrap();
    let out = Command::new(ZT_BROKER)
        .args(["policy", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{out:?}");
}
