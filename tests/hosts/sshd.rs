//! The whole path against the real peers: a Debian sshd enrolled by the real
//! `zt host enroll`, users from panva's oidc-provider, revocations that sshd
//! enforces after `zt host krl-sync`, and host CA rotation.

use std::process::Command;

use crate::e2e::fixture::{Broker, POLICY, User};
use crate::e2e::ssh_args;
use zt_testkit::idp::{ALICE, BOB, IdpOptions, TestIdp};
use zt_testkit::process::run_ok;
use zt_testkit::sshd::{SshdBuilder, TestSshd, current_login};
use zt_testkit::{Peer, require_peers, tempdir};

use super::admin::{Target, create_token, text, zt_broker};
use super::krl::revoked_by;

/// A test sshd configured only through the drop-in `zt host enroll` wrote.
fn enrolled_sshd(broker: &Broker) -> (TestSshd, Target) {
    let builder = SshdBuilder::new().principals(&current_login(), &["ops", "dev"]);
    let target = Target::in_dir(builder.dir());
    let token = create_token(broker, "127.0.0.1", "10m");
    let out = target.enroll(broker, &token, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let include = format!("Include {}/sshd_config.d/*.conf", builder.dir().display());
    (builder.config_line(&include).start(), target)
}

/// `jq -r FILTER` over `json`, as a shell pipeline would run it.
fn jq(json: &str, filter: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("jq")
        .args(["-r", filter])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run jq (apt-get install jq)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "jq failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn ssh(user: &User, sshd: &TestSshd) -> crate::e2e::fixture::Run {
    let args = ssh_args(sshd);
    user.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn logged_in(idp: &TestIdp, broker: &Broker, who: (&str, &str)) -> (User, u64) {
    let user = User::new();
    let login = user.login(broker, |code| idp.approve(code, who.0, who.1));
    assert_eq!(login.code, Some(0), "{login:?}");
    let done = login.json_lines().pop().unwrap();
    let serial = zt_testkit::serial(&done["certificate"]["serial"]);
    (user, serial)
}

#[test]
fn an_enrolled_sshd_refuses_a_revoked_certificate_after_krl_sync_while_others_work() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let (sshd, target) = enrolled_sshd(&broker);
    let (alice, alice_serial) = logged_in(&idp, &broker, ALICE);
    let (bob, _) = logged_in(&idp, &broker, BOB);
    for user in [&alice, &bob] {
        let run = ssh(user, &sshd);
        assert_eq!(run.code, Some(0), "{run:?}\nsshd log:\n{}", sshd.log());
        assert_eq!(run.stdout.trim(), current_login());
    }

    // What an incident responder's script sees: `zt status --json | jq -r
    // .certificate.serial` is the exact serial. (jq 1.6 reads JSON numbers as doubles, which
    // would round a 63-bit serial; zt prints it as a string.)
    let status = alice.run(&["status", "--json"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    let via_jq = jq(&status.stdout, ".certificate.serial");
    assert_eq!(via_jq, alice_serial.to_string());
    // A serial the broker never issued (what the rounded number would have named) is
    // refused, not reported as revoked.
    let rounded = match (alice_serial as f64) as u64 {
        same if same == alice_serial => alice_serial.wrapping_add(1),
        other => other,
    };
    let out = zt_broker(&broker, &["revoke", "--serial", &rounded.to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("never issued"),
        "{}",
        text(&out.stderr)
    );

    // Revoke Alice's certificate, by the serial jq gave. Until the target syncs, sshd still
    // lets her in: the delay is the sync interval.
    let out = zt_broker(&broker, &["revoke", "--serial", &via_jq]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(ssh(&alice, &sshd).code, Some(0));
    let out = target.zt_host(&["krl-sync"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let krl = target.dir.join("revoked_keys");
    assert!(revoked_by(&krl, &alice.certificate_path()));
    let run = ssh(&alice, &sshd);
    assert_eq!(run.code, Some(255), "{run:?}");
    assert!(
        sshd.log().contains(&format!("serial {alice_serial}")) && sshd.log().contains("revoked"),
        "sshd log:\n{}",
        sshd.log()
    );
    // Bob is untouched.
    assert!(!revoked_by(&krl, &bob.certificate_path()));
    assert_eq!(ssh(&bob, &sshd).code, Some(0));

    // Revoke Bob as a user: his current certificate is in the next KRL, and
    // the broker issues him nothing new (his 90 s certificates always renew).
    let out = zt_broker(
        &broker,
        &["revoke", "--user", &format!("{},sub-bob", idp.issuer)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = target.zt_host(&["krl-sync"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(revoked_by(&krl, &bob.certificate_path()));
    let run = ssh(&bob, &sshd);
    assert_eq!(run.code, Some(4), "{run:?}");
    assert!(run.stderr.contains("revoked"), "{}", run.stderr);
    let refused: Vec<_> = broker
        .audit()
        .into_iter()
        .filter(|r| {
            r["kind"] == "token_exchange_refused"
                && r["identity"]["subject"] == "sub-bob"
                && r["outcome"]["status"] == 403
        })
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
}

#[test]
fn hosts_certified_by_the_additional_host_ca_are_trusted_and_unknown_cas_are_not() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let cas = tempdir();
    for name in ["next_host_ca", "unknown_ca"] {
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(cas.path().join(name)),
        );
    }
    let next = cas.path().join("next_host_ca.pub");
    let broker = Broker::start_with(&idp.issuer, POLICY, |config| {
        let keys = config["keys"].as_table_mut().unwrap();
        let list = toml::Value::Array(vec![next.to_str().unwrap().into()]);
        keys.insert("additional_host_ca_keys".into(), list);
    });
    let (alice, _) = logged_in(&idp, &broker, ALICE);
    let published =
        zt_testkit::http::get_json(&format!("{}/.well-known/zt-configuration", broker.url));
    assert_eq!(published.body["host_ca_keys"].as_array().unwrap().len(), 2);

    let host_signed_by = |ca: &str| {
        let builder = SshdBuilder::new()
            .user_ca(&broker.user_ca())
            .principals(&current_login(), &["ops"]);
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-h", "-s"])
                .arg(cas.path().join(ca))
                .args(["-I", "rotated", "-n", "127.0.0.1"])
                .arg(builder.dir().join("ssh_host_ed25519_key.pub")),
        );
        let cert =
            std::fs::read_to_string(builder.dir().join("ssh_host_ed25519_key-cert.pub")).unwrap();
        builder.host_certificate(&cert).start()
    };
    let rotated = host_signed_by("next_host_ca");
    let run = ssh(&alice, &rotated);
    assert_eq!(run.code, Some(0), "{run:?}\nsshd log:\n{}", rotated.log());
    let unknown = host_signed_by("unknown_ca");
    let run = ssh(&alice, &unknown);
    assert_eq!(run.code, Some(255), "{run:?}");
    assert!(
        run.stderr.contains("Host key verification failed"),
        "{}",
        run.stderr
    );
}
