//! End to end: the real `zt` and `zt-broker` against panva's oidc-provider
//! and Debian's sshd, all on loopback.

mod agent;
mod ci;
mod dev;
mod dev_pages;
mod devices;
pub mod fixture;
mod forward;
mod hostile_claims;
mod keyring_probe;
mod logout;
mod planted_dirs;
mod policy_check;
mod posture;
mod quiet_ssh;
mod secrets;
mod service_tokens;
mod ssh_config;
mod ssh_destination;
mod transport;
mod wrong_broker;

use std::time::Duration;

use fixture::{Broker, POLICY, User};

use zt_testkit::idp::{ALICE, BOB, CAROL, IdpOptions, TestIdp};
use zt_testkit::process::wait_until;
use zt_testkit::sshd::{SshdBuilder, TestSshd, current_login};
use zt_testkit::{Peer, require_peers};

/// sshd trusting the broker's user CA, with a host certificate from the
/// broker's host CA (unless `host_cert` is false), `login` ← `principals`.
pub(super) fn target(broker: &Broker, principals: &[&str], host_cert: bool) -> TestSshd {
    let builder = SshdBuilder::new()
        .user_ca(&broker.user_ca())
        .principals(&current_login(), principals);
    let builder = if host_cert {
        let cert = broker.sign_host(&builder.host_public_key(), "127.0.0.1");
        builder.host_certificate(&cert)
    } else {
        builder
    };
    builder.start()
}

pub(super) fn ssh_args(sshd: &TestSshd) -> Vec<String> {
    let port = sshd.port.to_string();
    [
        "ssh",
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-p",
        &port,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("{}@127.0.0.1", current_login()),
        "--".into(),
        "id".into(),
        "-un".into(),
    ])
    .collect()
}

pub(super) fn certificates_issued(broker: &Broker) -> Vec<serde_json::Value> {
    broker
        .audit()
        .into_iter()
        .filter(|r| r["kind"] == "certificate_issued")
        .collect()
}

#[test]
fn sre_user_logs_in_and_ssh_runs_as_the_granted_principal() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    let login = user.login(&broker, |code| idp.approve(code, ALICE.0, ALICE.1));
    assert_eq!(
        login.code,
        Some(0),
        "{login:?}\nbroker log:\n{}",
        broker.log()
    );
    let done = login.json_lines().pop().unwrap();
    assert_eq!(done["event"], "login");
    assert_eq!(
        done["certificate"]["principals"],
        serde_json::json!(["ops"])
    );
    assert_eq!(done["certificate"]["rule"], "sre");
    assert_eq!(done["identity"]["email"], "alice@example.com");
    let serial = zt_testkit::serial(&done["certificate"]["serial"]);

    let sshd = target(&broker, &["ops"], true);
    let args = ssh_args(&sshd);
    let run = user.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, Some(0), "{run:?}\nsshd log:\n{}", sshd.log());
    assert_eq!(run.stdout.trim(), current_login());
    // sshd logs the certificate's key ID: the user's identity, escaped.
    assert!(
        sshd.wait_for_log("sub=sub-alice", Duration::from_secs(5)),
        "sshd log lacks the key ID:\n{}",
        sshd.log()
    );
    assert!(
        sshd.log().contains(&format!("serial {serial}")),
        "{}",
        sshd.log()
    );

    // The audit record of the issued certificate exists, with the facts.
    let issued = certificates_issued(&broker);
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert_eq!(
        zt_testkit::serial(&issued[0]["certificate"]["serial"]),
        serial
    );
    assert_eq!(issued[0]["identity"]["subject"], "sub-alice");
    assert_eq!(issued[0]["rule"], "sre");

    let status = user.run(&["status", "--json"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    let status: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap();
    assert_eq!(zt_testkit::serial(&status["certificate"]["serial"]), serial);
}

#[test]
fn a_target_whose_host_key_is_not_certified_is_refused() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    user.login_as(&broker, &idp, ALICE);
    let sshd = target(&broker, &["ops"], false);
    let args = ssh_args(&sshd);
    let run = user.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, Some(255), "{run:?}");
    assert!(
        run.stderr.contains("Host key verification failed"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_user_no_rule_matches_is_denied_and_gets_no_certificate() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    let login = user.login(&broker, |code| idp.approve(code, CAROL.0, CAROL.1));
    assert_eq!(login.code, Some(4), "{login:?}");
    assert!(
        login.stderr.contains("no policy rule matches"),
        "{}",
        login.stderr
    );
    assert!(!user.certificate_path().exists());
    assert!(certificates_issued(&broker).is_empty());
    // The refusal is audited with the verified identity and the reason.
    let refused: Vec<_> = broker
        .audit()
        .into_iter()
        .filter(|r| r["kind"] == "certificate_refused")
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["identity"]["subject"], "sub-carol");
    assert_eq!(refused[0]["outcome"]["status"], 403);
    assert_eq!(refused[0]["outcome"]["error"], "access_denied");
    assert!(refused[0]["device"].is_string(), "{}", refused[0]);
    assert!(refused[0]["rule"].is_null(), "{}", refused[0]);
}

