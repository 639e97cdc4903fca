use super::*;
use crate::posture::Status;
use crate::posture::machine::FakeMachine;

fn assert_result(result: &CheckResult, status: Status, evidence: &str) {
    assert_eq!(result.status, status, "{result:?}");
    assert!(
        result.evidence.contains(evidence),
        "{:?} does not contain {evidence:?}",
        result.evidence
    );
    assert_eq!(result.fix.is_some(), status != Status::Pass, "{result:?}");
    assert!(!result.evidence.contains('\n'), "{result:?}");
}

#[test]
fn version_and_name() {
    let ver = "\r\nMicrosoft Windows [Version 10.0.22631.4460]\r\n";
    assert_eq!(parse_ver(ver).as_deref(), Some("10.0.22631.4460"));
    let french = "\r\nMicrosoft Windows [version 10.0.19045.3803]\r\n";
    assert_eq!(parse_ver(french).as_deref(), Some("10.0.19045.3803"));
    assert_eq!(parse_ver("Microsoft Windows [Version ]\r\n"), None);
    assert_eq!(parse_ver("Microsoft Windows [Version 10.0.x]\r\n"), None);
    assert_eq!(parse_ver("Microsoft Windows [Version 10.0.22631\r\n"), None);
    assert_eq!(parse_ver(""), None);
    assert_eq!(os_name(Some("10.0.22631.4460")), "Windows 11");
    assert_eq!(os_name(Some("10.0.22000.1")), "Windows 11");
    assert_eq!(os_name(Some("10.0.19045.4291")), "Windows 10");
    assert_eq!(os_name(Some("6.3.9600")), "Windows");
    assert_eq!(os_name(None), "Windows");
}

const BDE_HEADER: &str = "BitLocker Drive Encryption: Configuration Tool version 10.0.22621\r\n\
    Copyright (C) 2013 Microsoft Corporation. All rights reserved.\r\n\r\n\
    Volume C: [Windows]\r\n[OS Volume]\r\n\r\n\
    \x20   Size:                 475.69 GB\r\n\
    \x20   BitLocker Version:    2.0\r\n";

fn bde(conversion: &str, percent: &str, protection: &str) -> String {
    format!(
        "{BDE_HEADER}\
         \x20   Conversion Status:    {conversion}\r\n\
         \x20   Percentage Encrypted: {percent}\r\n\
         \x20   Encryption Method:    XTS-AES 128\r\n\
         \x20   Protection Status:    {protection}\r\n\
         \x20   Lock Status:          Unlocked\r\n\
         \x20   Identification Field: Unknown\r\n\
         \x20   Key Protectors:\r\n\
         \x20       TPM\r\n\
         \x20       Numerical Password\r\n\r\n"
    )
}

#[test]
fn bitlocker() {
    let on = bde("Fully Encrypted", "100.0%", "Protection On");
    assert_result(
        &parse_manage_bde(&on),
        Status::Pass,
        "C: is fully encrypted",
    );
    let used = bde("Used Space Only Encrypted", "100.0%", "Protection On");
    assert_result(&parse_manage_bde(&used), Status::Pass, "used space only");
    let suspended = bde(
        "Fully Encrypted",
        "100.0%",
        "Protection Off (1 reboots left)",
    );
    assert_result(
        &parse_manage_bde(&suspended),
        Status::Fail,
        "Protection Off (1 reboots left)",
    );
    let off = bde("Fully Decrypted", "0.0%", "Protection Off");
    assert_result(
        &parse_manage_bde(&off),
        Status::Fail,
        "C: is not encrypted (BitLocker: Fully Decrypted)",
    );
    let busy = bde("Encryption in Progress", "37.5%", "Protection Off");
    assert_result(&parse_manage_bde(&busy), Status::Fail, "37.5%");
    let odd = bde("Sideways", "1%", "Protection On");
    assert_result(&parse_manage_bde(&odd), Status::Unknown, "\"Sideways\"");
    let denied = "BitLocker Drive Encryption: Configuration Tool version 10.0.22621\r\n\
        Copyright (C) 2013 Microsoft Corporation. All rights reserved.\r\n\r\n\
        ERROR: An attempt to access a required resource was denied.\r\n\
        Check that you have administrative rights on the computer.\r\n";
    assert_result(
        &parse_manage_bde(denied),
        Status::Unknown,
        "administrator rights",
    );
    assert_result(
        &parse_manage_bde("\u{0}\u{1}garbage"),
        Status::Unknown,
        "unrecognised",
    );
}

