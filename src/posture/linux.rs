//! Linux: os-release, the kernel, and each check read from `/proc`, `/sys` and `/etc`
//! (plus `gsettings` for GNOME's screen lock). Nothing here needs root: what only root can
//! read (the packet filter's rules) is reported as unknown, never guessed.

mod disk;
mod screen;
mod system;
#[cfg(test)]
mod tests;

use super::{Check, Facts, Machine, Scope};

pub fn collect(machine: &dyn Machine, scope: &Scope) -> Facts {
    let release = machine
        .read_text("/etc/os-release")
        .or_else(|| machine.read_text("/usr/lib/os-release"))
        .unwrap_or_default();
    let field = |name| os_release_field(&release, name).unwrap_or_default();
    let processes = if scope.processes || scope.wants(Check::ScreenLock) {
        system::processes(machine)
    } else {
        Vec::new()
    };
    let mut checks = Vec::new();
    for check in &scope.checks {
        checks.push(match check {
            Check::DiskEncryption => disk::check(machine),
            Check::Firewall => system::firewall(machine, &processes),
            Check::SecureBoot => system::secure_boot(machine),
            Check::ScreenLock => screen::check(machine, &processes),
            Check::AutoUpdates => system::auto_updates(machine),
        });
    }
    Facts {
        os_id: field("ID"),
        os_version: field("VERSION_ID"),
        os_name: field("PRETTY_NAME"),
        kernel: first_line(machine, "/proc/sys/kernel/osrelease"),
        hostname: first_line(machine, "/proc/sys/kernel/hostname"),
        checks,
        processes: if scope.processes {
            processes
        } else {
            Vec::new()
        },
    }
}

fn first_line(machine: &dyn Machine, path: &str) -> String {
    machine
        .read_text(path)
        .and_then(|t| t.lines().next().map(|l| l.trim().to_owned()))
        .unwrap_or_default()
}

/// One field of os-release(5): `KEY=value`, `KEY="value"` or `KEY='value'`, control
/// characters dropped.
pub(super) fn os_release_field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.trim().strip_prefix(name)?.strip_prefix('=')?;
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        Some(value.chars().filter(|c| !c.is_control()).collect())
    })
}

/// The value of `key` in simple `KEY=value` configuration text (shell-style defaults files,
/// INI sections ignored); the last assignment wins, comments are skipped.
pub(super) fn config_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').trim_matches('\'').to_owned())
        })
        .next_back()
}
