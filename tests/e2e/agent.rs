//! With an ssh-agent (OpenSSH's own), the key and certificate live only in
//! the agent, for exactly the certificate's lifetime; a new login replaces
//! the entry and `zt logout` removes it.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use super::fixture::{Broker, POLICY, User};
use super::{ssh_args, target};
use zt_testkit::agent::TestAgent;
use zt_testkit::idp::{ALICE, IdpOptions, TestIdp};
use zt_testkit::process::run_ok;
use zt_testkit::sshd::current_login;
use zt_testkit::{Peer, require_peers, tempdir};

const CERT_TYPE: &str = "ssh-ed25519-cert-v01@openssh.com";

fn agent_certificates(agent: &TestAgent) -> Vec<String> {
    agent
        .list()
        .into_iter()
        .filter(|l| l.starts_with(CERT_TYPE))
        .collect()
}

/// The first two fields of an OpenSSH public line (type and base64 blob).
fn blob(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every `(life: N)` the agent logged for an added certificate.
fn lifetimes(agent: &TestAgent) -> Vec<u64> {
    agent
        .log()
        .lines()
        .filter(|l| l.contains(&format!("add {CERT_TYPE}")))
        .filter_map(|l| {
            let rest = l.split("(life: ").nth(1)?;
            rest.split(')').next()?.parse().ok()
        })
        .collect()
}

#[test]
fn the_agent_holds_the_key_for_the_certificate_lifetime_and_logout_removes_it() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let agent = TestAgent::start();
    let user = User::new().with_env("SSH_AUTH_SOCK", agent.socket.to_str().unwrap());

    let login = user.login(&broker, |code| idp.approve(code, ALICE.0, ALICE.1));
    assert_eq!(login.code, Some(0), "{login:?}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cert_line = std::fs::read_to_string(user.certificate_path()).unwrap();
    let cert = ssh_key::Certificate::from_openssh(cert_line.trim()).unwrap();
    let held = agent_certificates(&agent);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(blob(&held[0]), blob(&cert_line));
    assert_eq!(user.session()["certificate"]["in_agent"], true);
    // The private key never touched the disk.
    let key_file = user.certificate_path().with_file_name("id_ed25519");
    assert!(!key_file.exists(), "{} exists", key_file.display());
    // The agent's lifetime is the certificate's remaining validity
    // (the policy grants 1 h; the agent logged it at add time, before `now`).
    let remaining = cert.valid_before() - now;
    let life = lifetimes(&agent);
    assert_eq!(life.len(), 1, "agent log:\n{}", agent.log());
    assert!(
        life[0] >= remaining && life[0] <= cert.valid_before() - cert.valid_after(),
        "life {} vs remaining {remaining}",
        life[0]
    );

    // ssh signs through the agent.
    let sshd = target(&broker, &["ops"], true);
    let args = ssh_args(&sshd);
    let run = user.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, Some(0), "{run:?}\nsshd log:\n{}", sshd.log());
    assert_eq!(run.stdout.trim(), current_login());

    // A second login replaces the entry: never two live zt certificates.
    let again = user.login(&broker, |code| idp.approve(code, ALICE.0, ALICE.1));
    assert_eq!(again.code, Some(0), "{again:?}");
    let second_line = std::fs::read_to_string(user.certificate_path()).unwrap();
    assert_ne!(blob(&second_line), blob(&cert_line));
    let held = agent_certificates(&agent);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(blob(&held[0]), blob(&second_line));

    let logout = user.run(&["logout"]);
    assert_eq!(logout.code, Some(0), "{logout:?}");
    assert!(agent.list().is_empty(), "{:?}", agent.list());
}

/// `ssh-keygen` a key commented `comment`, sign it with the broker's user CA
/// for `validity` (`ssh-keygen -V`), and `ssh-add` both to `agent`.
fn add_foreign(
    agent: &TestAgent,
    broker: &Broker,
    dir: &Path,
    name: &str,
    comment: &str,
    validity: &str,
) -> String {
    let key = dir.join(name);
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(&key),
    );
    run_ok(
        Command::new("ssh-keygen")
            .arg("-q")
            .arg("-s")
            .arg(broker.home().join("user_ca"))
            .args(["-I", name, "-n", "ops", "-V", validity])
            .arg(key.with_extension("pub")),
    );
    run_ok(
        Command::new("ssh-add")
            .arg(&key)
            .env("SSH_AUTH_SOCK", &agent.socket),
    );
    std::fs::read_to_string(dir.join(format!("{name}-cert.pub"))).unwrap()
}

#[test]
fn stale_zt_entries_of_the_profile_are_removed_whenever_zt_runs() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let agent = TestAgent::start();
    let user = User::new().with_env("SSH_AUTH_SOCK", agent.socket.to_str().unwrap());
    user.login_as(&broker, &idp, ALICE);
    let current = std::fs::read_to_string(user.certificate_path()).unwrap();

    // What zt tags its entries with, for this user's state directory.
    let h = user.home.path();
    let tag = zt::client::agent::comment(&zt::client::paths::Paths {
        config_file: h.join("config/zt/config.toml"),
        state_dir: h.join("state/zt/default"),
        runtime_dir: user.runtime_dir().join("zt/default"),
    });
    let dir = tempdir();
    // Left behind by an earlier session of this profile (an agent that
    // ignores lifetimes, a crash before the old entry was removed, …):
    add_foreign(&agent, &broker, dir.path(), "expired", &tag, "-2h:-1h");
    add_foreign(&agent, &broker, dir.path(), "superseded", &tag, "-5m:+1h");
    // Somebody else's, expired: not zt's business.
    let mine = add_foreign(
        &agent,
        &broker,
        dir.path(),
        "mine",
        "alice@laptop",
        "-2h:-1h",
    );
    assert_eq!(agent.list().len(), 7, "{:?}", agent.list());

    let status = user.run(&["status"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    let mut left: Vec<String> = agent.list().iter().map(|l| blob(l)).collect();
    left.sort();
    let own_key = std::fs::read_to_string(dir.path().join("mine.pub")).unwrap();
    let mut expected = vec![blob(&current), blob(&mine), blob(&own_key)];
    expected.sort();
    assert_eq!(left, expected, "{:?}", agent.list());

    // sshd then meets exactly one zt certificate.
    let sshd = target(&broker, &["ops"], true);
    let args = ssh_args(&sshd);
    let run = user.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, Some(0), "{run:?}\nsshd log:\n{}", sshd.log());
}
