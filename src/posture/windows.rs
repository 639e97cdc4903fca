//! The Windows collector: BitLocker, Windows Firewall with Defender real-time protection,
//! Secure Boot, the locking screen saver and the Windows Update policy, read from the
//! commands Windows ships. Each command's output goes through a pure parser below, tested
//! against captured outputs (with their `\r\n` line ends and column padding).

use super::{Check, CheckResult, Facts, Machine, Scope, excerpt, first_line};

/// The longest idle time before a password-protected screen saver that still passes.
const MAX_LOCK_DELAY_SECS: u64 = 900;

/// The first Windows 11 build; Windows 10 and 11 both report version 10.0.
const FIRST_WINDOWS_11_BUILD: u64 = 22000;

const DESKTOP_KEY: &str = r"HKCU\Control Panel\Desktop";
const DESKTOP_POLICY_KEY: &str = r"HKCU\Software\Policies\Microsoft\Windows\Control Panel\Desktop";
const UPDATE_POLICY_KEY: &str = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU";
const DEFENDER_QUERY: &str = "(Get-MpComputerStatus).RealTimeProtectionEnabled";

const FIX_BITLOCKER: &str = "turn on BitLocker for C: in Settings > Privacy & security > Device encryption (or Control Panel > BitLocker Drive Encryption)";
const FIX_FIREWALL: &str = "turn on the firewall for every network profile in Windows Security > Firewall & network protection";
const FIX_DEFENDER: &str =
    "turn on Real-time protection in Windows Security > Virus & threat protection";
const FIX_SECURE_BOOT: &str = "turn on Secure Boot in the PC's UEFI firmware settings";
const FIX_SCREEN_LOCK: &str = "in Settings > Personalization > Lock screen > Screen saver, pick a screen saver, wait 15 minutes or less and tick \"On resume, display logon screen\"";
const FIX_UPDATES: &str = "ask IT to let Windows Update install updates automatically (Configure Automatic Updates policy)";

/// The facts for this PC: what `scope` asks for, nothing more.
pub fn collect(machine: &dyn Machine, scope: &Scope) -> Facts {
    let os_version = machine
        .run("cmd", &["/c", "ver"])
        .and_then(|out| parse_ver(&out));
    Facts {
        os_id: "windows".to_owned(),
        os_name: os_name(os_version.as_deref()),
        kernel: os_version.clone().unwrap_or_default(),
        os_version: os_version.unwrap_or_default(),
        hostname: machine
            .run("hostname", &[])
            .and_then(|out| first_line(&out))
            .unwrap_or_default(),
        checks: Check::ALL
            .into_iter()
            .filter(|check| scope.wants(*check))
            .map(|check| run_check(machine, check))
            .collect(),
        processes: if scope.processes {
            machine
                .run("tasklist", &["/fo", "csv", "/nh"])
                .map(|out| parse_tasklist(&out))
                .unwrap_or_default()
        } else {
            Vec::new()
        },
    }
}

/// Run one check's commands and read their answers.
fn run_check(machine: &dyn Machine, check: Check) -> CheckResult {
    let powershell = |command| {
        machine.run(
            "powershell",
            &["-NoProfile", "-NonInteractive", "-Command", command],
        )
    };
    let reg_query = |key| machine.run("reg", &["query", key]);
    match check {
        // Without administrator rights manage-bde prints an error and fails.
        Check::DiskEncryption => machine
            .run("manage-bde", &["-status", "C:"])
            .map_or_else(bitlocker_needs_admin, |out| parse_manage_bde(&out)),
        Check::Firewall => {
            let firewall = machine
                .run("netsh", &["advfirewall", "show", "allprofiles", "state"])
                .map_or_else(
                    || Firewall::Unreadable("`netsh advfirewall` did not answer".to_owned()),
                    |out| parse_netsh_firewall(&out),
                );
            let defender = powershell(DEFENDER_QUERY).and_then(|out| parse_true_false(&out));
            firewall_result(&firewall, defender)
        }
        Check::SecureBoot => powershell("Confirm-SecureBootUEFI").map_or_else(
            || {
                CheckResult::unknown(
                    check,
                    "`Confirm-SecureBootUEFI` did not answer (it needs UEFI firmware and administrator rights)",
                    FIX_SECURE_BOOT,
                )
            },
            |out| parse_secure_boot(&out),
        ),
        Check::ScreenLock => screen_lock(
            reg_query(DESKTOP_KEY).as_deref(),
            reg_query(DESKTOP_POLICY_KEY).as_deref(),
        ),
        Check::AutoUpdates => auto_updates(reg_query(UPDATE_POLICY_KEY).as_deref()),
    }
}

