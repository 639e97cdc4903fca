//! Firewall, Secure Boot, automatic updates and the process list, as a normal user can read
//! them.

use super::{Check, Machine, config_value};
use crate::posture::CheckResult;

/// The EFI global variable that holds the Secure Boot state.
const SECURE_BOOT_VAR: &str =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e39a5b5a5b5b";

/// Names of the running processes (`/proc/<pid>/comm`, which the kernel cuts at 15
/// characters), sorted, without repeats.
pub(super) fn processes(machine: &dyn Machine) -> Vec<String> {
    let mut names: Vec<String> = machine
        .list("/proc")
        .into_iter()
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|pid| machine.read_text(&format!("/proc/{pid}/comm")))
        .map(|comm| comm.trim_end_matches('\n').to_owned())
        .filter(|comm| !comm.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

pub(super) fn firewall(machine: &dyn Machine, processes: &[String]) -> CheckResult {
    if let Some(conf) = machine.read_text("/etc/ufw/ufw.conf") {
        let enabled = config_value(&conf, "ENABLED").is_some_and(|v| v == "yes");
        if !enabled {
            return CheckResult::fail(
                Check::Firewall,
                "ufw is installed but not enabled",
                "sudo ufw enable",
            );
        }
        let policy = machine
            .read_text("/etc/default/ufw")
            .and_then(|d| config_value(&d, "DEFAULT_INPUT_POLICY"))
            .unwrap_or_else(|| "DROP".into());
        return if policy == "DROP" || policy == "REJECT" {
            CheckResult::pass(
                Check::Firewall,
                format!("ufw is enabled with inbound policy {policy}"),
            )
        } else {
            CheckResult::fail(
                Check::Firewall,
                format!("ufw is enabled but its inbound policy is {policy}"),
                "sudo ufw default deny incoming",
            )
        };
    }
    if let Some(conf) = machine.read_text("/etc/firewalld/firewalld.conf") {
        if !processes.iter().any(|p| p == "firewalld") {
            return CheckResult::fail(
                Check::Firewall,
                "firewalld is installed but not running",
                "sudo systemctl enable --now firewalld",
            );
        }
        let zone = config_value(&conf, "DefaultZone").unwrap_or_else(|| "public".into());
        return if zone == "trusted" {
            CheckResult::fail(
                Check::Firewall,
                "firewalld's default zone is \"trusted\", which accepts all inbound traffic",
                "sudo firewall-cmd --set-default-zone=public",
            )
        } else {
            CheckResult::pass(
                Check::Firewall,
                format!("firewalld is running with default zone {zone:?}"),
            )
        };
    }
    CheckResult::unknown(
        Check::Firewall,
        "neither ufw nor firewalld is configured, and other packet-filter rules need root to read",
        "enable ufw (`sudo ufw enable`) or firewalld",
    )
}

pub(super) fn secure_boot(machine: &dyn Machine) -> CheckResult {
    const FIX: &str = "enable Secure Boot in the firmware settings";
    if let Some(bytes) = machine.read(SECURE_BOOT_VAR) {
        // Four bytes of attributes, then the value.
        return match bytes.get(4) {
            Some(1) => CheckResult::pass(Check::SecureBoot, "Secure Boot is enabled"),
            Some(0) => CheckResult::fail(Check::SecureBoot, "Secure Boot is disabled", FIX),
            _ => CheckResult::unknown(
                Check::SecureBoot,
                "the SecureBoot EFI variable has an unexpected value",
                FIX,
            ),
        };
    }
    if machine.exists("/sys/firmware/efi") {
        return CheckResult::unknown(
            Check::SecureBoot,
            "booted with UEFI, but the SecureBoot variable is not readable",
            "mount efivarfs at /sys/firmware/efi/efivars",
        );
    }
    if machine.exists("/sys/firmware") {
        return CheckResult::fail(
            Check::SecureBoot,
            "booted in legacy BIOS mode, which has no Secure Boot",
            "boot in UEFI mode with Secure Boot enabled",
        );
    }
    CheckResult::unknown(
        Check::SecureBoot,
        "/sys/firmware is not visible (a container?)",
        "run zt on the host itself",
    )
}

pub(super) fn auto_updates(machine: &dyn Machine) -> CheckResult {
    if machine.exists("/etc/apt/apt.conf.d") {
        return apt(machine);
    }
    if machine.exists("/etc/dnf") {
        return dnf(machine);
    }
    CheckResult::unknown(
        Check::AutoUpdates,
        "no apt or dnf here: zt checks unattended-upgrades and dnf-automatic",
        "turn on automatic security updates",
    )
}

fn apt(machine: &dyn Machine) -> CheckResult {
    const FIX: &str =
        "sudo apt install unattended-upgrades && sudo dpkg-reconfigure -plow unattended-upgrades";
    let mut files = machine.list("/etc/apt/apt.conf.d");
    files.sort();
    let mut setting = None;
    for file in files {
        let Some(text) = machine.read_text(&format!("/etc/apt/apt.conf.d/{file}")) else {
            continue;
        };
        if let Some(value) = apt_value(&text, "APT::Periodic::Unattended-Upgrade") {
            setting = Some((value, file));
        }
    }
    let installed = machine.exists("/usr/bin/unattended-upgrade");
    match setting {
        _ if !installed => CheckResult::fail(
            Check::AutoUpdates,
            "unattended-upgrades is not installed",
            FIX,
        ),
        Some((value, file)) if value != "0" && !value.is_empty() => CheckResult::pass(
            Check::AutoUpdates,
            format!("unattended-upgrades runs every {value} day(s) ({file})"),
        ),
        Some((_, file)) => CheckResult::fail(
            Check::AutoUpdates,
            format!("unattended-upgrades is turned off in {file}"),
            FIX,
        ),
        None => CheckResult::fail(
            Check::AutoUpdates,
            "APT::Periodic::Unattended-Upgrade is not set",
            FIX,
        ),
    }
}

/// `Name "value";` in apt.conf syntax (the flat form; the last one wins).
pub(super) fn apt_value(text: &str, name: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?.trim_start();
            let value = rest.strip_prefix('"')?.split('"').next()?;
            Some(value.to_owned())
        })
        .next_back()
}

