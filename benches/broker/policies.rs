//! The two policies the bench runs, and the compliant posture report it sends.

use zt_core::posture::{Check, CheckResult, PostureReport};

/// Whether the broker's policy checks device posture for the bench's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posture {
    Off,
    On,
}

impl Posture {
    pub fn label(self) -> &'static str {
        match self {
            Posture::Off => "posture off",
            Posture::On => "posture on",
        }
    }

    pub fn dir(self) -> &'static str {
        match self {
            Posture::Off => "posture-off",
            Posture::On => "posture-on",
        }
    }
}

/// What the "posture on" rule requires, in the order the broker reports what passed.
const REQUIRE_POSTURE: &str = r#"require.posture.disk_encryption = true
require.posture.firewall = true
require.posture.screen_lock = true
require.posture.min_os = { debian = "12", ubuntu = "22.04", fedora = "40" }
require.posture.min_zt = "0.1.0"
require.posture.processes = ["osqueryd"]
"#;
pub const PASSED: [&str; 6] = [
    "disk_encryption",
    "firewall",
    "screen_lock",
    "min_os",
    "min_zt",
    "process:osqueryd",
];

/// The starter policy of `zt-broker dev` (crates/broker/src/cli/init.rs), with the `sre` rule
/// (alice's group at the dev IdP) at `ttl = "15m"`: a posture rule caps certificates at its
/// `posture_ttl` (15 min by default), so both brokers issue certificates alike but for the
/// `posture@zt.dev` extension.
pub fn policy(posture: Posture) -> String {
    let require = match posture {
        Posture::Off => "",
        Posture::On => REQUIRE_POSTURE,
    };
    format!(
        r#"# zt-broker policy written by benches/broker ({label}).

[defaults]
ttl = "1h"
max_ttl = "8h"

[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops"]
extensions = ["permit-pty", "permit-port-forwarding"]
ttl = "15m"
{require}
[[rules]]
name = "developers"
match.groups = ["dev"]
principals = ["dev"]
ttl = "30m"
max_ttl = "2h"
"#,
        label = posture.label()
    )
}

/// A compliant Debian laptop as `zt`'s Linux collectors would report it: every check passes,
/// and the process list is a realistic size (the body is about 2 KB).
pub fn compliant_report() -> PostureReport {
    const PROCESSES: [&str; 60] = [
        "systemd",
        "kthreadd",
        "rcu_gp",
        "kworker/0:1",
        "ksoftirqd/0",
        "migration/0",
        "systemd-journal",
        "systemd-udevd",
        "systemd-timesyn",
        "systemd-resolve",
        "systemd-logind",
        "dbus-daemon",
        "polkitd",
        "udisksd",
        "upowerd",
        "accounts-daemon",
        "NetworkManager",
        "wpa_supplicant",
        "ModemManager",
        "avahi-daemon",
        "cupsd",
        "cups-browsed",
        "cron",
        "rsyslogd",
        "sshd",
        "chronyd",
        "firewalld",
        "osqueryd",
        "unattended-upgr",
        "packagekitd",
        "fwupd",
        "gdm3",
        "gdm-session-wor",
        "gnome-shell",
        "gnome-session-b",
        "gnome-keyring-d",
        "gsd-power",
        "gsd-screensaver",
        "gsd-media-keys",
        "gsd-color",
        "xdg-desktop-por",
        "xdg-permission-",
        "pipewire",
        "pipewire-pulse",
        "wireplumber",
        "Xwayland",
        "ibus-daemon",
        "evolution-sourc",
        "tracker-miner-f",
        "nautilus",
        "gnome-terminal-",
        "bash",
        "tmux: server",
        "ssh-agent",
        "firefox-esr",
        "Web Content",
        "code",
        "slack",
        "zt",
        "ssh",
    ];
    PostureReport {
        os: "linux".into(),
        os_id: "debian".into(),
        os_version: "12".into(),
        os_name: "Debian GNU/Linux 12 (bookworm)".into(),
        kernel: "6.1.0-26-amd64".into(),
        hostname: "bench-laptop".into(),
        zt_version: env!("CARGO_PKG_VERSION").into(),
        checks: vec![
            CheckResult::pass(
                Check::DiskEncryption,
                "/ on dm-crypt (LUKS2) via /dev/mapper/nvme0n1p3_crypt; /home on the same device",
            ),
            CheckResult::pass(
                Check::Firewall,
                "firewalld is running with default zone \"public\"",
            ),
            CheckResult::pass(Check::SecureBoot, "Secure Boot is enabled"),
            CheckResult::pass(Check::ScreenLock, "GNOME locks after 300 s idle"),
            CheckResult::pass(
                Check::AutoUpdates,
                "unattended-upgrades runs every 1 day(s) (/etc/apt/apt.conf.d/20auto-upgrades)",
            ),
        ],
        processes: PROCESSES.iter().map(|&p| p.to_owned()).collect(),
    }
}