/// `cmd /c ver`: `Microsoft Windows [Version 10.0.22631.4460]` → `10.0.22631.4460`. The
/// number is the last word inside the brackets, so translated banners read the same.
fn parse_ver(output: &str) -> Option<String> {
    let (_, rest) = output.split_once('[')?;
    let (inside, _) = rest.split_once(']')?;
    let version = inside.split_whitespace().next_back()?;
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    numeric.then(|| version.to_owned())
}

/// `Windows 11` from build 22000 of version 10.0, `Windows 10` before it; plain `Windows`
/// when the version says neither.
fn os_name(version: Option<&str>) -> String {
    let numbers: Vec<u64> = version
        .unwrap_or_default()
        .split('.')
        .map_while(|p| p.parse().ok())
        .collect();
    match numbers.as_slice() {
        [10, 0, build, ..] if *build >= FIRST_WINDOWS_11_BUILD => "Windows 11".to_owned(),
        [10, 0, ..] => "Windows 10".to_owned(),
        _ => "Windows".to_owned(),
    }
}

/// The value after `Name:` on a `manage-bde` line (`    Conversion Status:    Fully Encrypted`).
fn bde_field<'a>(output: &'a str, name: &str) -> Option<&'a str> {
    output.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(name)?;
        Some(rest.strip_prefix(':')?.trim())
    })
}

/// The result when manage-bde may not read BitLocker's state.
fn bitlocker_needs_admin() -> CheckResult {
    CheckResult::unknown(
        Check::DiskEncryption,
        "manage-bde needs administrator rights to read BitLocker status",
        "ask IT to confirm BitLocker, or allow zt to read it",
    )
}

/// `manage-bde -status C:`: passes when C: is fully encrypted and protection is on.
fn parse_manage_bde(output: &str) -> CheckResult {
    let check = Check::DiskEncryption;
    let conversion = bde_field(output, "Conversion Status");
    let protection = bde_field(output, "Protection Status");
    let (Some(conversion), Some(protection)) = (conversion, protection) else {
        let lower = output.to_ascii_lowercase();
        if lower.contains("denied") || lower.contains("administrative rights") {
            return bitlocker_needs_admin();
        }
        return CheckResult::unknown(
            check,
            format!(
                "unrecognised `manage-bde -status C:` output: {}",
                excerpt(output)
            ),
            FIX_BITLOCKER,
        );
    };
    let encrypted = match conversion.to_ascii_lowercase().as_str() {
        "fully encrypted" | "used space only encrypted" => true,
        "encryption in progress" | "encryption paused" => {
            let done = bde_field(output, "Percentage Encrypted").unwrap_or("?");
            return CheckResult::fail(
                check,
                format!("BitLocker has not finished encrypting C: ({conversion}, {done})"),
                "leave the PC on until BitLocker finishes encrypting C:",
            );
        }
        "fully decrypted" | "decryption in progress" | "decryption paused" => false,
        _ => {
            return CheckResult::unknown(
                check,
                format!("unrecognised BitLocker conversion status {conversion:?}"),
                FIX_BITLOCKER,
            );
        }
    };
    let protected = protection.to_ascii_lowercase().starts_with("protection on");
    match (encrypted, protected) {
        (true, true) => CheckResult::pass(
            check,
            format!(
                "C: is {} with BitLocker, protection on",
                conversion.to_ascii_lowercase()
            ),
        ),
        (true, false) => CheckResult::fail(
            check,
            format!("BitLocker protection on C: is not on ({protection})"),
            "resume BitLocker protection in Control Panel > BitLocker Drive Encryption",
        ),
        (false, _) => CheckResult::fail(
            check,
            format!("C: is not encrypted (BitLocker: {conversion})"),
            FIX_BITLOCKER,
        ),
    }
}

