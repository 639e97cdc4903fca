//! Devices: a device is the key that signs a client's DPoP proofs (its RFC 7638 thumbprint is
//! the device ID). The broker registers a device on first use, owned by the identity that used
//! it; an admin can approve or revoke it. The record has room for how strongly the key is tied
//! to hardware (`attestation`), which TPM-backed keys will raise.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::posture::Check;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// The device key's thumbprint.
    pub id: String,
    /// The identity that registered it (IdP issuer and subject).
    pub issuer: String,
    pub subject: String,
    /// From the device's posture reports; empty until one was seen.
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub os: String,
    pub first_seen: u64,
    pub last_seen: u64,
    pub status: DeviceStatus,
    pub attestation: Attestation,
    /// Posture checks this device has been failing, since when (unix seconds): a rule's
    /// `grace` counts from here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub posture_failing_since: BTreeMap<Check, u64>,
}

/// The first-failure times after a report that fails `failing`: a check that keeps failing
/// keeps its first time, a new failure starts at `now`, a check that passes again is
/// forgotten.
pub fn update_failing_since(
    previous: &BTreeMap<Check, u64>,
    failing: &[Check],
    now: u64,
) -> BTreeMap<Check, u64> {
    failing
        .iter()
        .map(|check| (*check, previous.get(check).copied().unwrap_or(now)))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Seen and owned by its first user; not reviewed by an admin.
    Registered,
    /// An admin approved it (`zt-broker device approve`).
    Approved,
    /// An admin revoked it: no tokens, no certificates.
    Revoked,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Registered => "registered",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            DeviceStatus::Registered,
            DeviceStatus::Approved,
            DeviceStatus::Revoked,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// How the device key is held. Today every key is a software key the device itself made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attestation {
    /// A software key: nothing proves where it lives.
    None,
}

/// What a policy rule requires of the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceRequirement {
    /// Any device that is not revoked (every device is registered on first use).
    #[default]
    Registered,
    /// A device an admin approved.
    Approved,
}

impl DeviceRequirement {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceRequirement::Registered => "registered",
            DeviceRequirement::Approved => "approved",
        }
    }
}
