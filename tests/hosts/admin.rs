//! The admin commands and the host endpoints without an identity provider:
//! revocations by serial, key ID and key reaching the KRL that the real
//! `zt host krl-sync` installs (checked with the real `ssh-keygen -Q`), and
//! enrolment tokens: dry run, single use, narrowing, expiry, renewal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::e2e::fixture::{Broker, POLICY, ZT, ZT_BROKER};
use zt_testkit::process::{run_ok, wait_until};
use zt_testkit::{Peer, require_peers, tempdir};

use super::krl::revoked_by;

/// An issuer nobody answers at: these tests never verify an ID token.
const NO_ISSUER: &str = "http://127.0.0.1:9";

pub fn zt_broker(broker: &Broker, args: &[&str]) -> Output {
    Command::new(ZT_BROKER)
        .args(args)
        .arg("--config")
        .arg(broker.config_path())
        .output()
        .expect("run zt-broker")
}

pub fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// `zt-broker host token create`; the token from stdout.
pub fn create_token(broker: &Broker, principals: &str, ttl: &str) -> String {
    let out = zt_broker(
        broker,
        &[
            "host",
            "token",
            "create",
            "--principals",
            principals,
            "--ttl",
            ttl,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// A target's files: a host key made by ssh-keygen, and where zt puts the rest.
pub struct Target {
    pub dir: PathBuf,
}

impl Target {
    pub fn in_dir(dir: &Path) -> Target {
        let key = dir.join("ssh_host_ed25519_key");
        if !key.exists() {
            run_ok(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(&key),
            );
        }
        Target {
            dir: dir.to_owned(),
        }
    }

    pub fn host_key(&self) -> PathBuf {
        self.dir.join("ssh_host_ed25519_key")
    }

    pub fn certificate(&self) -> PathBuf {
        self.dir.join("ssh_host_ed25519_key-cert.pub")
    }

    pub fn drop_in(&self) -> PathBuf {
        self.dir.join("sshd_config.d/50-zt.conf")
    }

    /// `zt host <args> --zt-dir <dir>` (and the paths enrol needs).
    pub fn zt_host(&self, args: &[&str]) -> Command {
        let mut command = Command::new(ZT);
        command
            .arg("host")
            .args(args)
            .arg("--zt-dir")
            .arg(&self.dir)
            .env_remove("ZT_HOST_TOKEN")
            .env_remove("ZT_BROKER")
            .env("HOME", &self.dir);
        if args.first() == Some(&"enroll") {
            command
                .arg("--host-key")
                .arg(self.host_key())
                .arg("--sshd-config-dir")
                .arg(self.dir.join("sshd_config.d"));
        }
        command
    }

    /// Enrol with `token` from a file; the output.
    pub fn enroll(&self, broker: &Broker, token: &str, extra: &[&str]) -> Output {
        let file = self.dir.join("token");
        std::fs::write(&file, token).unwrap();
        let out = self
            .zt_host(&["enroll", "--broker", &broker.url])
            .arg("--token-file")
            .arg(&file)
            .args(extra)
            .output()
            .unwrap();
        std::fs::remove_file(&file).unwrap();
        out
    }

    pub fn certificate_serial(&self) -> u64 {
        let text = std::fs::read_to_string(self.certificate()).unwrap();
        ssh_key::Certificate::from_openssh(text.trim())
            .unwrap()
            .serial()
    }
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.join(name)),
    );
    dir.join(format!("{name}.pub"))
}

/// A user certificate from the broker's own user CA, made by ssh-keygen.
fn user_cert(broker: &Broker, dir: &Path, name: &str, serial: u64, key_id: &str) -> PathBuf {
    keygen(dir, name);
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-s"])
            .arg(broker.home().join("user_ca"))
            .args(["-I", key_id, "-n", "ops", "-z", &serial.to_string()])
            .arg(dir.join(format!("{name}.pub"))),
    );
    dir.join(format!("{name}-cert.pub"))
}

