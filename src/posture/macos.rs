//! The macOS collector: FileVault, the application firewall, System Integrity Protection, the
//! screen-lock delay and Software Update, read from the commands Apple ships. Each command's
//! output goes through a pure parser below, tested against captured outputs.

use super::{Check, CheckResult, Facts, Machine, Scope, excerpt, first_line};

/// The longest wait between the screen saver or display sleep and the password prompt that
/// still passes: 15 minutes.
const MAX_LOCK_DELAY_SECS: u64 = 900;

const FIX_FILEVAULT: &str = "turn on FileVault in System Settings > Privacy & Security";
const FIX_FIREWALL: &str = "turn on the firewall in System Settings > Network > Firewall";
const FIX_SIP: &str = "start up in Recovery, run `csrutil enable` in Terminal and restart";
const FIX_SCREEN_LOCK: &str = "in System Settings > Lock Screen, require a password 15 minutes or less after the screen saver begins or the display turns off";
const FIX_UPDATES: &str = "in System Settings > General > Software Update > Automatic Updates, turn on checking for updates and installing Security Responses and system files";

/// The facts for this Mac: what `scope` asks for, nothing more.
pub fn collect(machine: &dyn Machine, scope: &Scope) -> Facts {
    let os_version = machine
        .run("sw_vers", &["-productVersion"])
        .and_then(|out| parse_product_version(&out));
    let hostname = machine
        .run("scutil", &["--get", "LocalHostName"])
        .and_then(|out| first_line(&out))
        .or_else(|| {
            machine
                .run("hostname", &[])
                .and_then(|out| first_line(&out))
        });
    Facts {
        os_id: "macos".to_owned(),
        os_name: os_name(os_version.as_deref()),
        os_version: os_version.unwrap_or_default(),
        kernel: machine
            .run("uname", &["-r"])
            .and_then(|out| first_line(&out))
            .unwrap_or_default(),
        hostname: hostname.unwrap_or_default(),
        checks: Check::ALL
            .into_iter()
            .filter(|check| scope.wants(*check))
            .map(|check| run_check(machine, check))
            .collect(),
        processes: if scope.processes {
            machine
                .run("ps", &["-axco", "comm"])
                .map(|out| parse_ps(&out))
                .unwrap_or_default()
        } else {
            Vec::new()
        },
    }
}

/// Run one check's commands and read their answers.
fn run_check(machine: &dyn Machine, check: Check) -> CheckResult {
    match check {
        Check::DiskEncryption => machine.run("fdesetup", &["status"]).map_or_else(
            || silent(check, "fdesetup status", FIX_FILEVAULT),
            |out| parse_fdesetup(&out),
        ),
        Check::Firewall => machine
            .run(
                "/usr/libexec/ApplicationFirewall/socketfilterfw",
                &["--getglobalstate"],
            )
            .map_or_else(
                || silent(check, "socketfilterfw --getglobalstate", FIX_FIREWALL),
                |out| parse_socketfilterfw(&out),
            ),
        Check::SecureBoot => machine.run("csrutil", &["status"]).map_or_else(
            || silent(check, "csrutil status", FIX_SIP),
            |out| parse_csrutil(&out),
        ),
        // sysadminctl logs its answer on standard error, and `Machine::run` keeps standard
        // output only; the shell line is fixed, nothing in it comes from outside.
        Check::ScreenLock => machine
            .run("/bin/sh", &["-c", "sysadminctl -screenLock status 2>&1"])
            .map_or_else(
                || silent(check, "sysadminctl -screenLock status", FIX_SCREEN_LOCK),
                |out| parse_screen_lock(&out),
            ),
        Check::AutoUpdates => {
            let read = |key| {
                machine.run(
                    "defaults",
                    &["read", "/Library/Preferences/com.apple.SoftwareUpdate", key],
                )
            };
            auto_updates(
                read("AutomaticCheckEnabled").as_deref(),
                read("CriticalUpdateInstall").as_deref(),
            )
        }
    }
}

/// The result when a command gave no answer (missing, failed or too slow).
fn silent(check: Check, command: &str, fix: &str) -> CheckResult {
    CheckResult::unknown(check, format!("`{command}` did not answer"), fix)
}

