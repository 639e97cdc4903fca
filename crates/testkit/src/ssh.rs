//! The OpenSSH client side for tests: keys and certificates made by the real
//! `ssh-keygen`, and an `ssh` command line that ignores the machine's own configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::run_ok;

/// An Ed25519 key pair in OpenSSH files: `<name>` and `<name>.pub`.
#[derive(Debug, Clone)]
pub struct KeyPair {
    pub private: PathBuf,
    pub public: PathBuf,
}

impl KeyPair {
    /// `ssh-keygen -t ed25519` into `dir/name`, without a passphrase.
    pub fn generate(dir: &Path, name: &str) -> KeyPair {
        let private = dir.join(name);
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(&private),
        );
        KeyPair {
            public: private.with_file_name(format!("{name}.pub")),
            private,
        }
    }

    /// The public key line (`ssh-ed25519 AAAA… comment`), without the newline.
    pub fn public_line(&self) -> String {
        read_line(&self.public)
    }

    /// Where `ssh-keygen -s` puts the certificate of this key: `<name>-cert.pub`.
    pub fn certificate_path(&self) -> PathBuf {
        let name = self.private.file_name().expect("key file name");
        self.private
            .with_file_name(format!("{}-cert.pub", name.to_string_lossy()))
    }
}

/// Signs `key` with user CA `ca` (`ssh-keygen -s ca -I key_id -n principals`) and returns
/// the certificate's path. The certificate has no expiry.
pub fn sign_user_key(ca: &KeyPair, key: &KeyPair, key_id: &str, principals: &[&str]) -> PathBuf {
    run_ok(
        Command::new("ssh-keygen")
            .arg("-q")
            .arg("-s")
            .arg(&ca.private)
            .args(["-I", key_id, "-n", &principals.join(",")])
            .arg(&key.public),
    );
    key.certificate_path()
}

/// Signs the host public key line `host_public_line` with host CA `ca` for `principals`
/// (`ssh-keygen -s ca -h`), working in `dir`; returns the certificate line.
pub fn sign_host_key(
    ca: &KeyPair,
    host_public_line: &str,
    dir: &Path,
    principals: &[&str],
) -> String {
    let public = dir.join("host-to-sign.pub");
    std::fs::write(&public, format!("{host_public_line}\n")).expect("write host key");
    run_ok(
        Command::new("ssh-keygen")
            .arg("-q")
            .arg("-s")
            .arg(&ca.private)
            .args(["-h", "-I", "zt-test-host", "-n", &principals.join(",")])
            .arg(&public),
    );
    read_line(&dir.join("host-to-sign-cert.pub"))
}

/// A known_hosts line trusting host CA `ca_public_line` for 127.0.0.1 on `port`.
///
/// ssh looks a non-22 port up as `[127.0.0.1]:PORT`; this pattern matches exactly that.
/// (OpenSSH 9.2 also accepts a bare `127.0.0.1` CA line for any port, but the exact form
/// is what a careful tool writes.)
pub fn known_hosts_ca_line(port: u16, ca_public_line: &str) -> String {
    format!("@cert-authority [127.0.0.1]:{port} {ca_public_line}")
}

/// The real `ssh` client to `login@127.0.0.1:port` with certificate `cert` for `key`,
/// trusting only `known_hosts`. `-F /dev/null` and `IdentityAgent=none` keep the
/// machine's configuration and agent out; add the remote command with `.arg(…)`.
pub fn ssh_command(
    port: u16,
    login: &str,
    key: &KeyPair,
    cert: &Path,
    known_hosts: &Path,
) -> Command {
    let mut command = Command::new("ssh");
    command
        .args(["-F", "/dev/null", "-p", &port.to_string()])
        .args(["-o", "BatchMode=yes"])
        .args(["-o", "IdentitiesOnly=yes"])
        .args(["-o", "IdentityAgent=none"])
        .args(["-o", "StrictHostKeyChecking=yes"])
        .args(["-o", "GlobalKnownHostsFile=/dev/null"])
        .args(["-o", "ConnectTimeout=10"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .arg("-o")
        .arg(format!("CertificateFile={}", cert.display()))
        .arg("-i")
        .arg(&key.private)
        .arg(format!("{login}@127.0.0.1"));
    command
}

fn read_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim_end()
        .to_owned()
}
