//! The one interface collectors read the machine through.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A machine as the collectors see it. Paths are absolute paths on that machine
/// (`/etc/os-release`); an implementation may serve them from elsewhere.
pub trait Machine {
    /// A file's bytes, or `None` when it is missing or unreadable.
    fn read(&self, path: &str) -> Option<Vec<u8>>;
    /// The names in a directory (not `.`/`..`), or none.
    fn list(&self, path: &str) -> Vec<String>;
    /// Whether a path exists.
    fn exists(&self, path: &str) -> bool;
    /// An environment variable of the user running zt.
    fn env(&self, name: &str) -> Option<String>;
    /// Run `program` with `args` (no shell) and return its standard output when it exits 0
    /// within a few seconds.
    fn run(&self, program: &str, args: &[&str]) -> Option<String>;

    /// A file as trimmed-free UTF-8 text (lossy).
    fn read_text(&self, path: &str) -> Option<String> {
        self.read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}

/// The real machine: files under `root` (`/` in production), this process's environment,
/// and real commands.
#[derive(Debug, Clone)]
pub struct RealMachine {
    root: PathBuf,
}

/// How long a posture command may run before it counts as no answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

impl RealMachine {
    /// The machine zt runs on.
    ///
    /// Debug builds (the test suite's) read the files under `ZT_POSTURE_ROOT` instead of `/`
    /// when it is set, so end-to-end tests can present a fake `/proc`, `/sys` and `/etc`.
    /// Release builds have no such switch: they always read the real machine.
    pub fn this() -> Self {
        #[cfg(debug_assertions)]
        if let Some(root) = std::env::var_os("ZT_POSTURE_ROOT") {
            return RealMachine { root: root.into() };
        }
        RealMachine { root: "/".into() }
    }

    /// Files under `root` (tests).
    pub fn rooted(root: impl Into<PathBuf>) -> Self {
        RealMachine { root: root.into() }
    }

    fn path(&self, path: &str) -> PathBuf {
        self.root.join(Path::new(path.trim_start_matches('/')))
    }
}

impl Machine for RealMachine {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(path)).ok()
    }

    fn list(&self, path: &str) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.path(path)) else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect()
    }

    fn exists(&self, path: &str) -> bool {
        self.path(path).exists()
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn run(&self, program: &str, args: &[&str]) -> Option<String> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let mut out = String::new();
                    child.stdout.take()?.read_to_string(&mut out).ok()?;
                    return status.success().then_some(out);
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    }
}

/// A machine made of fixed answers, for unit tests of the collectors.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct FakeMachine {
    pub files: std::collections::BTreeMap<String, Vec<u8>>,
    pub env: std::collections::BTreeMap<String, String>,
    /// `"program arg1 arg2"` → standard output.
    pub commands: std::collections::BTreeMap<String, String>,
}

#[cfg(test)]
impl FakeMachine {
    pub fn file(mut self, path: &str, content: impl AsRef<[u8]>) -> Self {
        self.files
            .insert(path.to_owned(), content.as_ref().to_vec());
        self
    }

    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn command(mut self, line: &str, stdout: &str) -> Self {
        self.commands.insert(line.to_owned(), stdout.to_owned());
        self
    }
}

#[cfg(test)]
impl Machine for FakeMachine {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.files.get(path).cloned()
    }

    fn list(&self, path: &str) -> Vec<String> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|p| p.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
            .collect();
        names.dedup();
        names
    }

    fn exists(&self, path: &str) -> bool {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.files.contains_key(path) || self.files.keys().any(|p| p.starts_with(&prefix))
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    fn run(&self, program: &str, args: &[&str]) -> Option<String> {
        let mut line = program.to_owned();
        for arg in args {
            line.push(' ');
            line.push_str(arg);
        }
        self.commands.get(&line).cloned()
    }
}
