//! Secrets stay where they belong: never in the argv or environment zt
//! gives ssh, never in the broker's log or zt's output, and neither zt nor
//! zt-broker can write a core dump.

use std::os::unix::fs::PermissionsExt;

use super::fixture::{Broker, POLICY, User};
use zt_testkit::idp::{ALICE, IdpOptions, TestIdp};
use zt_testkit::{Peer, require_peers};

/// The "Max core file size" soft and hard limits of process `pid`.
fn core_limit(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    line.split_whitespace()
        .skip(4)
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn secrets_stay_out_of_argv_environment_logs_and_core_dumps() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    assert_eq!(
        core_limit(broker.pid().unwrap()),
        "0 0",
        "zt-broker may dump core"
    );
    let user = User::new();
    let login = user.login(&broker, |code| idp.approve(code, ALICE.0, ALICE.1));
    assert_eq!(login.code, Some(0), "{login:?}");
    let token = user.run(&["token"]);
    assert_eq!(token.code, Some(0), "{token:?}");

    let state = user.home.path().join("state/zt/default/secrets");
    let key =
        std::fs::read_to_string(user.certificate_path().with_file_name("id_ed25519")).unwrap();
    let mut secrets: Vec<(&str, String)> = vec![
        (
            "refresh token",
            std::fs::read_to_string(state.join("refresh-token")).unwrap(),
        ),
        (
            "device key",
            std::fs::read_to_string(state.join("device-key")).unwrap(),
        ),
        ("broker token", token.stdout.trim().to_owned()),
    ];
    // Each line of the private key's base64 body on its own.
    secrets.extend(
        key.lines()
            .filter(|l| !l.starts_with("-----"))
            .map(|l| ("ssh private key", l.to_owned())),
    );
    for (_, s) in &secrets {
        assert!(
            s.trim().len() >= 20,
            "not a secret worth looking for: {s:?}"
        );
    }

    // A stand-in for ssh that records what it was given.
    let seen = user.home.path().join("ssh-saw.txt");
    let fake_ssh = user.home.path().join("fake-ssh");
    std::fs::write(
        &fake_ssh,
        format!(
            "#!/bin/sh\n{{ printf '%s\\n' \"$@\"; env; grep 'core file' /proc/self/limits; }} > '{}'\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake_ssh, std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = user
        .zt()
        .env("ZT_SSH_PROGRAM", &fake_ssh)
        .args(["ssh", "ops@127.0.0.1", "--", "true"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let given = std::fs::read_to_string(&seen).unwrap();
    assert!(given.contains("ops@127.0.0.1"), "{given}");
    let ssh_core = given.lines().find(|l| l.contains("core file")).unwrap();
    assert!(
        ssh_core
            .split_whitespace()
            .skip(4)
            .take(2)
            .all(|v| v == "0"),
        "ssh may dump core: {ssh_core}"
    );

    let places = [
        ("ssh's argv and environment", given),
        ("the broker log", broker.log()),
        (
            "zt login's output",
            format!("{}{}", login.stdout, login.stderr),
        ),
        ("zt token's stderr", token.stderr.clone()),
        ("zt ssh's output", format!("{run:?}")),
    ];
    for (place, text) in &places {
        for (what, secret) in &secrets {
            assert!(
                !text.contains(secret.trim()),
                "the {what} appears in {place}"
            );
        }
    }
}
