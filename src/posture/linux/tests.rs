use super::*;
use crate::posture::machine::FakeMachine;
use crate::posture::{CheckResult, Status};

fn mountinfo(lines: &[(&str, &str, &str, &str)]) -> String {
    lines
        .iter()
        .enumerate()
        .map(|(i, (dev, point, fs, source))| {
            format!(
                "{} 1 {dev} / {point} rw,relatime shared:1 - {fs} {source} rw\n",
                20 + i
            )
        })
        .collect()
}

fn disk(machine: &FakeMachine) -> CheckResult {
    disk::check(machine)
}

fn luks_root() -> FakeMachine {
    FakeMachine::default()
        .file(
            "/proc/self/mountinfo",
            mountinfo(&[
                ("253:1", "/", "ext4", "/dev/mapper/vg-root"),
                ("0:22", "/proc", "proc", "proc"),
            ]),
        )
        // vg-root is an LVM volume over dm-0, which is LUKS2 over the partition.
        .file("/sys/dev/block/253:1/dm/uuid", "LVM-abc\n")
        .file("/sys/dev/block/253:1/slaves/dm-0", "")
        .file("/sys/class/block/dm-0/dev", "253:0\n")
        .file("/sys/dev/block/253:0/dm/uuid", "CRYPT-LUKS2-0123-luks\n")
        .file("/sys/dev/block/253:0/slaves/nvme0n1p3", "")
}

#[test]
fn lvm_on_luks_is_encrypted_and_a_plain_partition_is_not() {
    let result = disk(&luks_root());
    assert_eq!(result.status, Status::Pass, "{result:?}");
    assert_eq!(result.evidence, "/ on dm-crypt (LUKS2)");

    let plain = FakeMachine::default()
        .file(
            "/proc/self/mountinfo",
            mountinfo(&[("259:3", "/", "ext4", "/dev/nvme0n1p3")]),
        )
        .file("/sys/dev/block/259:3/partition", "3\n");
    let result = disk(&plain);
    assert_eq!(result.status, Status::Fail);
    assert!(result.evidence.contains("/dev/nvme0n1p3"), "{result:?}");
    assert!(result.fix.unwrap().contains("cryptsetup"));

    // LVM straight on the disk, no crypt layer below it.
    let lvm = FakeMachine::default()
        .file(
            "/proc/self/mountinfo",
            mountinfo(&[("253:1", "/", "xfs", "/dev/mapper/rhel-root")]),
        )
        .file("/sys/dev/block/253:1/dm/uuid", "LVM-xyz\n")
        .file("/sys/dev/block/253:1/slaves/sda2", "")
        .file("/sys/class/block/sda2/dev", "8:2\n")
        .file("/sys/dev/block/8:2/partition", "2\n");
    assert_eq!(disk(&lvm).status, Status::Fail);
}

#[test]
fn an_unencrypted_home_fails_even_on_an_encrypted_root() {
    let machine = luks_root().file(
        "/proc/self/mountinfo",
        mountinfo(&[
            ("253:1", "/", "ext4", "/dev/mapper/vg-root"),
            ("8:17", "/home", "ext4", "/dev/sdb1"),
        ]),
    );
    let machine = machine.file("/sys/dev/block/8:17/partition", "1\n");
    let result = disk(&machine);
    assert_eq!(result.status, Status::Fail);
    assert!(
        result.evidence.starts_with("/home is not encrypted"),
        "{result:?}"
    );
}

#[test]
fn btrfs_is_followed_by_its_source_and_overlay_is_unknown() {
    let machine = FakeMachine::default()
        .file(
            "/proc/self/mountinfo",
            mountinfo(&[
                ("0:31", "/", "btrfs", "/dev/mapper/luks-9f2c"),
                ("0:31", "/home", "btrfs", "/dev/mapper/luks-9f2c"),
            ]),
        )
        .file("/sys/block/dm-0/dm/name", "luks-9f2c\n")
        .file("/sys/class/block/dm-0/dev", "253:0\n")
        .file(
            "/sys/dev/block/253:0/dm/uuid",
            "CRYPT-LUKS2-9f2c-luks-9f2c\n",
        );
    let result = disk(&machine);
    assert_eq!(result.status, Status::Pass, "{result:?}");
    assert_eq!(result.evidence, "/ and /home on dm-crypt (LUKS2)");

    let container = FakeMachine::default().file(
        "/proc/self/mountinfo",
        mountinfo(&[("0:45", "/", "overlay", "overlay")]),
    );
    let result = disk(&container);
    assert_eq!(result.status, Status::Unknown);
    assert!(result.evidence.contains("overlay"));
    assert_eq!(disk(&FakeMachine::default()).status, Status::Unknown);
}

