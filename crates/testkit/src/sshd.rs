//! A certificate-only Debian OpenSSH server on 127.0.0.1, one per test, from a state
//! directory of its own. The system's sshd is never started or touched.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::{GroupChild, run_ok, wait_until};

/// sshd refuses to run from a relative path (it re-executes itself).
pub const SSHD: &str = "/usr/sbin/sshd";

/// How long sshd may take to answer with its banner.
const BANNER_TIMEOUT: Duration = Duration::from_secs(10);

/// The login tests use on the target: whoever runs the tests (root in CI containers).
pub fn current_login() -> String {
    let output = run_ok(Command::new("id").arg("-un"));
    String::from_utf8(output.stdout)
        .expect("UTF-8 login name")
        .trim()
        .to_owned()
}

/// Configuration of one test sshd; [`start`](SshdBuilder::start) runs it.
pub struct SshdBuilder {
    state: tempfile::TempDir,
    host_certificate: bool,
    user_ca: bool,
    revoked_keys: Option<PathBuf>,
    extra_config: Vec<String>,
}

impl SshdBuilder {
    /// A state directory under /tmp (mode 0755: sshd reads the principals files as the
    /// target user) with a fresh Ed25519 host key.
    pub fn new() -> SshdBuilder {
        let state = tempfile::Builder::new()
            .prefix("zt-sshd-")
            .tempdir_in("/tmp")
            .expect("create the sshd state directory");
        fs::set_permissions(state.path(), fs::Permissions::from_mode(0o755))
            .expect("chmod 0755 the sshd state directory");
        fs::create_dir(state.path().join("principals")).expect("create principals/");
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "zt-test-sshd", "-f"])
                .arg(state.path().join("ssh_host_ed25519_key")),
        );
        SshdBuilder {
            state,
            host_certificate: false,
            user_ca: false,
            revoked_keys: None,
            extra_config: Vec::new(),
        }
    }

    /// The state directory (config, keys, principals, log).
    pub fn dir(&self) -> &Path {
        self.state.path()
    }

    /// The host public key line, e.g. to sign a host certificate for it.
    pub fn host_public_key(&self) -> String {
        fs::read_to_string(self.dir().join("ssh_host_ed25519_key.pub"))
            .expect("read the host public key")
            .trim_end()
            .to_owned()
    }

    /// Serves `cert_openssh` (an `ssh-ed25519-cert-v01@openssh.com …` line for
    /// [`host_public_key`](Self::host_public_key)) as `HostCertificate`.
    pub fn host_certificate(mut self, cert_openssh: &str) -> SshdBuilder {
        let path = self.dir().join("ssh_host_ed25519_key-cert.pub");
        fs::write(path, format!("{}\n", cert_openssh.trim_end())).expect("write host cert");
        self.host_certificate = true;
        self
    }

    /// Trusts user CA `pubkey_line` (`TrustedUserCAKeys`); may be called more than once.
    pub fn user_ca(mut self, pubkey_line: &str) -> SshdBuilder {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join("user_ca_keys"))
            .expect("open user_ca_keys");
        writeln!(file, "{}", pubkey_line.trim_end()).expect("write user_ca_keys");
        self.user_ca = true;
        self
    }

    /// Lets certificates with any of `principals` log in as `login`
    /// (`AuthorizedPrincipalsFile <dir>/principals/%u`).
    pub fn principals(self, login: &str, principals: &[&str]) -> SshdBuilder {
        write_principals(self.dir(), login, principals);
        self
    }

    /// `RevokedKeys path` (a KRL or key list). sshd re-reads it on every authentication,
    /// so a test may change it while sshd runs.
    pub fn revoked_keys(mut self, path: impl AsRef<Path>) -> SshdBuilder {
        self.revoked_keys = Some(path.as_ref().to_owned());
        self
    }

    /// Appends a raw `sshd_config` line, for settings this builder has no method for.
    pub fn config_line(mut self, line: &str) -> SshdBuilder {
        self.extra_config.push(line.to_owned());
        self
    }

    fn config(&self) -> String {
        let dir = self.dir().display();
        let mut config = format!(
            "# Written by the zt test harness (crates/testkit/src/sshd.rs).
ListenAddress 127.0.0.1
HostKey {dir}/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile none
AuthorizedPrincipalsFile {dir}/principals/%u
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
LogLevel VERBOSE
ExposeAuthInfo yes
"
        );
        if self.host_certificate {
            let _ = writeln!(
                config,
                "HostCertificate {dir}/ssh_host_ed25519_key-cert.pub"
            );
        }
        if self.user_ca {
            let _ = writeln!(config, "TrustedUserCAKeys {dir}/user_ca_keys");
        }
        if let Some(krl) = &self.revoked_keys {
            let _ = writeln!(config, "RevokedKeys {}", krl.display());
        }
        for line in &self.extra_config {
            let _ = writeln!(config, "{line}");
        }
        config
    }

    /// Writes the config, starts sshd on a free port and waits for its SSH banner.
    /// A port taken in the meantime is retried with another one.
    pub fn start(self) -> TestSshd {
        let config_path = self.dir().join("sshd_config");
        fs::write(&config_path, self.config()).expect("write sshd_config");
        ensure_privsep_dir();
        let log_path = self.dir().join("sshd.log");
        let stderr_path = self.dir().join("sshd.stderr");

        let mut last_failure = String::new();
        for _attempt in 0..3 {
            let port = super::free_port();
            let mut command = Command::new(SSHD);
            command
                .args(["-D", "-e", "-f"])
                .arg(&config_path)
                .args(["-p", &port.to_string(), "-E"])
                .arg(&log_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(&stderr_path).expect("create sshd.stderr"));
            let mut child = GroupChild::spawn(command).expect("spawn sshd");
            if wait_until(BANNER_TIMEOUT, || {
                answers_banner(port) || child.try_exited().is_some()
            }) && child.try_exited().is_none()
            {
                return TestSshd {
                    port,
                    dir: self.dir().to_owned(),
                    child,
                    _state: self.state,
                };
            }
            child.kill();
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            last_failure = format!("port {port}; log:\n{log}\nstderr:\n{stderr}");
            if !(log.contains("Bind to port") || log.contains("Address already in use")) {
                break;
            }
        }
        panic!("test sshd did not start: {last_failure}");
    }
}