fn netsh(domain: &str, private: &str, public: &str) -> String {
    let dashes = "-".repeat(70);
    let section = |name: &str, state: &str| {
        format!(
            "{name} Profile Settings: \r\n{dashes}\r\nState                                 {state}\r\n\r\n"
        )
    };
    format!(
        "\r\n{}{}{}Ok.\r\n\r\n",
        section("Domain", domain),
        section("Private", private),
        section("Public", public)
    )
}

#[test]
fn firewall_profiles() {
    assert_eq!(parse_netsh_firewall(&netsh("ON", "ON", "ON")), Firewall::On);
    assert_eq!(
        parse_netsh_firewall(&netsh("ON", "OFF", "OFF")),
        Firewall::Off(vec!["private".into(), "public".into()])
    );
    let partial = netsh("ON", "ON", "ON").replace("Public Profile", "Öffentliches Profil");
    assert!(matches!(
        parse_netsh_firewall(&partial),
        Firewall::Unreadable(_)
    ));
    let odd_state = netsh("ON", "NotConfigured", "ON");
    assert!(
        matches!(parse_netsh_firewall(&odd_state), Firewall::Unreadable(w) if w.contains("NotConfigured"))
    );
    assert!(matches!(parse_netsh_firewall(""), Firewall::Unreadable(_)));
    assert_eq!(parse_true_false("True\r\n"), Some(true));
    assert_eq!(parse_true_false("False\r\n"), Some(false));
    assert_eq!(
        parse_true_false("Get-MpComputerStatus : 0x800106ba\r\n"),
        None
    );
}

#[test]
fn firewall_and_defender() {
    let on = Firewall::On;
    let r = firewall_result(&on, Some(true));
    assert_result(
        &r,
        Status::Pass,
        "on for all profiles; Defender real-time protection is on",
    );
    assert_result(
        &firewall_result(&on, None),
        Status::Pass,
        "Defender status unreadable",
    );
    let r = firewall_result(&on, Some(false));
    assert_result(&r, Status::Fail, "Defender real-time protection is off");
    assert_eq!(r.fix.as_deref(), Some(FIX_DEFENDER));
    let off = Firewall::Off(vec!["public".into()]);
    let r = firewall_result(&off, Some(true));
    assert_result(&r, Status::Fail, "off for the public profile;");
    assert_eq!(r.fix.as_deref(), Some(FIX_FIREWALL));
    let off = Firewall::Off(vec!["private".into(), "public".into()]);
    let r = firewall_result(&off, Some(false));
    assert_result(
        &r,
        Status::Fail,
        "private and public profiles; Defender real-time protection is off",
    );
    let unreadable = Firewall::Unreadable("`netsh advfirewall` did not answer".into());
    let r = firewall_result(&unreadable, Some(true));
    assert_result(&r, Status::Unknown, "`netsh advfirewall` did not answer");
    assert_result(
        &firewall_result(&unreadable, Some(false)),
        Status::Fail,
        "is off",
    );
}

#[test]
fn secure_boot() {
    assert_result(
        &parse_secure_boot("True\r\n"),
        Status::Pass,
        "Secure Boot is on",
    );
    assert_result(
        &parse_secure_boot("False\r\n"),
        Status::Fail,
        "Secure Boot is off",
    );
    assert_result(&parse_secure_boot("\r\n"), Status::Unknown, "unrecognised");
}

fn desktop(active: &str, secure: &str, timeout: &str) -> String {
    format!(
        "\r\nHKEY_CURRENT_USER\\Control Panel\\Desktop\r\n\
         \x20   ActiveWndTrackTimeout    REG_DWORD    0x0\r\n\
         \x20   PaintDesktopVersion    REG_DWORD    0x0\r\n\
         \x20   ScreenSaveActive    REG_SZ    {active}\r\n\
         \x20   ScreenSaverIsSecure    REG_SZ    {secure}\r\n\
         \x20   ScreenSaveTimeOut    REG_SZ    {timeout}\r\n\
         \x20   SCRNSAVE.EXE    REG_SZ    C:\\Windows\\system32\\scrnsave.scr\r\n\
         \x20   Wallpaper    REG_SZ    \r\n\
         \x20   WheelScrollLines    REG_SZ    3\r\n\r\n\
         HKEY_CURRENT_USER\\Control Panel\\Desktop\\Colors\r\n\
         HKEY_CURRENT_USER\\Control Panel\\Desktop\\WindowMetrics\r\n"
    )
}