/// What `netsh advfirewall show allprofiles state` said.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Firewall {
    /// On for the domain, private and public profiles.
    On,
    /// The profiles that are off, lower case (`private`, `public`).
    Off(Vec<String>),
    /// Why the state is not known.
    Unreadable(String),
}

/// `netsh advfirewall show allprofiles state`: a `… Profile Settings:` header, a dashed line
/// and `State   ON` (or `OFF`) for each of the three profiles.
fn parse_netsh_firewall(output: &str) -> Firewall {
    let mut profile: Option<String> = None;
    let mut states: Vec<(String, bool)> = Vec::new();
    for line in output.lines().map(str::trim) {
        if let Some(name) = line
            .strip_suffix(':')
            .and_then(|h| h.strip_suffix("Profile Settings"))
        {
            profile = Some(name.trim().to_ascii_lowercase());
        } else if let Some(state) = line.strip_prefix("State") {
            let on = match state.trim() {
                "ON" => true,
                "OFF" => false,
                _ => {
                    return Firewall::Unreadable(format!(
                        "unrecognised firewall state {:?}",
                        state.trim()
                    ));
                }
            };
            if let Some(name) = profile.take() {
                states.push((name, on));
            }
        }
    }
    let all = ["domain", "private", "public"];
    if !all
        .iter()
        .all(|want| states.iter().any(|(name, _)| name == want))
    {
        return Firewall::Unreadable(format!(
            "unrecognised `netsh advfirewall` output: {}",
            excerpt(output)
        ));
    }
    let off: Vec<String> = states
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(name, _)| name)
        .collect();
    if off.is_empty() {
        Firewall::On
    } else {
        Firewall::Off(off)
    }
}

/// PowerShell's `True` / `False`.
fn parse_true_false(output: &str) -> Option<bool> {
    match output.trim() {
        "True" => Some(true),
        "False" => Some(false),
        _ => None,
    }
}

/// The firewall check: every firewall profile on and Defender real-time protection not off.
/// Defender's state may be unreadable (another antivirus, no rights); the firewall alone
/// then decides, and the evidence says so.
fn firewall_result(firewall: &Firewall, defender: Option<bool>) -> CheckResult {
    let check = Check::Firewall;
    let defender_text = match defender {
        Some(true) => "Defender real-time protection is on",
        Some(false) => "Defender real-time protection is off",
        None => "Defender status unreadable",
    };
    match (firewall, defender) {
        (Firewall::On, Some(false)) => CheckResult::fail(
            check,
            format!("Windows Firewall is on, but {defender_text}"),
            FIX_DEFENDER,
        ),
        (Firewall::On, _) => CheckResult::pass(
            check,
            format!("Windows Firewall is on for all profiles; {defender_text}"),
        ),
        (Firewall::Off(names), _) => CheckResult::fail(
            check,
            format!(
                "Windows Firewall is off for the {} profile{}; {defender_text}",
                names.join(" and "),
                if names.len() > 1 { "s" } else { "" }
            ),
            if defender == Some(false) {
                "turn on the firewall and real-time protection in Windows Security"
            } else {
                FIX_FIREWALL
            },
        ),
        (Firewall::Unreadable(why), Some(false)) => {
            CheckResult::fail(check, format!("{defender_text}; {why}"), FIX_DEFENDER)
        }
        (Firewall::Unreadable(why), _) => {
            CheckResult::unknown(check, format!("{why}; {defender_text}"), FIX_FIREWALL)
        }
    }
}

