//! Local device checks: what the machine says about itself, collected just before each
//! certificate request and re-checked before each connection.
//!
//! Every collector reads the machine through [`Machine`] (a root directory, the environment,
//! a command runner), so tests lay out a fake `/proc`, `/sys` and `/etc` for every state
//! while production reads the real machine. The parsers are pure functions over what was
//! read. Linux collectors run here; the macOS and Windows collectors are compiled for their
//! platforms, and their parsers are unit-tested on every platform against captured outputs.

mod linux;
mod machine;
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
mod macos;
#[cfg_attr(not(target_os = "windows"), allow(dead_code))]
mod windows;

pub use machine::{Machine, RealMachine};
pub use zt_core::posture::{Check, CheckResult, PostureReport, Status};

/// What a platform collector found, before zt adds its own version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `debian`, `ubuntu`, `fedora`, `macos`, `windows`.
    pub os_id: String,
    pub os_version: String,
    pub os_name: String,
    pub kernel: String,
    pub hostname: String,
    /// One result per check the platform can run.
    pub checks: Vec<CheckResult>,
    /// Names of the running processes.
    pub processes: Vec<String>,
}

/// Which parts of the report to collect: everything for a certificate request; only what a
/// certificate's requirements name for the check before a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub checks: Vec<Check>,
    pub processes: bool,
}

impl Scope {
    pub fn all() -> Self {
        Scope {
            checks: Check::ALL.to_vec(),
            processes: true,
        }
    }

    pub fn wants(&self, check: Check) -> bool {
        self.checks.contains(&check)
    }
}

/// The first non-empty line, trimmed.
#[cfg_attr(target_os = "linux", allow(dead_code))]
fn first_line(output: &str) -> Option<String> {
    output
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_owned)
}

/// A short, printable excerpt of output zt did not recognise, for evidence.
#[cfg_attr(target_os = "linux", allow(dead_code))]
fn excerpt(output: &str) -> String {
    let line = first_line(output).unwrap_or_default();
    let clean: String = line.chars().filter(|c| !c.is_control()).take(60).collect();
    format!("{clean:?}")
}

/// The report for this machine.
pub fn collect(machine: &dyn Machine, scope: &Scope) -> PostureReport {
    let facts = platform_facts(machine, scope);
    PostureReport {
        os: std::env::consts::OS.to_owned(),
        os_id: facts.os_id,
        os_version: facts.os_version,
        os_name: facts.os_name,
        kernel: facts.kernel,
        hostname: facts.hostname,
        zt_version: env!("CARGO_PKG_VERSION").to_owned(),
        checks: facts.checks,
        processes: facts.processes,
    }
}

#[cfg(target_os = "linux")]
fn platform_facts(machine: &dyn Machine, scope: &Scope) -> Facts {
    linux::collect(machine, scope)
}

#[cfg(target_os = "macos")]
fn platform_facts(machine: &dyn Machine, scope: &Scope) -> Facts {
    macos::collect(machine, scope)
}

#[cfg(target_os = "windows")]
fn platform_facts(machine: &dyn Machine, scope: &Scope) -> Facts {
    windows::collect(machine, scope)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_facts(_machine: &dyn Machine, scope: &Scope) -> Facts {
    Facts {
        os_id: std::env::consts::OS.to_owned(),
        checks: scope
            .checks
            .iter()
            .map(|c| {
                CheckResult::unknown(
                    *c,
                    "zt has no collector for this platform",
                    "use Linux, macOS or Windows",
                )
            })
            .collect(),
        ..Facts::default()
    }
}
