//! Device posture: the report a device makes about itself (wire type), and the pure
//! evaluation of a report against a policy rule's requirements. Collecting the report is the
//! client's business (`src/posture/`); the DPoP proof of the request that carries it signs its
//! [`digest`] together with a fresh broker nonce ([`crate::dpop::Binding`], [`crate::nonce`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a device says about itself, collected just before a certificate request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostureReport {
    /// `linux`, `macos` or `windows`.
    pub os: String,
    /// The distribution or product: os-release `ID` (`debian`, `ubuntu`, `fedora`), `macos`,
    /// `windows`.
    pub os_id: String,
    /// os-release `VERSION_ID`, the macOS product version, the Windows build (`10.0.22631`).
    pub os_version: String,
    /// A name for people: os-release `PRETTY_NAME` and the like.
    #[serde(default)]
    pub os_name: String,
    /// The kernel release (`6.1.0-26-amd64`), where there is one.
    #[serde(default)]
    pub kernel: String,
    /// The device's host name (for the device registry; never a policy input).
    #[serde(default)]
    pub hostname: String,
    pub zt_version: String,
    /// One result per check, at most one per [`Check`].
    pub checks: Vec<CheckResult>,
    /// Names of the processes running (for `require.posture.processes`).
    #[serde(default)]
    pub processes: Vec<String>,
}

/// The checks a device runs on itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The root and home file systems sit on an encrypted block device.
    DiskEncryption,
    /// A host firewall is active and drops unsolicited inbound traffic.
    Firewall,
    /// The machine booted with Secure Boot (or the platform's equivalent: SIP on macOS).
    SecureBoot,
    /// The screen locks after a bounded idle time (where there is a desktop session).
    ScreenLock,
    /// Security updates install automatically.
    AutoUpdates,
}

impl Check {
    pub const ALL: [Check; 5] = [
        Check::DiskEncryption,
        Check::Firewall,
        Check::SecureBoot,
        Check::ScreenLock,
        Check::AutoUpdates,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Check::DiskEncryption => "disk_encryption",
            Check::Firewall => "firewall",
            Check::SecureBoot => "secure_boot",
            Check::ScreenLock => "screen_lock",
            Check::AutoUpdates => "auto_updates",
        }
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// The device could not tell (no permission, no such facility here).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub check: Check,
    pub status: Status,
    /// What was found, for people: "/ is on dm-crypt (LUKS2) via /dev/dm-0".
    pub evidence: String,
    /// One line on how to pass, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl CheckResult {
    pub fn pass(check: Check, evidence: impl Into<String>) -> Self {
        CheckResult {
            check,
            status: Status::Pass,
            evidence: evidence.into(),
            fix: None,
        }
    }

    pub fn fail(check: Check, evidence: impl Into<String>, fix: impl Into<String>) -> Self {
        CheckResult {
            check,
            status: Status::Fail,
            evidence: evidence.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn unknown(check: Check, evidence: impl Into<String>, fix: impl Into<String>) -> Self {
        CheckResult {
            check,
            status: Status::Unknown,
            evidence: evidence.into(),
            fix: Some(fix.into()),
        }
    }
}

impl PostureReport {
    pub fn result(&self, check: Check) -> Option<&CheckResult> {
        self.checks.iter().find(|r| r.check == check)
    }
}

/// What a policy rule requires of a device (`require.posture`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// Checks that must pass.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Minimum OS versions by `os_id` (`debian = "12"`, `macos = "14.5"`); a device whose
    /// `os_id` is not listed is refused when any minimum is set.
    #[serde(default)]
    pub min_os: BTreeMap<String, String>,
    /// Minimum kernel release (`6.1`).
    #[serde(default)]
    pub min_kernel: Option<String>,
    /// Minimum zt version (`0.2.0`).
    #[serde(default)]
    pub min_zt: Option<String>,
    /// Processes that must be running (an EDR agent, say), by name.
    #[serde(default)]
    pub processes: Vec<String>,
    /// What an `unknown` check counts as.
    #[serde(default)]
    pub unknown: Unknown,
    /// Per check, how long a failing device may still get (short) certificates, in seconds,
    /// counted from the first failure the broker saw.
    #[serde(default)]
    pub grace_secs: BTreeMap<Check, u64>,
}

impl Requirements {
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
            && self.min_os.is_empty()
            && self.min_kernel.is_none()
            && self.min_zt.is_none()
            && self.processes.is_empty()
    }
}