/// `Confirm-SecureBootUEFI`: `True` or `False`.
fn parse_secure_boot(output: &str) -> CheckResult {
    let check = Check::SecureBoot;
    match parse_true_false(output) {
        Some(true) => CheckResult::pass(check, "Secure Boot is on"),
        Some(false) => CheckResult::fail(check, "Secure Boot is off", FIX_SECURE_BOOT),
        None => CheckResult::unknown(
            check,
            format!(
                "unrecognised `Confirm-SecureBootUEFI` output: {}",
                excerpt(output)
            ),
            FIX_SECURE_BOOT,
        ),
    }
}

/// The values `reg query` lists, as (name, data): `    ScreenSaveActive    REG_SZ    1`.
fn reg_values(output: &str) -> Vec<(&str, &str)> {
    output
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().split_once("    REG_")?;
            let data = rest.split_once("    ").map_or("", |(_, data)| data);
            Some((name.trim(), data.trim()))
        })
        .collect()
}

/// The screen-saver values in one registry key, as written there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ScreenSaver {
    active: Option<String>,
    secure: Option<String>,
    timeout: Option<String>,
}

impl ScreenSaver {
    /// These values, with `other`'s filling the gaps (policy values win over the user's).
    fn or(self, other: ScreenSaver) -> ScreenSaver {
        ScreenSaver {
            active: self.active.or(other.active),
            secure: self.secure.or(other.secure),
            timeout: self.timeout.or(other.timeout),
        }
    }
}

/// Whether `reg query` printed a key (`HKEY_CURRENT_USER\…`) rather than something else.
fn is_reg_listing(output: &str) -> bool {
    output.lines().any(|line| line.trim().starts_with("HKEY_"))
}

/// `reg query` of the desktop key or its policy key; `None` when it lists no key.
fn parse_screen_saver(output: &str) -> Option<ScreenSaver> {
    if !is_reg_listing(output) {
        return None;
    }
    let values = reg_values(output);
    let get = |name: &str| {
        values
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, data)| (*data).to_owned())
    };
    Some(ScreenSaver {
        active: get("ScreenSaveActive"),
        secure: get("ScreenSaverIsSecure"),
        timeout: get("ScreenSaveTimeOut"),
    })
}

/// The screen-lock check from the user's desktop key and its policy key (`None`: the
/// command failed, which for the policy key means no policy is set).
fn screen_lock(user: Option<&str>, policy: Option<&str>) -> CheckResult {
    let check = Check::ScreenLock;
    let Some(user) = user else {
        return CheckResult::unknown(
            check,
            format!("`reg query {DESKTOP_KEY}` did not answer"),
            FIX_SCREEN_LOCK,
        );
    };
    let Some(user) = parse_screen_saver(user) else {
        return CheckResult::unknown(
            check,
            format!("unrecognised `reg query` output: {}", excerpt(user)),
            FIX_SCREEN_LOCK,
        );
    };
    let policy = policy.and_then(parse_screen_saver).unwrap_or_default();
    screen_lock_result(&policy.or(user))
}

/// Passes when the screen saver is on, asks for the password and starts within
/// [`MAX_LOCK_DELAY_SECS`]. A value that is not set counts as off.
fn screen_lock_result(saver: &ScreenSaver) -> CheckResult {
    let check = Check::ScreenLock;
    let flag = |value: &Option<String>| match value.as_deref() {
        None | Some("0") => Some(false),
        Some("1") => Some(true),
        Some(_) => None,
    };
    let timeout = match saver.timeout.as_deref() {
        None => Some(0),
        Some(t) => t.parse::<u64>().ok(),
    };
    let (Some(active), Some(secure), Some(timeout)) =
        (flag(&saver.active), flag(&saver.secure), timeout)
    else {
        return CheckResult::unknown(
            check,
            format!("unrecognised screen saver settings {saver:?}"),
            FIX_SCREEN_LOCK,
        );
    };
    let fail = |evidence: String| CheckResult::fail(check, evidence, FIX_SCREEN_LOCK);
    if !active {
        fail("the screen saver is off".to_owned())
    } else if !secure {
        fail("the screen saver does not ask for the password".to_owned())
    } else if timeout == 0 {
        fail("the screen saver has no idle time set".to_owned())
    } else if timeout > MAX_LOCK_DELAY_SECS {
        fail(format!(
            "the screen locks only after {timeout} seconds idle (at most {MAX_LOCK_DELAY_SECS} allowed)"
        ))
    } else {
        CheckResult::pass(
            check,
            format!("the screen locks after {timeout} seconds idle"),
        )
    }
}

