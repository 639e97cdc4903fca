//! Device posture end to end (issue 11): the real `zt` collects from a fake machine tree
//! (`ZT_POSTURE_ROOT`, honoured by debug builds only), the real broker holds the report
//! against the rule, and the real sshd accepts the certificate with its posture extension.

use std::path::Path;

use super::fixture::{Broker, User};
use super::{ssh_args, target};
use zt_testkit::agent::TestAgent;
use zt_testkit::idp::{ALICE, IdpOptions, TestIdp};
use zt_testkit::process::run_ok;
use zt_testkit::{Peer, require_peers, tempdir};

const POSTURE_POLICY: &str = r#"
[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops"]
ttl = "1h"
require.posture.disk_encryption = true
require.posture.firewall = true
require.posture.processes = ["edr-agent"]
"#;

const GRACE_POLICY: &str = r#"
[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops"]
ttl = "1h"
require.posture.disk_encryption = true
require.posture.firewall = true
require.posture.grace.firewall = "1h"
"#;

/// A machine tree: Debian on LUKS2, ufw on, the EDR agent running; `set` edits it.
struct Machine(tempfile::TempDir);

impl Machine {
    fn compliant() -> Machine {
        let m = Machine(tempdir());
        m.set(
            "etc/os-release",
            "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        );
        m.set("proc/sys/kernel/osrelease", "6.1.0-26-amd64\n");
        m.set("proc/sys/kernel/hostname", "alice-laptop\n");
        m.set(
            "proc/self/mountinfo",
            "25 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/luks-root rw\n",
        );
        m.set(
            "sys/dev/block/253:0/dm/uuid",
            "CRYPT-LUKS2-4a1f-luks-root\n",
        );
        m.set("etc/ufw/ufw.conf", "ENABLED=yes\n");
        m.set("etc/default/ufw", "DEFAULT_INPUT_POLICY=\"DROP\"\n");
        m.set("proc/1/comm", "systemd\n");
        m.set("proc/412/comm", "edr-agent\n");
        m
    }

    fn set(&self, path: &str, content: &str) {
        let path = self.0.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// The root file system is a plain partition.
    fn unencrypt_root(&self) {
        self.set(
            "proc/self/mountinfo",
            "25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n",
        );
        self.set("sys/dev/block/259:2/partition", "2\n");
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

fn user_on(machine: &Machine) -> User {
    User::new().with_env("ZT_POSTURE_ROOT", machine.path().to_str().unwrap())
}

#[test]
fn a_compliant_device_connects_with_a_posture_certificate_until_its_posture_degrades() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let mut broker = Broker::start(&idp.issuer, POSTURE_POLICY);
    let machine = Machine::compliant();
    let user = user_on(&machine);
    user.login_as(&broker, &idp, ALICE);

    // The certificate is short (posture_ttl, 15 min) and carries the posture extension,
    // which ssh-keygen shows and sshd accepts.
    let session = user.session();
    let cert = &session["certificate"];
    let life = cert["valid_before"].as_u64().unwrap() - cert["valid_after"].as_u64().unwrap();
    assert!(life <= 15 * 60 + 120, "{cert}");
    assert_eq!(
        cert["posture"]["passed"],
        serde_json::json!(["disk_encryption", "firewall", "process:edr-agent"])
    );
    let listing = run_ok(
        std::process::Command::new("ssh-keygen")
            .arg("-L")
            .arg("-f")
            .arg(user.certificate_path()),
    );
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("posture@zt.dev"), "{listing}");
    let issued = super::certificates_issued(&broker).pop().unwrap();
    assert_eq!(issued["posture"]["digest"], cert["posture"]["digest"]);

    let sshd = target(&broker, &["ops"], true);
    let args = ssh_args(&sshd);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = user.run(&args);
    assert_eq!(first.code, Some(0), "{first:?}\nsshd log:\n{}", sshd.log());

    // The disk is no longer encrypted: the next connection is refused locally, with no
    // broker to ask (it is gone), and the certificate is removed.
    broker.kill();
    machine.unencrypt_root();
    let second = user.run(&args);
    assert_eq!(second.code, Some(5), "{second:?}");
    assert!(
        second.stderr.contains("disk_encryption"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("/dev/nvme0n1p2"),
        "{}",
        second.stderr
    );
    assert!(!user.certificate_path().exists());
    assert!(user.session()["certificate"].is_null());
}

#[test]
fn an_unencrypted_disk_gets_no_certificate_and_the_refusal_names_the_check() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POSTURE_POLICY);
    let machine = Machine::compliant();
    machine.unencrypt_root();
    let user = user_on(&machine);
    let login = user.login(&broker, |code| idp.approve(code, ALICE.0, ALICE.1));
    assert_eq!(login.code, Some(5), "{login:?}");
    assert!(login.stderr.contains("disk_encryption"), "{}", login.stderr);
    assert!(login.stderr.contains("fix: "), "{}", login.stderr);
    let error = login.json_lines().pop().unwrap();
    assert_eq!(error["error"]["exit_code"], 5, "{error}");
    assert_eq!(
        error["error"]["details"]["failing"][0]["requirement"],
        "disk_encryption"
    );
    assert!(!user.certificate_path().exists());
    assert!(super::certificates_issued(&broker).is_empty());
    let refused = broker
        .audit()
        .into_iter()
        .find(|r| r["kind"] == "certificate_refused")
        .expect("a refusal on the record");
    assert_eq!(refused["outcome"]["error"], "posture_not_met");
    assert_eq!(
        refused["posture"]["failing"],
        serde_json::json!(["disk_encryption"])
    );
}

#[test]
fn a_check_in_grace_gets_a_short_certificate_and_a_warning() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, GRACE_POLICY);
    let machine = Machine::compliant();
    machine.set("etc/ufw/ufw.conf", "ENABLED=no\n");
    // This time the key goes to an ssh-agent, whence the re-check must remove it too.
    let agent = TestAgent::start();
    let user = user_on(&machine).with_env("SSH_AUTH_SOCK", agent.socket.to_str().unwrap());
    let login = user.login_as(&broker, &idp, ALICE);
    assert_eq!(user.session()["certificate"]["in_agent"], true);
    assert_eq!(agent.list().len(), 1, "{:?}", agent.list());
    assert!(
        login.stderr.contains("warning: firewall fails"),
        "{}",
        login.stderr
    );
    let cert = &user.session()["certificate"];
    let now = zt_os::clock::unix_now();
    let left = cert["valid_before"].as_u64().unwrap() - now;
    assert!(
        left <= 5 * 60,
        "grace certificates live at most 5 minutes: {cert}"
    );
    assert_eq!(cert["posture"]["warnings"][0]["requirement"], "firewall");

    // `zt posture` shows the report against the rule the certificate came from.
    let posture = user.run(&["posture", "--json"]);
    assert_eq!(posture.code, Some(0), "{posture:?}");
    let report: serde_json::Value = serde_json::from_str(posture.stdout.trim()).unwrap();
    assert_eq!(report["rule"]["name"], "sre");
    assert_eq!(report["rule"]["failing"][0]["requirement"], "firewall");
    assert_eq!(report["hostname"], "alice-laptop");

    // The check behind `Match exec` re-runs the checks too: with the disk unencrypted it
    // removes the certificate and exits 5 (the firewall, in grace at issue, is no reason).
    machine.unencrypt_root();
    let check = user.run(&["ssh-config", "check"]);
    assert_eq!(check.code, Some(5), "{check:?}");
    assert!(check.stderr.contains("disk_encryption"), "{}", check.stderr);
    assert!(!check.stderr.contains("firewall"), "{}", check.stderr);
    assert!(!user.certificate_path().exists());
    assert!(agent.list().is_empty(), "{:?}", agent.list());
}