fn dnf(machine: &dyn Machine) -> CheckResult {
    const FIX: &str =
        "sudo dnf install dnf-automatic && sudo systemctl enable --now dnf-automatic-install.timer";
    let wants = "/etc/systemd/system/timers.target.wants";
    let install_timer = [
        "dnf-automatic-install.timer",
        "dnf5-automatic-install.timer",
    ]
    .iter()
    .find(|t| machine.exists(&format!("{wants}/{t}")));
    if let Some(timer) = install_timer {
        return CheckResult::pass(Check::AutoUpdates, format!("{timer} is enabled"));
    }
    let timer = ["dnf-automatic.timer", "dnf5-automatic.timer"]
        .iter()
        .find(|t| machine.exists(&format!("{wants}/{t}")));
    let Some(timer) = timer else {
        return CheckResult::fail(Check::AutoUpdates, "no dnf-automatic timer is enabled", FIX);
    };
    let applies = [
        "/etc/dnf/automatic.conf",
        "/etc/dnf/dnf5-plugins/automatic.conf",
    ]
    .iter()
    .filter_map(|p| machine.read_text(p))
    .filter_map(|text| config_value(&text, "apply_updates"))
    .next_back()
    .is_some_and(|v| matches!(v.as_str(), "yes" | "true" | "1" | "on"));
    if applies {
        CheckResult::pass(
            Check::AutoUpdates,
            format!("{timer} is enabled and applies updates"),
        )
    } else {
        CheckResult::fail(
            Check::AutoUpdates,
            format!("{timer} downloads updates but does not apply them (apply_updates = no)"),
            "set apply_updates = yes in /etc/dnf/automatic.conf",
        )
    }
}