/// A `REG_DWORD` as `reg query` prints it: `0x1`.
fn parse_dword(data: &str) -> Option<u32> {
    u32::from_str_radix(data.strip_prefix("0x")?, 16).ok()
}

/// The Windows Update policy key, or `None` when `reg query` failed. `reg` ships with every
/// Windows, so a failure means the key does not exist: no policy, and Windows' default is to
/// install updates automatically.
fn auto_updates(policy: Option<&str>) -> CheckResult {
    let check = Check::AutoUpdates;
    let Some(output) = policy else {
        return CheckResult::pass(
            check,
            "no Windows Update policy: Windows' default (automatic updates on)",
        );
    };
    if !is_reg_listing(output) {
        return CheckResult::unknown(
            check,
            format!("unrecognised `reg query` output: {}", excerpt(output)),
            FIX_UPDATES,
        );
    }
    let values = reg_values(output);
    let dword = |name: &str| {
        values
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, data)| parse_dword(data).ok_or(*data))
    };
    let unknown = |data: &str| {
        CheckResult::unknown(
            check,
            format!("unrecognised Windows Update policy value {data:?}"),
            FIX_UPDATES,
        )
    };
    match dword("NoAutoUpdate") {
        Some(Ok(0)) | None => {}
        Some(Ok(_)) => {
            return CheckResult::fail(
                check,
                "a policy turns automatic updates off (NoAutoUpdate)",
                FIX_UPDATES,
            );
        }
        Some(Err(data)) => return unknown(data),
    }
    match dword("AUOptions") {
        None => CheckResult::pass(
            check,
            "no policy turns automatic updates off (Windows' default: on)",
        ),
        Some(Ok(2)) => CheckResult::fail(
            check,
            "a policy makes Windows Update only notify (AUOptions 2)",
            FIX_UPDATES,
        ),
        Some(Ok(3)) => CheckResult::pass(
            check,
            "a policy downloads updates automatically and asks to install them (AUOptions 3)",
        ),
        Some(Ok(4)) => CheckResult::pass(
            check,
            "a policy installs updates automatically (AUOptions 4)",
        ),
        Some(Ok(7)) => CheckResult::pass(
            check,
            "a policy downloads updates automatically and asks to install them (AUOptions 7)",
        ),
        Some(Ok(5)) => CheckResult::unknown(
            check,
            "a policy lets local administrators choose the update setting (AUOptions 5)",
            FIX_UPDATES,
        ),
        Some(Ok(n)) => unknown(&n.to_string()),
        Some(Err(data)) => unknown(data),
    }
}

/// The first field of a CSV line when it is quoted (`"a ""b"" c",…` → `a "b" c`).
fn first_quoted_field(line: &str) -> Option<String> {
    let mut chars = line.trim().strip_prefix('"')?.chars().peekable();
    let mut field = String::new();
    while let Some(c) = chars.next() {
        if c != '"' {
            field.push(c);
        } else if chars.peek() == Some(&'"') {
            chars.next();
            field.push('"');
        } else {
            return Some(field);
        }
    }
    None
}

/// `tasklist /fo csv /nh`: the image names (`svchost.exe`), as given; sorted, once each.
/// Lines that are not quoted CSV (an `INFO:` message) are skipped.
fn parse_tasklist(output: &str) -> Vec<String> {
    let mut names: Vec<String> = output
        .lines()
        .filter_map(first_quoted_field)
        .filter(|name| !name.trim().is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests;
