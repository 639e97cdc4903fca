//! `zt-broker dev`: the one-command development broker.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::fixture::{Broker, User, ZT_BROKER};
use zt_testkit::process::GroupChild;

#[test]
fn dev_broker_refuses_a_non_loopback_address() {
    let out = Command::new(ZT_BROKER)
        .args(["dev", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[test]
fn dev_broker_with_auto_approve_logs_alice_in() {
    let dir = zt_testkit::tempdir();
    let mut command = Command::new(ZT_BROKER);
    command
        .args([
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--json",
            "--auto-approve",
            "alice",
            "--dir",
        ])
        .arg(dir.path().join("broker"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = GroupChild::spawn(command).unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line");
    let url = ready["broker"].as_str().unwrap().to_owned();
    let user = User::new();
    let broker = Broker::attach(url);
    let login = user.login(&broker, |_| {});
    assert_eq!(login.code, Some(0), "{login:?}");
    let done = login.json_lines().pop().unwrap();
    assert_eq!(
        done["certificate"]["principals"],
        serde_json::json!(["ops"])
    );
    assert!(user.certificate_path().exists());
}
