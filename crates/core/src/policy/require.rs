//! What a rule requires of the device, beyond the identity it matches (`[rules.require]`):
//! an approved device, and posture checks that each certificate request must pass. Loaded and
//! validated with the rest of the policy; evaluated by [`crate::posture::evaluate`] and, for the
//! device, inside the store's write.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::duration::parse_duration;
use super::error::PolicyError;
use crate::device::DeviceRequirement;
use crate::posture::{Check, Requirements, Unknown};
use crate::text::Printable;

/// When posture is required, no certificate outlives this by default: each renewal re-checks
/// the device.
pub const DEFAULT_POSTURE_TTL: Duration = Duration::from_secs(15 * 60);

/// A rule's requirements of the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Require {
    pub device: DeviceRequirement,
    /// `None`: the rule checks no posture (and a report, when one comes, is only recorded).
    pub posture: Option<Requirements>,
    /// Cap on the certificate's lifetime when `posture` is set.
    pub posture_ttl: Duration,
}

impl Default for Require {
    fn default() -> Self {
        Require {
            device: DeviceRequirement::Registered,
            posture: None,
            posture_ttl: DEFAULT_POSTURE_TTL,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequire {
    device: Option<String>,
    posture: Option<RawPosture>,
    posture_ttl: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPosture {
    #[serde(default)]
    disk_encryption: bool,
    #[serde(default)]
    firewall: bool,
    #[serde(default)]
    secure_boot: bool,
    #[serde(default)]
    screen_lock: bool,
    #[serde(default)]
    auto_updates: bool,
    #[serde(default)]
    min_os: BTreeMap<String, String>,
    min_kernel: Option<String>,
    min_zt: Option<String>,
    #[serde(default)]
    processes: Vec<String>,
    unknown: Option<String>,
    #[serde(default)]
    grace: BTreeMap<String, String>,
}

pub(super) fn load(rule: &str, raw: Option<RawRequire>) -> Result<Require, PolicyError> {
    let Some(raw) = raw else {
        return Ok(Require::default());
    };
    let bad = |field: &'static str, value: &str, reason: String| PolicyError::BadRequirement {
        rule: rule.to_owned(),
        field,
        value: Printable(value).to_string(),
        reason,
    };
    let device = match raw.device.as_deref() {
        None | Some("registered") => DeviceRequirement::Registered,
        Some("approved") => DeviceRequirement::Approved,
        Some(other) => {
            return Err(bad(
                "device",
                other,
                "use \"registered\" or \"approved\"".into(),
            ));
        }
    };
    let posture_ttl = match raw.posture_ttl.as_deref() {
        None => DEFAULT_POSTURE_TTL,
        Some(text) => parse_duration(text).map_err(|e| bad("posture_ttl", text, e.to_string()))?,
    };
    let posture = raw
        .posture
        .map(|p| load_posture(p, &bad))
        .transpose()?
        .filter(|p| !p.is_empty());
    Ok(Require {
        device,
        posture,
        posture_ttl,
    })
}

fn load_posture(
    raw: RawPosture,
    bad: &impl Fn(&'static str, &str, String) -> PolicyError,
) -> Result<Requirements, PolicyError> {
    let mut checks = Vec::new();
    for (on, check) in [
        (raw.disk_encryption, Check::DiskEncryption),
        (raw.firewall, Check::Firewall),
        (raw.secure_boot, Check::SecureBoot),
        (raw.screen_lock, Check::ScreenLock),
        (raw.auto_updates, Check::AutoUpdates),
    ] {
        if on {
            checks.push(check);
        }
    }
    let version = |field: &'static str, value: &str| {
        let ok = !value.is_empty()
            && value.chars().next().is_some_and(|c| c.is_ascii_digit())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c));
        if ok {
            Ok(())
        } else {
            Err(bad(
                field,
                value,
                "write a version such as 12, 22.04 or 6.1".into(),
            ))
        }
    };
    for (os, min) in &raw.min_os {
        if os.is_empty()
            || !os
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
        {
            return Err(bad(
                "min_os",
                os,
                "name the OS as os-release's ID does: debian, ubuntu, fedora, macos, windows"
                    .into(),
            ));
        }
        version("min_os", min)?;
    }
    for (field, value) in [("min_kernel", &raw.min_kernel), ("min_zt", &raw.min_zt)] {
        if let Some(v) = value {
            version(field, v)?;
        }
    }
    for name in &raw.processes {
        if name.is_empty()
            || name.len() > 15
            || name.contains('/')
            || name.chars().any(char::is_control)
        {
            return Err(bad(
                "processes",
                name,
                "a process name as /proc/PID/comm shows it (at most 15 characters)".into(),
            ));
        }
    }
    let unknown = match raw.unknown.as_deref() {
        None | Some("deny") => Unknown::Deny,
        Some("allow") => Unknown::Allow,
        Some(other) => return Err(bad("unknown", other, "use \"deny\" or \"allow\"".into())),
    };
    let mut grace_secs = BTreeMap::new();
    for (name, text) in &raw.grace {
        let check = Check::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| bad("grace", name, "grace applies to a check: disk_encryption, firewall, secure_boot, screen_lock or auto_updates".into()))?;
        if !checks.contains(&check) {
            return Err(bad(
                "grace",
                name,
                "the rule does not require this check".into(),
            ));
        }
        let duration = parse_duration(text).map_err(|e| bad("grace", text, e.to_string()))?;
        grace_secs.insert(check, duration.as_secs());
    }
    Ok(Requirements {
        checks,
        min_os: raw.min_os,
        min_kernel: raw.min_kernel,
        min_zt: raw.min_zt,
        processes: raw.processes,
        unknown,
        grace_secs,
    })
}