/// `sw_vers -productVersion`: `14.5`, `15.0.1`.
fn parse_product_version(output: &str) -> Option<String> {
    let version = first_line(output)?;
    let numeric = version
        .split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    numeric.then_some(version)
}

/// `macOS 14.5`, or plain `macOS` when the version is unknown.
fn os_name(version: Option<&str>) -> String {
    match version {
        Some(version) => format!("macOS {version}"),
        None => "macOS".to_owned(),
    }
}

/// `fdesetup status`: on and finished passes; off, still encrypting or decrypting fails.
fn parse_fdesetup(output: &str) -> CheckResult {
    let check = Check::DiskEncryption;
    let lines: Vec<&str> = output.lines().map(str::trim).collect();
    let on = lines.iter().any(|l| l.starts_with("FileVault is On"));
    let off = lines.iter().any(|l| l.starts_with("FileVault is Off"));
    let progress = |word: &str| lines.iter().find(|l| l.starts_with(word)).copied();
    if let Some(line) = progress("Decryption") {
        return CheckResult::fail(
            check,
            format!("FileVault is being turned off ({line})"),
            FIX_FILEVAULT,
        );
    }
    if let Some(line) = progress("Encryption") {
        return CheckResult::fail(
            check,
            format!("FileVault has not finished encrypting the disk ({line})"),
            "keep the Mac awake and plugged in until FileVault finishes encrypting",
        );
    }
    match (on, off) {
        (true, false) => CheckResult::pass(check, "FileVault is on"),
        (false, true) => CheckResult::fail(check, "FileVault is off", FIX_FILEVAULT),
        _ => CheckResult::unknown(
            check,
            format!("unrecognised `fdesetup status` output: {}", excerpt(output)),
            FIX_FILEVAULT,
        ),
    }
}

/// `socketfilterfw --getglobalstate`: `Firewall is enabled. (State = 1)`; state 2 blocks all
/// incoming connections; state 0 is off.
fn parse_socketfilterfw(output: &str) -> CheckResult {
    let check = Check::Firewall;
    let state = output
        .split_once("(State = ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .and_then(|(number, _)| number.trim().parse::<u8>().ok());
    match state {
        Some(1) => CheckResult::pass(check, "the application firewall is on"),
        Some(2) => CheckResult::pass(
            check,
            "the application firewall is on and blocks all incoming connections",
        ),
        Some(0) => CheckResult::fail(check, "the application firewall is off", FIX_FIREWALL),
        _ => CheckResult::unknown(
            check,
            format!("unrecognised `socketfilterfw` output: {}", excerpt(output)),
            FIX_FIREWALL,
        ),
    }
}

/// `csrutil status`: only a plain `enabled.` passes; a custom configuration has parts of
/// System Integrity Protection turned off.
fn parse_csrutil(output: &str) -> CheckResult {
    let check = Check::SecureBoot;
    let status = output.lines().find_map(|line| {
        let (_, rest) = line.split_once("System Integrity Protection status:")?;
        Some(rest.trim().trim_end_matches('.'))
    });
    match status {
        Some("enabled") => CheckResult::pass(check, "System Integrity Protection is on"),
        Some("disabled") => CheckResult::fail(check, "System Integrity Protection is off", FIX_SIP),
        Some(s) if s.contains("Custom Configuration") => CheckResult::fail(
            check,
            "System Integrity Protection is partly off (custom configuration)",
            FIX_SIP,
        ),
        _ => CheckResult::unknown(
            check,
            format!("unrecognised `csrutil status` output: {}", excerpt(output)),
            FIX_SIP,
        ),
    }
}

/// What `sysadminctl -screenLock status` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScreenLock {
    Off,
    /// Seconds between the screen saver or display sleep and the password prompt.
    After(u64),
}

