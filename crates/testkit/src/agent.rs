//! OpenSSH's own `ssh-agent`, in debug mode (`-d`): it stays in the foreground, serves
//! one socket, and logs each added key with its lifetime constraint to stderr.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::{GroupChild, wait_until};

pub struct TestAgent {
    pub socket: PathBuf,
    log: PathBuf,
    _child: GroupChild,
    _dir: tempfile::TempDir,
}

impl TestAgent {
    pub fn start() -> TestAgent {
        let dir = super::tempdir();
        let socket = dir.path().join("agent.sock");
        let log = dir.path().join("agent.log");
        let mut command = Command::new("ssh-agent");
        command
            .arg("-d")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create agent.log"));
        let child = GroupChild::spawn(command).expect("spawn ssh-agent");
        assert!(
            wait_until(Duration::from_secs(10), || socket.exists()),
            "ssh-agent did not create its socket; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        TestAgent {
            socket,
            log,
            _child: child,
            _dir: dir,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `ssh-add -L`: the public lines (keys and certificates) the agent holds.
    pub fn list(&self) -> Vec<String> {
        let out = Command::new("ssh-add")
            .arg("-L")
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .expect("run ssh-add -L");
        // Exit 1 with "The agent has no identities." is an empty agent.
        if !out.status.success() {
            return Vec::new();
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .collect()
    }
}
