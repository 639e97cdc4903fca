//! Child processes for the peers: each runs in its own process group, so dropping the
//! handle ends the peer and anything it forked (sshd's per-connection children).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// A peer process that is killed, with its whole process group, on drop.
#[derive(Debug)]
pub struct GroupChild {
    child: Child,
}

impl GroupChild {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(mut command: Command) -> std::io::Result<GroupChild> {
        command.process_group(0);
        Ok(GroupChild {
            child: command.spawn()?,
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has ended.
    pub fn try_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Kills the process group and reaps the leader.
    pub fn kill(&mut self) {
        if self.try_exited().is_some() {
            return;
        }
        // `kill -KILL -- -PGID` reaches the leader's children too; std only signals the
        // leader. Using the kill(1) binary keeps this crate free of `unsafe`.
        let group = format!("-{}", self.child.id());
        let signalled = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .output()
            .is_ok_and(|out| out.status.success());
        if !signalled {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `command` to completion and panics, with its output, unless it succeeds.
pub fn run_ok(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed with {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it
/// held. The wait is on a condition, never a fixed sleep.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The variables that make `zt` believe it runs in a CI job (and so log in with a workload
/// identity when it has no session), and the inputs of its CI path. CI runners set `CI=true`
/// for the whole run, tests included; a test of a person's `zt` must not inherit them.
pub const CI_VARIABLES: &[&str] = &[
    "CI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "TF_BUILD",
    "JENKINS_URL",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ZT_ID_TOKEN",
    "ZT_ID_TOKEN_FILE",
    "ZT_CLIENT_ID",
    "ZT_CLIENT_SECRET",
    "ZT_CLIENT_SECRET_FILE",
    "ZT_CLIENT_ISSUER",
    "ZT_CLIENT_SCOPE",
];

/// Removes [`CI_VARIABLES`] from `command`'s environment; a test that wants a CI job sets
/// them again after this.
pub fn outside_ci(command: &mut Command) -> &mut Command {
    for name in CI_VARIABLES {
        command.env_remove(name);
    }
    command
}
