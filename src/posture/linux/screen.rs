//! Screen lock: where a desktop session exists, the screen must lock by itself within
//! [`MAX_LOCK_SECS`] of idling. GNOME is read through `gsettings`, KDE from
//! `kscreenlockerrc`; a machine without a desktop has no screen to lock.

use super::{Check, Machine, config_value};
use crate::posture::CheckResult;

/// The longest idle time (plus lock delay) that counts as locking.
pub const MAX_LOCK_SECS: u64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Desktop {
    Gnome,
    Kde,
    Other,
    None,
}

fn desktop(machine: &dyn Machine, processes: &[String]) -> Desktop {
    let running = |name: &str| processes.iter().any(|p| p == name);
    let named = machine
        .env("XDG_CURRENT_DESKTOP")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if named.contains("gnome") || named.contains("unity") || running("gnome-shell") {
        Desktop::Gnome
    } else if named.contains("kde") || running("plasmashell") {
        Desktop::Kde
    } else if !named.is_empty() {
        Desktop::Other
    } else {
        Desktop::None
    }
}

pub(super) fn check(machine: &dyn Machine, processes: &[String]) -> CheckResult {
    match desktop(machine, processes) {
        Desktop::None => CheckResult::pass(
            Check::ScreenLock,
            "no desktop session on this machine: no screen to lock",
        ),
        Desktop::Gnome => gnome(machine),
        Desktop::Kde => kde(machine),
        Desktop::Other => CheckResult::unknown(
            Check::ScreenLock,
            format!(
                "zt reads the screen lock of GNOME and KDE only, not of {}",
                machine.env("XDG_CURRENT_DESKTOP").unwrap_or_default()
            ),
            "lock the screen automatically after at most 15 minutes",
        ),
    }
}

fn gnome(machine: &dyn Machine) -> CheckResult {
    let get = |schema: &str, key: &str| machine.run("gsettings", &["get", schema, key]);
    let (Some(enabled), Some(idle)) = (
        get("org.gnome.desktop.screensaver", "lock-enabled"),
        get("org.gnome.desktop.session", "idle-delay"),
    ) else {
        return CheckResult::unknown(
            Check::ScreenLock,
            "GNOME desktop, but `gsettings` did not answer",
            "install gsettings (libglib2.0-bin)",
        );
    };
    let lock_delay = get("org.gnome.desktop.screensaver", "lock-delay")
        .and_then(|d| gvariant_uint(&d))
        .unwrap_or(0);
    judge(
        enabled.trim() == "true",
        gvariant_uint(&idle),
        lock_delay,
        "GNOME",
        "Settings > Privacy > Screen Lock: turn on Automatic Screen Lock, blank after at most 15 minutes",
    )
}

/// `uint32 300` (or a bare `300`) → 300.
pub(super) fn gvariant_uint(text: &str) -> Option<u64> {
    text.split_whitespace().last()?.parse().ok()
}

fn kde(machine: &dyn Machine) -> CheckResult {
    let config_home = machine.env("XDG_CONFIG_HOME").or_else(|| {
        machine
            .env("HOME")
            .map(|home| format!("{}/.config", home.trim_end_matches('/')))
    });
    let text = config_home
        .and_then(|dir| machine.read_text(&format!("{dir}/kscreenlockerrc")))
        .unwrap_or_default();
    // KDE's defaults: lock automatically, after 5 minutes.
    let enabled = config_value(&text, "Autolock").is_none_or(|v| v != "false");
    let idle = config_value(&text, "Timeout")
        .map_or(Some(5), |v| v.parse::<u64>().ok())
        .map(|minutes| minutes * 60);
    let grace = config_value(&text, "LockGrace")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(5);
    judge(
        enabled,
        idle,
        grace,
        "KDE",
        "System Settings > Screen Locking: lock automatically after at most 15 minutes",
    )
}

fn judge(enabled: bool, idle: Option<u64>, delay: u64, desktop: &str, fix: &str) -> CheckResult {
    match idle {
        _ if !enabled => CheckResult::fail(
            Check::ScreenLock,
            format!("{desktop} screen lock is turned off"),
            fix,
        ),
        None => CheckResult::unknown(
            Check::ScreenLock,
            format!("{desktop} idle delay is unreadable"),
            fix,
        ),
        Some(0) => CheckResult::fail(
            Check::ScreenLock,
            format!("{desktop} never blanks the screen when idle"),
            fix,
        ),
        Some(idle) if idle + delay > MAX_LOCK_SECS => CheckResult::fail(
            Check::ScreenLock,
            format!(
                "{desktop} locks after {} s idle, more than {MAX_LOCK_SECS} s",
                idle + delay
            ),
            fix,
        ),
        Some(idle) => CheckResult::pass(
            Check::ScreenLock,
            format!("{desktop} locks after {} s idle", idle + delay),
        ),
    }
}