#[test]
fn screen_saver_settings() {
    let saver = parse_screen_saver(&desktop("1", "1", "600"));
    assert_eq!(
        saver,
        Some(ScreenSaver {
            active: Some("1".into()),
            secure: Some("1".into()),
            timeout: Some("600".into())
        })
    );
    let check = |out: &str| screen_lock(Some(out), None);
    assert_result(
        &check(&desktop("1", "1", "600")),
        Status::Pass,
        "600 seconds",
    );
    assert_result(
        &check(&desktop("1", "1", "900")),
        Status::Pass,
        "900 seconds",
    );
    assert_result(
        &check(&desktop("1", "1", "1200")),
        Status::Fail,
        "1200 seconds",
    );
    assert_result(
        &check(&desktop("0", "1", "600")),
        Status::Fail,
        "screen saver is off",
    );
    assert_result(
        &check(&desktop("1", "0", "600")),
        Status::Fail,
        "does not ask",
    );
    assert_result(
        &check(&desktop("1", "1", "0")),
        Status::Fail,
        "no idle time",
    );
    assert_result(
        &check(&desktop("1", "1", "ten")),
        Status::Unknown,
        "unrecognised",
    );
    assert_result(
        &check(&desktop("yes", "1", "600")),
        Status::Unknown,
        "unrecognised",
    );
    let empty = "\r\nHKEY_CURRENT_USER\\Control Panel\\Desktop\r\n\r\n";
    assert_result(&check(empty), Status::Fail, "screen saver is off");
    assert_result(
        &check("ERROR: garbled\r\n"),
        Status::Unknown,
        "\"ERROR: garbled\"",
    );
    assert_result(&screen_lock(None, None), Status::Unknown, "did not answer");
}

#[test]
fn screen_saver_policy_wins() {
    let policy = "\r\nHKEY_CURRENT_USER\\Software\\Policies\\Microsoft\\Windows\\Control Panel\\Desktop\r\n\
                  \x20   ScreenSaverIsSecure    REG_SZ    1\r\n\
                  \x20   ScreenSaveTimeOut    REG_SZ    300\r\n\r\n";
    let user = desktop("1", "0", "1800");
    let merged = parse_screen_saver(policy)
        .unwrap()
        .or(parse_screen_saver(&user).unwrap());
    assert_eq!(merged.secure.as_deref(), Some("1"));
    assert_eq!(merged.timeout.as_deref(), Some("300"));
    assert_eq!(merged.active.as_deref(), Some("1"));
    assert_result(
        &screen_lock(Some(&user), Some(policy)),
        Status::Pass,
        "300 seconds",
    );
    assert_result(
        &screen_lock(Some(&user), None),
        Status::Fail,
        "does not ask",
    );
    assert_result(
        &screen_lock(Some(&user), Some("garbled")),
        Status::Fail,
        "does not ask",
    );
}

fn au(values: &str) -> String {
    format!(
        "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU\r\n{values}\r\n"
    )
}

#[test]
fn windows_update_policy() {
    assert_result(&auto_updates(None), Status::Pass, "default");
    let r = auto_updates(Some(&au(
        "    NoAutoUpdate    REG_DWORD    0x1\r\n    AUOptions    REG_DWORD    0x4\r\n",
    )));
    assert_result(&r, Status::Fail, "NoAutoUpdate");
    let r = auto_updates(Some(&au(
        "    NoAutoUpdate    REG_DWORD    0x0\r\n    AUOptions    REG_DWORD    0x2\r\n",
    )));
    assert_result(&r, Status::Fail, "only notify");
    let r = auto_updates(Some(&au(
        "    NoAutoUpdate    REG_DWORD    0x0\r\n    AUOptions    REG_DWORD    0x3\r\n",
    )));
    assert_result(&r, Status::Pass, "AUOptions 3");
    let r = auto_updates(Some(&au(
        "    NoAutoUpdate    REG_DWORD    0x0\r\n    AUOptions    REG_DWORD    0x4\r\n    ScheduledInstallDay    REG_DWORD    0x0\r\n",
    )));
    assert_result(&r, Status::Pass, "installs updates automatically");
    let r = auto_updates(Some(&au("    UseWUServer    REG_DWORD    0x1\r\n")));
    assert_result(&r, Status::Pass, "default");
    let r = auto_updates(Some(&au("    AUOptions    REG_DWORD    0x5\r\n")));
    assert_result(&r, Status::Unknown, "local administrators");
    let r = auto_updates(Some(&au("    AUOptions    REG_DWORD    0x9\r\n")));
    assert_result(&r, Status::Unknown, "\"9\"");
    let r = auto_updates(Some(&au("    NoAutoUpdate    REG_SZ    yes\r\n")));
    assert_result(&r, Status::Unknown, "\"yes\"");
    assert_result(
        &auto_updates(Some("ERROR: odd\r\n")),
        Status::Unknown,
        "unrecognised",
    );
}