/// For people: `disk_encryption, firewall (grace 2m), min_os debian 12, process falcon-sensor;
/// unknown counts as a failure`.
impl std::fmt::Display for Requirements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> = self
            .checks
            .iter()
            .map(|c| match self.grace_secs.get(c) {
                Some(secs) => format!(
                    "{} (grace {})",
                    c.as_str(),
                    crate::policy::DisplayDuration(std::time::Duration::from_secs(*secs))
                ),
                None => c.as_str().to_owned(),
            })
            .collect();
        parts.extend(self.min_os.iter().map(|(os, v)| format!("min_os {os} {v}")));
        parts.extend(self.min_kernel.iter().map(|v| format!("min_kernel {v}")));
        parts.extend(self.min_zt.iter().map(|v| format!("min_zt {v}")));
        parts.extend(self.processes.iter().map(|p| format!("process {p}")));
        write!(f, "{}", parts.join(", "))?;
        match self.unknown {
            Unknown::Deny => write!(f, "; unknown counts as a failure"),
            Unknown::Allow => write!(f, "; unknown counts as a pass"),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    #[default]
    Deny,
    Allow,
}

/// One requirement a report did not meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failing {
    /// `disk_encryption`, `min_os`, `process:falcon-sensor`, …
    pub requirement: String,
    pub evidence: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The check, when the requirement is one (grace applies to checks only).
    #[serde(skip)]
    pub check: Option<Check>,
}

/// A report held against requirements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Requirement names met, in a stable order.
    pub passed: Vec<String>,
    pub failing: Vec<Failing>,
}

impl Evaluation {
    pub fn ok(&self) -> bool {
        self.failing.is_empty()
    }
}

/// Hold `report` against `req`. Pure.
pub fn evaluate(report: &PostureReport, req: &Requirements) -> Evaluation {
    let mut out = Evaluation::default();
    for check in &req.checks {
        let result = report.result(*check);
        let status = result.map_or(Status::Unknown, |r| r.status);
        let met = match status {
            Status::Pass => true,
            Status::Unknown => req.unknown == Unknown::Allow,
            Status::Fail => false,
        };
        if met {
            out.passed.push(check.as_str().to_owned());
        } else {
            out.failing.push(Failing {
                requirement: check.as_str().to_owned(),
                evidence: result.map_or_else(
                    || "the device did not report this check".to_owned(),
                    |r| r.evidence.clone(),
                ),
                fix: result.and_then(|r| r.fix.clone()),
                check: Some(*check),
            });
        }
    }
    if !req.min_os.is_empty() {
        match req.min_os.get(&report.os_id) {
            Some(min) if version_at_least(&report.os_version, min) => {
                out.passed.push("min_os".into())
            }
            Some(min) => out.failing.push(Failing {
                requirement: "min_os".into(),
                evidence: format!("{} {} is older than {min}", report.os_id, report.os_version),
                fix: Some(format!("upgrade {} to {min} or later", report.os_id)),
                check: None,
            }),
            None => out.failing.push(Failing {
                requirement: "min_os".into(),
                evidence: format!(
                    "{} is not an allowed operating system ({})",
                    report.os_id,
                    req.min_os.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                fix: None,
                check: None,
            }),
        }
    }
    if let Some(min) = &req.min_kernel {
        if version_at_least(&report.kernel, min) {
            out.passed.push("min_kernel".into());
        } else {
            out.failing.push(Failing {
                requirement: "min_kernel".into(),
                evidence: format!("kernel {} is older than {min}", report.kernel),
                fix: Some(format!("install kernel {min} or later and reboot")),
                check: None,
            });
        }
    }
    if let Some(min) = &req.min_zt {
        if version_at_least(&report.zt_version, min) {
            out.passed.push("min_zt".into());
        } else {
            out.failing.push(Failing {
                requirement: "min_zt".into(),
                evidence: format!("zt {} is older than {min}", report.zt_version),
                fix: Some(format!("upgrade zt to {min} or later")),
                check: None,
            });
        }
    }
    for name in &req.processes {
        let requirement = format!("process:{name}");
        if report.processes.iter().any(|p| p == name) {
            out.passed.push(requirement);
        } else {
            out.failing.push(Failing {
                requirement,
                evidence: format!("no process named {name:?} is running"),
                fix: Some(format!("start {name}")),
                check: None,
            });
        }
    }
    out
}

/// Whether dotted version `have` is at least `want`, comparing the leading numbers of each
/// component (`6.1.0-26-amd64` ≥ `6.1`, `22.04` ≥ `22.4`, `10.0.22631` ≥ `10.0.19045`).
/// Anything without a leading number compares as 0.
pub fn version_at_least(have: &str, want: &str) -> bool {
    let parse = |text: &str| -> Vec<u64> {
        text.split(['.', '-', '+'])
            .map(|part| {
                part.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0)
            })
            .collect()
    };
    let (have, want) = (parse(have), parse(want));
    for i in 0..have.len().max(want.len()) {
        let (h, w) = (
            have.get(i).copied().unwrap_or(0),
            want.get(i).copied().unwrap_or(0),
        );
        if h != w {
            return h > w;
        }
    }
    true
}