#[test]
fn a_denied_device_code_exits_4() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    let login = user.login(&broker, |code| idp.deny(code));
    assert_eq!(login.code, Some(4), "{login:?}");
    assert!(login.stderr.contains("denied"), "{}", login.stderr);
}

#[test]
fn an_expired_device_code_exits_3() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions {
        device_code_ttl_secs: Some(2),
        ..IdpOptions::default()
    });
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    let login = user.login(&broker, |_| {});
    assert_eq!(login.code, Some(3), "{login:?}");
    assert!(login.stderr.contains("expired"), "{}", login.stderr);
}

#[test]
fn slow_down_lengthens_the_poll_interval_by_five_seconds() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    let login = user.login(&broker, |code| {
        idp.force_slow_down(code);
        // Wait for the slowed poll and the one after it, then approve.
        let two_after = wait_until(Duration::from_secs(20), || idp.polls(code).len() >= 3);
        assert!(two_after, "zt stopped polling: {:?}", idp.polls(code));
        let polls = idp.polls(code);
        let gaps: Vec<u64> = polls.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().any(|g| *g >= 5_900),
            "no gap of interval + 5 s after slow_down: {gaps:?}"
        );
        idp.approve(code, ALICE.0, ALICE.1);
    });
    assert_eq!(login.code, Some(0), "{login:?}");
}

#[test]
fn a_nearly_expired_certificate_is_renewed_without_a_prompt() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    // bob's rule grants 90 s: less than the 2 minutes zt ssh wants left.
    user.login_as(&broker, &idp, BOB);
    let first = zt_testkit::serial(&user.session()["certificate"]["serial"]);
    let sshd = target(&broker, &["dev"], true);
    let args = ssh_args(&sshd);
    let run = user.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, Some(0), "{run:?}\nbroker:\n{}", broker.log());
    assert_eq!(run.stdout.trim(), current_login());
    let second = zt_testkit::serial(&user.session()["certificate"]["serial"]);
    assert_ne!(first, second, "zt ssh should have renewed the certificate");
    let serials: Vec<u64> = certificates_issued(&broker)
        .iter()
        .map(|r| zt_testkit::serial(&r["certificate"]["serial"]))
        .collect();
    assert_eq!(
        serials,
        vec![first, second],
        "one audit record per issued certificate"
    );
}

#[test]
fn without_a_session_zt_ssh_and_status_exit_3() {
    let user = User::new();
    let run = user.run(&["ssh", "host", "true"]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(run.stderr.contains("zt login"), "{}", run.stderr);
    let run = user.run(&["status"]);
    assert_eq!(run.code, Some(3), "{run:?}");
    let run = user.run(&["ssh", "--", "-oProxyCommand=sh"]);
    assert_eq!(run.code, Some(2), "{run:?}");
}
