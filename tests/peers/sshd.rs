//! The test sshd is Debian's OpenSSH server, certificate-only, reached by the real client.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use zt_testkit::ssh::{KeyPair, known_hosts_ca_line, sign_host_key, sign_user_key, ssh_command};
use zt_testkit::sshd::{SshdBuilder, TestSshd, current_login};
use zt_testkit::{Peer, require_peers, tempdir};

/// A user CA, a host CA, one user key with a certificate for principal `ops`, and an
/// sshd that trusts the user CA, maps `ops` to the current login and serves a host
/// certificate from the host CA.
struct Fixture {
    keys: tempfile::TempDir,
    host_ca: KeyPair,
    user: KeyPair,
    user_cert: PathBuf,
    login: String,
    sshd: TestSshd,
}

impl Fixture {
    fn new() -> Fixture {
        let keys = tempdir();
        let user_ca = KeyPair::generate(keys.path(), "user_ca");
        let host_ca = KeyPair::generate(keys.path(), "host_ca");
        let user = KeyPair::generate(keys.path(), "user");
        let user_cert = sign_user_key(&user_ca, &user, "test-key-id", &["ops"]);
        let login = current_login();

        let builder = SshdBuilder::new();
        let host_cert = sign_host_key(
            &host_ca,
            &builder.host_public_key(),
            keys.path(),
            &["127.0.0.1"],
        );
        let sshd = builder
            .host_certificate(&host_cert)
            .user_ca(&user_ca.public_line())
            .principals(&login, &["ops"])
            .start();
        Fixture {
            keys,
            host_ca,
            user,
            user_cert,
            login,
            sshd,
        }
    }

    /// Runs `ssh … id -un` trusting host CA `trusted_host_ca`.
    fn ssh_id(&self, trusted_host_ca: &KeyPair) -> Output {
        let known_hosts = self.keys.path().join("known_hosts");
        let line = known_hosts_ca_line(self.sshd.port, &trusted_host_ca.public_line());
        std::fs::write(&known_hosts, format!("{line}\n")).expect("write known_hosts");
        ssh_command(
            self.sshd.port,
            &self.login,
            &self.user,
            &self.user_cert,
            &known_hosts,
        )
        .args(["id", "-un"])
        .output()
        .expect("run ssh")
    }
}

#[test]
fn certificate_login_reaches_the_current_user_and_is_logged() {
    if !require_peers(&[Peer::Sshd]) {
        return;
    }
    let fixture = Fixture::new();

    let output = fixture.ssh_id(&fixture.host_ca);

    assert!(
        output.status.success(),
        "ssh failed: {}\nsshd log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        fixture.sshd.log()
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        fixture.login
    );
    assert!(
        fixture.sshd.wait_for_log(
            "Accepted certificate ID \"test-key-id\"",
            Duration::from_secs(5)
        ),
        "sshd log lacks the key ID:\n{}",
        fixture.sshd.log()
    );
}

#[test]
fn host_certificate_from_an_untrusted_ca_is_refused() {
    if !require_peers(&[Peer::Sshd]) {
        return;
    }
    let fixture = Fixture::new();
    let other_ca = KeyPair::generate(fixture.keys.path(), "other_host_ca");

    let output = fixture.ssh_id(&other_ca);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "stderr: {stderr}");
    assert!(
        stderr.contains("Host key verification failed"),
        "stderr: {stderr}"
    );
    assert!(!fixture.sshd.log().contains("Accepted publickey"));
}

#[test]
fn certificate_without_an_allowed_principal_is_refused() {
    if !require_peers(&[Peer::Sshd]) {
        return;
    }
    let fixture = Fixture::new();
    fixture
        .sshd
        .set_principals(&fixture.login, &["someone-else"]);

    let output = fixture.ssh_id(&fixture.host_ca);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "stderr: {stderr}");
    assert!(stderr.contains("Permission denied"), "stderr: {stderr}");
}
