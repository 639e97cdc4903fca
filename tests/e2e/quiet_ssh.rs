//! `zt ssh host true` leaves stderr empty: nothing zt caused, and nothing ssh says because of the
//! options zt gave it, whether the key is in an agent or in a file (issue 10: with an agent, ssh
//! printed `Load key ".../id_ed25519-cert.pub": error in libcrypto` on every connection).

use super::fixture::{Broker, POLICY, User};
use super::{ssh_args, target};
use zt_testkit::agent::TestAgent;
use zt_testkit::idp::{ALICE, IdpOptions, TestIdp};
use zt_testkit::{Peer, require_peers};

/// `zt ssh … true` for `user`; asserts success and returns stderr.
fn ssh_true(user: &User, broker: &Broker) -> String {
    let sshd = target(broker, &["ops"], true);
    let mut args = ssh_args(&sshd);
    // `… -- id -un` → `… -- true`
    args.truncate(args.len() - 2);
    args.push("true".into());
    let run = user.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, Some(0), "{run:?}\nsshd log:\n{}", sshd.log());
    run.stderr
}

#[test]
fn ssh_prints_nothing_with_the_key_in_the_agent_or_in_a_file() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);

    let agent = TestAgent::start();
    let with_agent = User::new().with_env("SSH_AUTH_SOCK", agent.socket.to_str().unwrap());
    with_agent.login_as(&broker, &idp, ALICE);
    assert_eq!(with_agent.session()["certificate"]["in_agent"], true);
    assert_eq!(ssh_true(&with_agent, &broker), "", "agent path");

    let with_file = User::new();
    with_file.login_as(&broker, &idp, ALICE);
    assert_eq!(with_file.session()["certificate"]["in_agent"], false);
    assert_eq!(ssh_true(&with_file, &broker), "", "file path");
}