#[test]
fn revocations_by_serial_key_id_and_key_reach_sshds_revoked_keys_through_krl_sync() {
    if !require_peers(&[Peer::Sshd]) {
        return;
    }
    let broker = Broker::start(NO_ISSUER, POLICY);
    let tmp = tempdir();
    let keys = tmp.path();
    let by_serial = user_cert(&broker, keys, "a", 11, "kid-a");
    let by_key_id = user_cert(&broker, keys, "b", 12, "kid-b");
    let by_key = user_cert(&broker, keys, "c", 13, "kid-c");
    let untouched = user_cert(&broker, keys, "d", 14, "kid-d");
    let fp_key = keygen(keys, "e");
    let fp = text(&run_ok(Command::new("ssh-keygen").arg("-lf").arg(&fp_key)).stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();

    let target = Target::in_dir(keys);
    let state = format!(
        r#"{{"broker":"{}","host_key":"{}"}}"#,
        broker.url,
        target.host_key().display()
    );
    std::fs::write(keys.join("host.json"), state).unwrap();
    let sync = |expect: &str| {
        let out = target.zt_host(&["krl-sync"]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains(expect), "{}", text(&out.stderr));
    };
    sync("KRL updated");
    let krl = keys.join("revoked_keys");
    for cert in [&by_serial, &by_key_id, &by_key, &untouched] {
        assert!(!revoked_by(&krl, cert), "nothing revoked yet: {cert:?}");
    }
    sync("KRL unchanged");

    // These certificates were signed with the CA by hand, not issued by the broker: revoking
    // them is revoking ahead of time, which takes --force.
    for args in [
        &["revoke", "--force", "--serial", "11"][..],
        &["revoke", "--force", "--key-id", "kid-b"],
        &[
            "revoke",
            "--force",
            "--key",
            keys.join("c.pub").to_str().unwrap(),
        ],
        &["revoke", "--force", "--key", &fp],
    ] {
        let out = zt_broker(&broker, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    // The revocations are recorded, but sshd's file only changes on sync.
    assert!(!revoked_by(&krl, &by_serial));
    sync("KRL updated");
    assert!(revoked_by(&krl, &by_serial), "by serial");
    assert!(revoked_by(&krl, &by_key_id), "by key ID");
    assert!(
        revoked_by(&krl, &by_key),
        "the certificate of a revoked key"
    );
    assert!(revoked_by(&krl, &keys.join("c.pub")), "a revoked key");
    assert!(revoked_by(&krl, &fp_key), "a key revoked by fingerprint");
    assert!(!revoked_by(&krl, &untouched), "an unrevoked certificate");
    sync("KRL unchanged");

    // Each revocation is one audit record naming what was revoked.
    let revoked: Vec<_> = broker
        .audit()
        .into_iter()
        .filter(|r| r["kind"] == "revoked")
        .map(|r| r["revocation"].clone())
        .collect();
    assert_eq!(revoked.len(), 4, "{revoked:?}");
    assert_eq!(revoked[0], serde_json::json!({"serial": "11"}));
    assert_eq!(revoked[1], serde_json::json!({"key_id": "kid-b"}));

    // Bad requests are usage errors and record nothing.
    for args in [
        &["revoke", "--serial", "0"][..],
        &["revoke"],
        &["revoke", "--user", "no-comma"],
        &["revoke", "--key", "SHA256:short"],
        &["revoke", "--serial", "1", "--key-id", "x"],
    ] {
        let out = zt_broker(&broker, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        broker
            .audit()
            .iter()
            .filter(|r| r["kind"] == "revoked")
            .count(),
        4
    );
}

#[test]
fn enrolment_tokens_are_one_time_short_lived_and_narrowable_and_dry_run_writes_nothing() {
    if !require_peers(&[Peer::Sshd]) {
        return;
    }
    let broker = Broker::start(NO_ISSUER, POLICY);
    let tmp = tempdir();
    let target = Target::in_dir(tmp.path());
    let token = create_token(&broker, "host.example.com,127.0.0.1", "10m");
    assert!(token.starts_with("zt-host-"), "{token}");

    // Dry run: the drop-in on stdout, nothing written, the token unused.
    let out = target
        .zt_host(&["enroll", "--broker", &broker.url, "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let key = target.host_key().display().to_string();
    for line in [
        format!("HostCertificate {key}-cert.pub"),
        format!(
            "TrustedUserCAKeys {}/user_ca_keys.pub",
            tmp.path().display()
        ),
        format!(
            "AuthorizedPrincipalsFile {}/principals/%u",
            tmp.path().display()
        ),
        format!("RevokedKeys {}/revoked_keys", tmp.path().display()),
    ] {
        assert!(printed.lines().any(|l| l == line), "{line}:\n{printed}");
    }
    let mut names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]);

    // Widening beyond the token is refused and does not use it up.
    let out = target.enroll(&broker, &token, &["--principals", "other.example.com"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("allows only"),
        "{}",
        text(&out.stderr)
    );

    // Enrolment, narrowed to one principal.
    let out = target.enroll(&broker, &token, &["--principals", "127.0.0.1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cert = std::fs::read_to_string(target.certificate()).unwrap();
    let cert = ssh_key::Certificate::from_openssh(cert.trim()).unwrap();
    assert!(cert.cert_type().is_host());
    assert_eq!(cert.valid_principals(), ["127.0.0.1"]);
    let host_ca = std::fs::read_to_string(broker.home().join("host_ca.pub")).unwrap();
    let host_ca = ssh_key::PublicKey::from_openssh(host_ca.trim()).unwrap();
    cert.validate([&host_ca.fingerprint(ssh_key::HashAlg::Sha256)])
        .expect("signed by the broker's host CA");
    let user_ca = std::fs::read_to_string(tmp.path().join("user_ca_keys.pub")).unwrap();
    assert_eq!(user_ca.trim(), broker.user_ca());
    assert!(
        std::fs::read(tmp.path().join("revoked_keys"))
            .unwrap()
            .starts_with(b"SSHKRL\n\0")
    );
    assert!(tmp.path().join("principals").is_dir());
    assert!(target.drop_in().is_file());

    // The same token again, now through the environment: refused.
    let out = target
        .zt_host(&["enroll", "--broker", &broker.url])
        .env("ZT_HOST_TOKEN", &token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("already used"),
        "{}",
        text(&out.stderr)
    );
    // An unknown token: refused alike.
    let out = target.enroll(&broker, "zt-host-made-up", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));

    // An expired token: refused.
    let short = create_token(&broker, "127.0.0.1", "1s");
    let created = zt_os::clock::unix_now();
    assert!(wait_until(Duration::from_secs(5), || {
        zt_os::clock::unix_now() >= created + 2
    }));
    let out = target.enroll(&broker, &short, &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("expired"),
        "{}",
        text(&out.stderr)
    );

    // Renewal: not due yet; forced, a new certificate with the same principals.
    let serial = target.certificate_serial();
    let out = target.zt_host(&["renew"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not renewing yet"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(target.certificate_serial(), serial);
    let out = target.zt_host(&["renew", "--force"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let renewed = target.certificate_serial();
    assert_ne!(renewed, serial);
    // A revoked host certificate cannot renew itself.
    let out = zt_broker(&broker, &["revoke", "--serial", &renewed.to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = target.zt_host(&["renew", "--force"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("revoked"),
        "{}",
        text(&out.stderr)
    );

    // Audited; the token itself appears nowhere, only its hash prefix.
    let audit = broker.audit();
    let kinds: Vec<&str> = audit.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "enrolment_token_created")
            .count(),
        2
    );
    let issued: Vec<_> = audit
        .iter()
        .filter(|r| r["kind"] == "host_certificate_issued")
        .collect();
    assert_eq!(issued.len(), 2, "{kinds:?}");
    assert_eq!(issued[0]["rule"], "enrolment");
    assert_eq!(issued[0]["enrolment"]["principals"][1], "127.0.0.1");
    assert_eq!(issued[1]["rule"], "renewal");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "host_certificate_refused")
            .count(),
        5,
        "{kinds:?}"
    );
    let raw = broker.audit_raw().join("\n");
    assert!(!raw.contains(&token) && !broker.log().contains(&token));
}