impl Default for SshdBuilder {
    fn default() -> Self {
        SshdBuilder::new()
    }
}

/// A running test sshd; dropping it kills sshd and its session processes and removes
/// the state directory.
pub struct TestSshd {
    pub port: u16,
    pub dir: PathBuf,
    // Declared before `_state` so sshd dies before its directory is removed.
    child: GroupChild,
    _state: tempfile::TempDir,
}

impl TestSshd {
    /// sshd's log so far (`-E`, LogLevel VERBOSE: key ID, serial and CA of each login).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// Waits until the log contains `needle`; returns whether it appeared in time.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log().contains(needle))
    }

    /// Replaces the principals `login` accepts; sshd reads the file on each login.
    pub fn set_principals(&self, login: &str, principals: &[&str]) {
        write_principals(&self.dir, login, principals);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn write_principals(dir: &Path, login: &str, principals: &[&str]) {
    let path = dir.join("principals").join(login);
    let mut text = principals.join("\n");
    text.push('\n');
    fs::write(&path, text).expect("write the principals file");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod principals");
}

/// Whether 127.0.0.1:`port` answers with an SSH identification string.
fn answers_banner(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut banner = [0u8; 8];
    stream.read_exact(&mut banner).is_ok() && banner.starts_with(b"SSH-2.0-")
}

/// Debian's sshd, started as root, insists on its privilege-separation directory
/// `/run/sshd`, which normally only the system service creates. Creating the empty
/// directory does not start or change the system sshd.
fn ensure_privsep_dir() {
    let privsep = Path::new("/run/sshd");
    if privsep.is_dir() {
        return;
    }
    let is_root = run_ok(Command::new("id").arg("-u")).stdout.trim_ascii() == b"0";
    if is_root {
        fs::create_dir_all(privsep).expect("create /run/sshd");
        fs::set_permissions(privsep, fs::Permissions::from_mode(0o755)).expect("chmod /run/sshd");
    }
}