#[test]
fn mountinfo_escapes_and_the_topmost_mount() {
    let text =
        "30 1 8:1 / / rw - ext4 /dev/sda1 rw\n31 30 8:2 / /home/a\\040b rw - ext4 /dev/sda2 rw\n";
    let mounts = disk::parse_mountinfo(text);
    assert_eq!(mounts[1].mount_point, "/home/a b");
    assert_eq!(mounts[0].source, "/dev/sda1");
}

#[test]
fn firewall_states() {
    let none = FakeMachine::default();
    assert_eq!(system::firewall(&none, &[]).status, Status::Unknown);

    let ufw_on = FakeMachine::default()
        .file(
            "/etc/ufw/ufw.conf",
            "# comment\nENABLED=yes\nLOGLEVEL=low\n",
        )
        .file(
            "/etc/default/ufw",
            "IPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\n",
        );
    let result = system::firewall(&ufw_on, &[]);
    assert_eq!(result.status, Status::Pass);
    assert_eq!(result.evidence, "ufw is enabled with inbound policy DROP");

    let ufw_off = FakeMachine::default().file("/etc/ufw/ufw.conf", "ENABLED=no\n");
    assert_eq!(system::firewall(&ufw_off, &[]).status, Status::Fail);
    let ufw_open = ufw_on.file("/etc/default/ufw", "DEFAULT_INPUT_POLICY=\"ACCEPT\"\n");
    assert_eq!(system::firewall(&ufw_open, &[]).status, Status::Fail);

    let firewalld =
        FakeMachine::default().file("/etc/firewalld/firewalld.conf", "DefaultZone=public\n");
    assert_eq!(system::firewall(&firewalld, &[]).status, Status::Fail);
    let running = ["firewalld".to_owned()];
    assert_eq!(system::firewall(&firewalld, &running).status, Status::Pass);
    let trusted =
        FakeMachine::default().file("/etc/firewalld/firewalld.conf", "DefaultZone=trusted\n");
    assert_eq!(system::firewall(&trusted, &running).status, Status::Fail);
}

#[test]
fn secure_boot_states() {
    let var = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e39a5b5a5b5b";
    let on = FakeMachine::default().file(var, [6, 0, 0, 0, 1]);
    assert_eq!(system::secure_boot(&on).status, Status::Pass);
    let off = FakeMachine::default().file(var, [6, 0, 0, 0, 0]);
    assert_eq!(system::secure_boot(&off).status, Status::Fail);
    let bios = FakeMachine::default().file("/sys/firmware/acpi/tables/DSDT", "");
    let result = system::secure_boot(&bios);
    assert_eq!(result.status, Status::Fail);
    assert!(result.evidence.contains("legacy BIOS"));
    assert_eq!(
        system::secure_boot(&FakeMachine::default()).status,
        Status::Unknown
    );
}

#[test]
fn automatic_updates_on_debian_and_fedora() {
    let on = FakeMachine::default()
        .file(
            "/etc/apt/apt.conf.d/20auto-upgrades",
            "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n",
        )
        .file("/usr/bin/unattended-upgrade", "");
    assert_eq!(system::auto_updates(&on).status, Status::Pass);
    // A later file turns it off again.
    let off = on.file(
        "/etc/apt/apt.conf.d/99local",
        "// local\nAPT::Periodic::Unattended-Upgrade \"0\";\n",
    );
    let result = system::auto_updates(&off);
    assert_eq!(result.status, Status::Fail);
    assert!(result.evidence.contains("99local"));
    let missing = FakeMachine::default().file("/etc/apt/apt.conf.d/70debconf", "");
    assert!(
        system::auto_updates(&missing)
            .evidence
            .contains("not installed")
    );

    let wants = "/etc/systemd/system/timers.target.wants";
    let dnf_install = FakeMachine::default()
        .file("/etc/dnf/dnf.conf", "")
        .file(&format!("{wants}/dnf-automatic-install.timer"), "");
    assert_eq!(system::auto_updates(&dnf_install).status, Status::Pass);
    let dnf_download = FakeMachine::default()
        .file(
            "/etc/dnf/automatic.conf",
            "[commands]\napply_updates = no\n",
        )
        .file(&format!("{wants}/dnf-automatic.timer"), "");
    assert_eq!(system::auto_updates(&dnf_download).status, Status::Fail);
    let dnf_apply = dnf_download.file(
        "/etc/dnf/automatic.conf",
        "[commands]\napply_updates = yes\n",
    );
    assert_eq!(system::auto_updates(&dnf_apply).status, Status::Pass);
    assert_eq!(
        system::auto_updates(&FakeMachine::default()).status,
        Status::Unknown
    );
}

