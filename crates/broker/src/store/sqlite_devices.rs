//! The SQLite side of the device registry: registering and checking a request's device
//! inside the writer's transaction, an admin's status change, and the reads behind
//! `Store::devices`.

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite_hosts::Applied;
use super::{DeviceUse, StoreError};
use std::collections::BTreeMap;

use zt_core::device::{Attestation, Device, DeviceRequirement, DeviceStatus, update_failing_since};
use zt_core::posture::Check;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    hostname TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    status TEXT NOT NULL,
    attestation TEXT NOT NULL DEFAULT 'none',
    -- JSON object: posture check name -> unix seconds of its first failure.
    posture_failing_since TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
";

/// Register `device` on first use, or check and touch it: refused when revoked, owned by
/// another identity, or not approved where that is required.
pub(super) fn use_device(conn: &Connection, device: &DeviceUse) -> Result<(), Applied> {
    let known: Option<(String, String, String, String)> = conn
        .prepare_cached(
            "SELECT issuer, subject, status, posture_failing_since FROM devices WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.query_row(params![device.id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })
        .map_err(Applied::Sql)?;
    let failing_since = |previous: &str| failing_since(device, previous);
    let status = match known {
        None => {
            conn.prepare_cached(
                "INSERT INTO devices (id, issuer, subject, hostname, os, first_seen, last_seen, status,
                    posture_failing_since)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'registered', coalesce(?7, '{}'))",
            )
            .and_then(|mut s| {
                s.execute(params![
                    device.id,
                    device.issuer,
                    device.subject,
                    device.hostname.as_deref().unwrap_or_default(),
                    device.os.as_deref().unwrap_or_default(),
                    device.now as i64,
                    failing_since("{}"),
                ])
            })
            .map_err(Applied::Sql)?;
            DeviceStatus::Registered
        }
        Some((issuer, subject, status, previous)) => {
            if issuer != device.issuer || subject != device.subject {
                return Err(Applied::Refused(StoreError::DeviceOfAnotherUser));
            }
            let status = stored_status(&status);
            conn.prepare_cached(
                "UPDATE devices SET last_seen = ?2,
                    hostname = coalesce(?3, hostname), os = coalesce(?4, os),
                    posture_failing_since = coalesce(?5, posture_failing_since)
                 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    device.id,
                    device.now as i64,
                    device.hostname,
                    device.os,
                    failing_since(&previous),
                ])
            })
            .map_err(Applied::Sql)?;
            status
        }
    };
    verdict(status, device.require).map_err(Applied::Refused)
}

/// Whether a device in `status` may be used under `require`.
pub(super) fn verdict(status: DeviceStatus, require: DeviceRequirement) -> Result<(), StoreError> {
    match (status, require) {
        (DeviceStatus::Revoked, _) => Err(StoreError::DeviceRevoked),
        (DeviceStatus::Registered, DeviceRequirement::Approved) => {
            Err(StoreError::DeviceNotApproved)
        }
        _ => Ok(()),
    }
}

/// The first-failure map to store for `device`, given the stored one (`previous`), when the
/// request's posture was evaluated; `None` leaves the stored map as it is.
pub(super) fn failing_since(device: &DeviceUse, previous: &str) -> Option<String> {
    device.posture_failing.as_ref().map(|failing| {
        let updated = update_failing_since(&parse_failing_since(previous), failing, device.now);
        serde_json::to_string(&updated).expect("a map of checks to numbers serialises")
    })
}

/// An admin's approval or revocation of a registered device.
pub(super) fn set_status(conn: &Connection, id: &str, status: DeviceStatus) -> Result<(), Applied> {
    let changed = conn
        .prepare_cached("UPDATE devices SET status = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, status.as_str()]))
        .map_err(Applied::Sql)?;
    if changed == 0 {
        return Err(Applied::Refused(StoreError::UnknownDevice));
    }
    Ok(())
}

const COLUMNS: &str =
    "id, issuer, subject, hostname, os, first_seen, last_seen, status, posture_failing_since";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    let status: String = r.get(7)?;
    let failing: String = r.get(8)?;
    Ok(Device {
        id: r.get(0)?,
        issuer: r.get(1)?,
        subject: r.get(2)?,
        hostname: r.get(3)?,
        os: r.get(4)?,
        first_seen: r.get::<_, i64>(5)? as u64,
        last_seen: r.get::<_, i64>(6)? as u64,
        status: stored_status(&status),
        attestation: Attestation::None,
        posture_failing_since: parse_failing_since(&failing),
    })
}

/// A stored status; one this broker cannot read counts as revoked (fail closed).
pub(super) fn stored_status(text: &str) -> DeviceStatus {
    DeviceStatus::parse(text).unwrap_or(DeviceStatus::Revoked)
}

/// The stored first-failure map. Only this module writes the column; should it ever be
/// unreadable, it reads as empty.
pub(super) fn parse_failing_since(text: &str) -> BTreeMap<Check, u64> {
    serde_json::from_str(text).unwrap_or_default()
}

pub(super) fn devices(conn: &Connection) -> rusqlite::Result<Vec<Device>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM devices ORDER BY last_seen DESC, id"
    ))?;
    let rows = stmt.query_map([], row)?;
    rows.collect()
}

pub(super) fn device(conn: &Connection, id: &str) -> rusqlite::Result<Option<Device>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM devices WHERE id = ?1"))?
        .query_row(params![id], row)
        .optional()
}
