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
fn product_version_and_name() {
    assert_eq!(parse_product_version("14.5\n").as_deref(), Some("14.5"));
    assert_eq!(parse_product_version("15.0.1\n").as_deref(), Some("15.0.1"));
    assert_eq!(parse_product_version("ProductVersion: 14.5\n"), None);
    assert_eq!(parse_product_version("14..5\n"), None);
    assert_eq!(parse_product_version(""), None);
    assert_eq!(os_name(Some("14.5")), "macOS 14.5");
    assert_eq!(os_name(None), "macOS");
}

#[test]
fn filevault() {
    assert_result(
        &parse_fdesetup("FileVault is On.\n"),
        Status::Pass,
        "FileVault is on",
    );
    assert_result(
        &parse_fdesetup("FileVault is Off.\n"),
        Status::Fail,
        "FileVault is off",
    );
    let encrypting = "FileVault is On.\nEncryption in progress: Percent completed = 37\n";
    let r = parse_fdesetup(encrypting);
    assert_result(&r, Status::Fail, "not finished encrypting");
    assert!(r.evidence.contains("Percent completed = 37"), "{r:?}");
    let decrypting = "FileVault is On.\nDecryption in progress: Percent completed = 12.5\n";
    assert_result(
        &parse_fdesetup(decrypting),
        Status::Fail,
        "being turned off",
    );
    let deferred =
        "Deferred enablement appears to be active for user 'alice'.\nFileVault is Off.\n";
    assert_result(&parse_fdesetup(deferred), Status::Fail, "FileVault is off");
    let keychain = "FileVault is On.\nFileVault master keychain appears to be installed.\n";
    assert_result(&parse_fdesetup(keychain), Status::Pass, "FileVault is on");
    assert_result(
        &parse_fdesetup("Error: \u{1b}[0mno\n"),
        Status::Unknown,
        "unrecognised",
    );
    assert_result(&parse_fdesetup(""), Status::Unknown, "unrecognised");
}

#[test]
fn application_firewall() {
    let on = "Firewall is enabled. (State = 1)\n";
    assert_result(&parse_socketfilterfw(on), Status::Pass, "firewall is on");
    let block_all = "Firewall is enabled. (State = 2)\n";
    assert_result(&parse_socketfilterfw(block_all), Status::Pass, "blocks all");
    let off = "Firewall is disabled. (State = 0)\n";
    assert_result(&parse_socketfilterfw(off), Status::Fail, "firewall is off");
    assert_result(
        &parse_socketfilterfw("(State = 7)\n"),
        Status::Unknown,
        "State = 7",
    );
    assert_result(
        &parse_socketfilterfw("(State = "),
        Status::Unknown,
        "unrecognised",
    );
    assert_result(
        &parse_socketfilterfw("Firewall is enabled.\n"),
        Status::Unknown,
        "unrecognised",
    );
}

#[test]
fn system_integrity_protection() {
    let on = "System Integrity Protection status: enabled.\n";
    assert_result(&parse_csrutil(on), Status::Pass, "is on");
    let off = "System Integrity Protection status: disabled.\n";
    assert_result(&parse_csrutil(off), Status::Fail, "is off");
    let custom = "System Integrity Protection status: unknown (Custom Configuration).\n\n\
                  Configuration:\n\tApple Internal: disabled\n\tKext Signing: disabled\n\t\
                  Filesystem Protections: enabled\n\nThis is an unsupported configuration, \
                  likely to break in the future and leave your machine in an unknown state.\n";
    assert_result(&parse_csrutil(custom), Status::Fail, "custom configuration");
    let old_custom = "System Integrity Protection status: enabled (Custom Configuration).\n";
    assert_result(&parse_csrutil(old_custom), Status::Fail, "partly off");
    assert_result(
        &parse_csrutil("csrutil: command not found\n"),
        Status::Unknown,
        "csrutil",
    );
    let odd = "System Integrity Protection status: maybe.\n";
    assert_result(&parse_csrutil(odd), Status::Unknown, "unrecognised");
}

#[test]
fn screen_lock() {
    let prefix = "2024-05-01 10:00:00.000 sysadminctl[123:456] ";
    let r = parse_screen_lock(&format!("{prefix}screenLock delay is 300 seconds\n"));
    assert_result(&r, Status::Pass, "300 seconds");
    let r = parse_screen_lock(&format!("{prefix}screenLock delay is 900 seconds\n"));
    assert_result(&r, Status::Pass, "900 seconds");
    let r = parse_screen_lock(&format!("{prefix}screenLock delay is 901 seconds\n"));
    assert_result(&r, Status::Fail, "901 seconds");
    let r = parse_screen_lock(&format!("{prefix}screenLock delay is 3600 seconds\n"));
    assert_result(&r, Status::Fail, "at most 900");
    let r = parse_screen_lock(&format!("{prefix}screenLock delay is immediate\n"));
    assert_result(&r, Status::Pass, "as soon as");
    let r = parse_screen_lock(&format!("{prefix}screenLock is off\n"));
    assert_result(&r, Status::Fail, "no password");
    let r = parse_screen_lock(&format!("{prefix}screenLock delay is -1.000000 seconds\n"));
    assert_result(&r, Status::Fail, "no password");
    let r = parse_screen_lock("screenLock delay is 5 seconds\n");
    assert_result(&r, Status::Pass, "5 seconds");
    let r = parse_screen_lock(&format!("{prefix}screenLock delay is soon\n"));
    assert_result(&r, Status::Unknown, "unrecognised");
    let r = parse_screen_lock("sysadminctl: unrecognized option\n");
    assert_result(&r, Status::Unknown, "unrecognized option");
    assert_result(&parse_screen_lock(""), Status::Unknown, "unrecognised");
}