#[test]
fn task_list() {
    let out = "\"System Idle Process\",\"0\",\"Services\",\"0\",\"8 K\"\r\n\
               \"svchost.exe\",\"1234\",\"Services\",\"0\",\"12,345 K\"\r\n\
               \"svchost.exe\",\"1400\",\"Services\",\"0\",\"9,876 K\"\r\n\
               \"MsSense.exe\",\"5678\",\"Services\",\"0\",\"101,234 K\"\r\n\
               \"odd \"\"quoted\"\", name.exe\",\"9\",\"Console\",\"1\",\"1,024 K\"\r\n\
               \"unterminated,9\r\n\
               INFO: No tasks are running which match the specified criteria.\r\n\r\n";
    assert_eq!(
        parse_tasklist(out),
        [
            "MsSense.exe",
            "System Idle Process",
            "odd \"quoted\", name.exe",
            "svchost.exe"
        ]
    );
    assert!(parse_tasklist("").is_empty());
}

fn pc() -> FakeMachine {
    FakeMachine::default()
        .command(
            "cmd /c ver",
            "\r\nMicrosoft Windows [Version 10.0.19045.4291]\r\n",
        )
        .command("hostname", "DESKTOP-7QK2M1A\r\n")
        .command(
            "manage-bde -status C:",
            &bde("Fully Encrypted", "100.0%", "Protection On"),
        )
        .command(
            "netsh advfirewall show allprofiles state",
            &netsh("ON", "ON", "OFF"),
        )
        .command(
            &format!("powershell -NoProfile -NonInteractive -Command {DEFENDER_QUERY}"),
            "True\r\n",
        )
        .command(
            "tasklist /fo csv /nh",
            "\"MsSense.exe\",\"5678\",\"Services\",\"0\",\"101,234 K\"\r\n",
        )
}

#[test]
fn collect_reads_only_what_the_scope_asks_for() {
    let scope = Scope {
        checks: vec![Check::Firewall],
        processes: false,
    };
    let facts = collect(&pc(), &scope);
    assert_eq!(facts.os_id, "windows");
    assert_eq!(facts.os_version, "10.0.19045.4291");
    assert_eq!(facts.kernel, "10.0.19045.4291");
    assert_eq!(facts.os_name, "Windows 10");
    assert_eq!(facts.hostname, "DESKTOP-7QK2M1A");
    assert_eq!(facts.checks.len(), 1);
    assert_result(&facts.checks[0], Status::Fail, "off for the public profile");
    assert!(facts.processes.is_empty());
}

#[test]
fn collect_reports_silent_commands_as_unknown() {
    let machine = pc().command(
        &format!("reg query {DESKTOP_KEY}"),
        &desktop("1", "1", "600"),
    );
    let facts = collect(&machine, &Scope::all());
    assert_eq!(facts.processes, ["MsSense.exe"]);
    let result = |check| facts.checks.iter().find(|r| r.check == check).unwrap();
    assert_eq!(facts.checks.len(), 5);
    assert_result(
        result(Check::DiskEncryption),
        Status::Pass,
        "fully encrypted",
    );
    assert_result(
        result(Check::SecureBoot),
        Status::Unknown,
        "`Confirm-SecureBootUEFI` did not answer",
    );
    assert_result(result(Check::ScreenLock), Status::Pass, "600 seconds");
    assert_result(result(Check::AutoUpdates), Status::Pass, "default");

    let bare = FakeMachine::default();
    let scope = Scope {
        checks: vec![Check::DiskEncryption, Check::ScreenLock],
        processes: true,
    };
    let facts = collect(&bare, &scope);
    assert_eq!(
        (facts.os_version.as_str(), facts.os_name.as_str()),
        ("", "Windows")
    );
    assert_result(
        &facts.checks[0],
        Status::Unknown,
        "manage-bde needs administrator rights",
    );
    assert_result(
        &facts.checks[1],
        Status::Unknown,
        "`reg query HKCU\\Control Panel\\Desktop` did not answer",
    );
    assert!(facts.processes.is_empty());
}