#[test]
fn screen_lock_on_gnome_kde_and_without_a_desktop() {
    let headless = FakeMachine::default();
    assert_eq!(screen::check(&headless, &[]).status, Status::Pass);

    let gnome = |enabled: &str, idle: &str| {
        FakeMachine::default()
            .var("XDG_CURRENT_DESKTOP", "ubuntu:GNOME")
            .command(
                "gsettings get org.gnome.desktop.screensaver lock-enabled",
                enabled,
            )
            .command("gsettings get org.gnome.desktop.session idle-delay", idle)
            .command(
                "gsettings get org.gnome.desktop.screensaver lock-delay",
                "uint32 30\n",
            )
    };
    let result = screen::check(&gnome("true\n", "uint32 300\n"), &[]);
    assert_eq!(result.status, Status::Pass, "{result:?}");
    assert_eq!(result.evidence, "GNOME locks after 330 s idle");
    assert_eq!(
        screen::check(&gnome("false\n", "uint32 300\n"), &[]).status,
        Status::Fail
    );
    assert_eq!(
        screen::check(&gnome("true\n", "uint32 0\n"), &[]).status,
        Status::Fail
    );
    assert_eq!(
        screen::check(&gnome("true\n", "uint32 1800\n"), &[]).status,
        Status::Fail
    );
    // gnome-shell running without the variable (zt run over ssh on the laptop).
    let no_gsettings = FakeMachine::default();
    assert_eq!(
        screen::check(&no_gsettings, &["gnome-shell".to_owned()]).status,
        Status::Unknown
    );

    let kde = FakeMachine::default()
        .var("XDG_CURRENT_DESKTOP", "KDE")
        .var("HOME", "/home/alice");
    // KDE's defaults lock after 5 minutes.
    assert_eq!(screen::check(&kde, &[]).status, Status::Pass);
    let kde_off = kde.file(
        "/home/alice/.config/kscreenlockerrc",
        "[Daemon]\nAutolock=false\n",
    );
    assert_eq!(screen::check(&kde_off, &[]).status, Status::Fail);
    let other = FakeMachine::default().var("XDG_CURRENT_DESKTOP", "XFCE");
    assert_eq!(screen::check(&other, &[]).status, Status::Unknown);
}

#[test]
fn the_report_names_the_system_and_keeps_to_its_scope() {
    let machine = luks_root()
        .file(
            "/etc/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
        )
        .file("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n")
        .file("/proc/sys/kernel/hostname", "laptop\n")
        .file("/proc/1/comm", "systemd\n")
        .file("/proc/77/comm", "falcon-sensor\n")
        .file("/proc/self/comm", "zt\n");
    let facts = collect(&machine, &Scope::all());
    assert_eq!(
        (facts.os_id.as_str(), facts.os_version.as_str()),
        ("debian", "12")
    );
    assert_eq!(facts.os_name, "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(facts.kernel, "6.1.0-26-amd64");
    assert_eq!(facts.hostname, "laptop");
    assert_eq!(facts.processes, ["falcon-sensor", "systemd"]);
    assert_eq!(facts.checks.len(), 5);

    let narrow = Scope {
        checks: vec![Check::DiskEncryption],
        processes: false,
    };
    let facts = collect(&machine, &narrow);
    assert_eq!(facts.checks.len(), 1);
    assert!(facts.processes.is_empty());
}

#[test]
fn os_release_quoting() {
    let text = "ID=ubuntu\nVERSION_ID='22.04'\nNAME=\"Ubuntu\x07\"\n";
    assert_eq!(os_release_field(text, "ID").as_deref(), Some("ubuntu"));
    assert_eq!(
        os_release_field(text, "VERSION_ID").as_deref(),
        Some("22.04")
    );
    assert_eq!(os_release_field(text, "NAME").as_deref(), Some("Ubuntu"));
    assert_eq!(os_release_field(text, "ID_LIKE"), None);
}