#[test]
fn automatic_updates() {
    let r = auto_updates(Some("1\n"), Some("1\n"));
    assert_result(&r, Status::Pass, "checking for updates: on");
    let r = auto_updates(None, None);
    assert_result(&r, Status::Pass, "checking for updates: default (on)");
    assert!(
        r.evidence.contains("security updates: default (on)"),
        "{r:?}"
    );
    let r = auto_updates(Some("1\n"), Some("0\n"));
    assert_result(
        &r,
        Status::Fail,
        "automatic installing security updates is off",
    );
    assert!(!r.evidence.contains("checking"), "{r:?}");
    let r = auto_updates(Some("0\n"), None);
    assert_result(&r, Status::Fail, "automatic checking for updates is off");
    let r = auto_updates(Some("0\n"), Some("0\n"));
    assert_result(&r, Status::Fail, "checking for updates and installing");
    let r = auto_updates(Some("yes please\n"), Some("1\n"));
    assert_result(&r, Status::Unknown, "unrecognised");
}

#[test]
fn processes() {
    let out = "COMM\nlaunchd\nlogd\nGoogle Chrome Helper (Renderer)\n  falcond \nlogd\n\n";
    assert_eq!(
        parse_ps(out),
        [
            "Google Chrome Helper (Renderer)",
            "falcond",
            "launchd",
            "logd"
        ]
    );
    assert_eq!(parse_ps("launchd\n"), ["launchd"]);
    assert!(parse_ps("COMM\n").is_empty());
    assert!(parse_ps("").is_empty());
}

fn mac() -> FakeMachine {
    FakeMachine::default()
        .command("sw_vers -productVersion", "14.5\n")
        .command("uname -r", "23.5.0\n")
        .command("hostname", "alices-mbp.local\n")
        .command("fdesetup status", "FileVault is On.\n")
        .command(
            "/usr/libexec/ApplicationFirewall/socketfilterfw --getglobalstate",
            "Firewall is disabled. (State = 0)\n",
        )
        .command("ps -axco comm", "COMM\nlaunchd\nfalcond\n")
}

#[test]
fn collect_reads_only_what_the_scope_asks_for() {
    let scope = Scope {
        checks: vec![Check::Firewall, Check::DiskEncryption],
        processes: false,
    };
    let facts = collect(&mac(), &scope);
    assert_eq!(facts.os_id, "macos");
    assert_eq!(facts.os_version, "14.5");
    assert_eq!(facts.os_name, "macOS 14.5");
    assert_eq!(facts.kernel, "23.5.0");
    assert_eq!(facts.hostname, "alices-mbp.local");
    let got: Vec<_> = facts.checks.iter().map(|r| (r.check, r.status)).collect();
    assert_eq!(
        got,
        [
            (Check::DiskEncryption, Status::Pass),
            (Check::Firewall, Status::Fail)
        ]
    );
    assert!(facts.processes.is_empty());
}

#[test]
fn collect_reports_silent_commands_as_unknown() {
    let machine = mac().command("scutil --get LocalHostName", "Alices-MacBook-Pro\n");
    let facts = collect(&machine, &Scope::all());
    assert_eq!(facts.hostname, "Alices-MacBook-Pro");
    assert_eq!(facts.processes, ["falcond", "launchd"]);
    let result = |check| facts.checks.iter().find(|r| r.check == check).unwrap();
    assert_eq!(facts.checks.len(), 5);
    assert_result(
        result(Check::SecureBoot),
        Status::Unknown,
        "`csrutil status` did not answer",
    );
    assert_result(
        result(Check::ScreenLock),
        Status::Unknown,
        "`sysadminctl -screenLock status` did not answer",
    );
    // `defaults read` fails for unset keys: macOS's default, automatic updates on.
    assert_result(result(Check::AutoUpdates), Status::Pass, "default (on)");

    let screen = mac().command(
        "/bin/sh -c sysadminctl -screenLock status 2>&1",
        "2024-05-01 10:00:00.000 sysadminctl[123:456] screenLock delay is immediate\n",
    );
    let facts = collect(
        &screen,
        &Scope {
            checks: vec![Check::ScreenLock],
            processes: true,
        },
    );
    assert_eq!(facts.checks[0].status, Status::Pass);
    assert_eq!(facts.processes, ["falcond", "launchd"]);

    let facts = collect(
        &FakeMachine::default(),
        &Scope {
            checks: vec![],
            processes: true,
        },
    );
    assert_eq!(
        (facts.os_version.as_str(), facts.os_name.as_str()),
        ("", "macOS")
    );
    assert!(facts.checks.is_empty() && facts.processes.is_empty());
}