/// A digest of a report, for audit records and the certificate extension: base64url SHA-256
/// of its canonical JSON.
pub fn digest(report: &PostureReport) -> String {
    let json = serde_json::to_vec(report).expect("reports serialise");
    crate::jose::sha256_b64(&json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(results: &[(Check, Status)]) -> PostureReport {
        PostureReport {
            os: "linux".into(),
            os_id: "debian".into(),
            os_version: "12".into(),
            os_name: "Debian GNU/Linux 12 (bookworm)".into(),
            kernel: "6.1.0-26-amd64".into(),
            hostname: "laptop".into(),
            zt_version: "0.1.0".into(),
            checks: results
                .iter()
                .map(|(check, status)| CheckResult {
                    check: *check,
                    status: *status,
                    evidence: format!("{} {status:?}", check.as_str()),
                    fix: (*status != Status::Pass).then(|| "fix it".to_owned()),
                })
                .collect(),
            processes: vec!["sshd".into(), "falcon-sensor".into()],
        }
    }

    #[test]
    fn passing_failing_and_unknown_checks() {
        let r = report(&[
            (Check::DiskEncryption, Status::Pass),
            (Check::Firewall, Status::Fail),
            (Check::SecureBoot, Status::Unknown),
        ]);
        let req = Requirements {
            checks: vec![Check::DiskEncryption, Check::Firewall, Check::SecureBoot],
            ..Requirements::default()
        };
        let e = evaluate(&r, &req);
        assert_eq!(e.passed, ["disk_encryption"]);
        let failing: Vec<_> = e.failing.iter().map(|f| f.requirement.as_str()).collect();
        assert_eq!(failing, ["firewall", "secure_boot"]);
        assert_eq!(e.failing[0].fix.as_deref(), Some("fix it"));

        let lenient = Requirements {
            unknown: Unknown::Allow,
            ..req
        };
        let e = evaluate(&r, &lenient);
        assert_eq!(e.passed, ["disk_encryption", "secure_boot"]);
    }

    #[test]
    fn a_check_the_device_did_not_report_is_unknown() {
        let req = Requirements {
            checks: vec![Check::ScreenLock],
            ..Requirements::default()
        };
        let e = evaluate(&report(&[]), &req);
        assert_eq!(e.failing[0].requirement, "screen_lock");
        assert!(e.failing[0].evidence.contains("did not report"));
    }

    #[test]
    fn versions_processes_and_operating_systems() {
        let r = report(&[]);
        let req = Requirements {
            min_os: BTreeMap::from([
                ("debian".into(), "12".into()),
                ("ubuntu".into(), "22.04".into()),
            ]),
            min_kernel: Some("6.1".into()),
            min_zt: Some("0.1.0".into()),
            processes: vec!["falcon-sensor".into()],
            ..Requirements::default()
        };
        assert!(evaluate(&r, &req).ok());
        let stricter = Requirements {
            min_os: BTreeMap::from([("debian".into(), "13".into())]),
            min_kernel: Some("6.12".into()),
            min_zt: Some("0.2.0".into()),
            processes: vec!["osqueryd".into()],
            ..Requirements::default()
        };
        let failing: Vec<_> = evaluate(&r, &stricter)
            .failing
            .into_iter()
            .map(|f| f.requirement)
            .collect();
        assert_eq!(
            failing,
            ["min_os", "min_kernel", "min_zt", "process:osqueryd"]
        );
        let other_os = Requirements {
            min_os: BTreeMap::from([("fedora".into(), "40".into())]),
            ..Requirements::default()
        };
        assert!(
            evaluate(&r, &other_os).failing[0]
                .evidence
                .contains("not an allowed")
        );
    }

    #[test]
    fn version_comparison() {
        assert!(version_at_least("6.1.0-26-amd64", "6.1"));
        assert!(!version_at_least("5.15.0", "6.1"));
        assert!(version_at_least("22.04", "22.04"));
        assert!(version_at_least("10.0.22631", "10.0.19045"));
        assert!(!version_at_least("14.4.1", "14.5"));
        assert!(version_at_least("12", "11.9"));
        assert!(!version_at_least("", "1"));
    }

    #[test]
    fn the_digest_changes_with_the_report() {
        let a = report(&[(Check::Firewall, Status::Pass)]);
        let b = report(&[(Check::Firewall, Status::Fail)]);
        assert_ne!(digest(&a), digest(&b));
        assert_eq!(digest(&a), digest(&a.clone()));
    }
}