/// The screen-lock setting in `sysadminctl` output, after its log prefix
/// (`2024-05-01 10:00:00.000 sysadminctl[123:456] screenLock delay is 300 seconds`).
fn screen_lock_setting(output: &str) -> Option<ScreenLock> {
    output.lines().find_map(|line| {
        let at = line.find("screenLock ")?;
        let rest = line[at + "screenLock ".len()..].trim();
        if rest == "is off" {
            return Some(ScreenLock::Off);
        }
        let delay = rest.strip_prefix("delay is ")?;
        if delay == "immediate" {
            return Some(ScreenLock::After(0));
        }
        // `-1 seconds` (sometimes `-1.000000 seconds`) is how some versions say off.
        if delay.starts_with('-') {
            return Some(ScreenLock::Off);
        }
        let digits: String = delay.chars().take_while(char::is_ascii_digit).collect();
        let unit =
            delay[digits.len()..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
        match unit.trim() {
            "seconds" | "second" => digits.parse().ok().map(ScreenLock::After),
            _ => None,
        }
    })
}

/// `sysadminctl -screenLock status`: a password within [`MAX_LOCK_DELAY_SECS`] passes.
fn parse_screen_lock(output: &str) -> CheckResult {
    let check = Check::ScreenLock;
    match screen_lock_setting(output) {
        Some(ScreenLock::After(0)) => CheckResult::pass(
            check,
            "the screen locks as soon as the screen saver or sleep starts",
        ),
        Some(ScreenLock::After(secs)) if secs <= MAX_LOCK_DELAY_SECS => CheckResult::pass(
            check,
            format!("the screen locks {secs} seconds after the screen saver or sleep starts"),
        ),
        Some(ScreenLock::After(secs)) => CheckResult::fail(
            check,
            format!(
                "the screen locks only {secs} seconds after the screen saver or sleep starts (at most {MAX_LOCK_DELAY_SECS} allowed)"
            ),
            FIX_SCREEN_LOCK,
        ),
        Some(ScreenLock::Off) => CheckResult::fail(
            check,
            "no password is required after the screen saver or sleep",
            FIX_SCREEN_LOCK,
        ),
        None => CheckResult::unknown(
            check,
            format!(
                "unrecognised `sysadminctl -screenLock status` output: {}",
                excerpt(output)
            ),
            FIX_SCREEN_LOCK,
        ),
    }
}

/// One Software Update preference as `defaults read` prints a boolean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pref {
    On,
    Off,
    /// The key is not set: macOS uses its default, which is on.
    Default,
    Odd,
}

/// What `defaults read … KEY` printed, or `None` when it failed. `defaults` ships with every
/// macOS, so a failure means the key is unset, and an unset key is the default (on).
fn parse_pref(output: Option<&str>) -> Pref {
    match output.map(str::trim) {
        None => Pref::Default,
        Some("1") => Pref::On,
        Some("0") => Pref::Off,
        Some(_) => Pref::Odd,
    }
}

/// Automatic updates pass when both update checks (`AutomaticCheckEnabled`) and the
/// automatic install of security responses (`CriticalUpdateInstall`) are on or default.
fn auto_updates(check_enabled: Option<&str>, critical_install: Option<&str>) -> CheckResult {
    let check = Check::AutoUpdates;
    let prefs = [
        ("checking for updates", parse_pref(check_enabled)),
        ("installing security updates", parse_pref(critical_install)),
    ];
    let off: Vec<&str> = prefs
        .iter()
        .filter(|(_, p)| *p == Pref::Off)
        .map(|(n, _)| *n)
        .collect();
    if !off.is_empty() {
        return CheckResult::fail(
            check,
            format!("automatic {} is off", off.join(" and ")),
            FIX_UPDATES,
        );
    }
    if prefs.iter().any(|(_, p)| *p == Pref::Odd) {
        return CheckResult::unknown(
            check,
            "unrecognised Software Update settings in `defaults read`",
            FIX_UPDATES,
        );
    }
    let describe = |pref: Pref| {
        if pref == Pref::Default {
            "default (on)"
        } else {
            "on"
        }
    };
    CheckResult::pass(
        check,
        format!(
            "automatic {}: {}; automatic {}: {}",
            prefs[0].0,
            describe(prefs[0].1),
            prefs[1].0,
            describe(prefs[1].1)
        ),
    )
}

/// `ps -axco comm`: one executable name a line under a `COMM` header; sorted, once each.
fn parse_ps(output: &str) -> Vec<String> {
    let mut lines = output.lines().map(str::trim).peekable();
    if lines.peek() == Some(&"COMM") {
        lines.next();
    }
    let mut names: Vec<String> = lines
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests;
