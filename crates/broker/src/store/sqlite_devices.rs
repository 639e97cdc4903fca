//! The SQLite side of the device registry: registering and checking a request's device
//! inside the writer's transaction, an admin's status change, and the reads behind
//! `Store::devices`.

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite_hosts::Applied;
use super::{DeviceUse, StoreError};
use zt_core::device::{Attestation, Device, DeviceRequirement, DeviceStatus};

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
    attestation TEXT NOT NULL DEFAULT 'none'
) WITHOUT ROWID;
";

/// Register `device` on first use, or check and touch it: refused when revoked, owned by
/// another identity, or not approved where that is required.
pub(super) fn use_device(conn: &Connection, device: &DeviceUse) -> Result<(), Applied> {
    let known: Option<(String, String, String)> = conn
        .prepare_cached("SELECT issuer, subject, status FROM devices WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row(params![device.id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(Applied::Sql)?;
    let status = match known {
        None => {
            conn.prepare_cached(
                "INSERT INTO devices (id, issuer, subject, hostname, os, first_seen, last_seen, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'registered')",
            )
            .and_then(|mut s| {
                s.execute(params![
                    device.id,
                    device.issuer,
                    device.subject,
                    device.hostname.as_deref().unwrap_or_default(),
                    device.os.as_deref().unwrap_or_default(),
                    device.now as i64
                ])
            })
            .map_err(Applied::Sql)?;
            DeviceStatus::Registered
        }
        Some((issuer, subject, status)) => {
            if issuer != device.issuer || subject != device.subject {
                return Err(Applied::Refused(StoreError::DeviceOfAnotherUser));
            }
            let status = DeviceStatus::parse(&status).unwrap_or(DeviceStatus::Revoked);
            conn.prepare_cached(
                "UPDATE devices SET last_seen = ?2,
                    hostname = coalesce(?3, hostname), os = coalesce(?4, os)
                 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    device.id,
                    device.now as i64,
                    device.hostname,
                    device.os
                ])
            })
            .map_err(Applied::Sql)?;
            status
        }
    };
    match (status, device.require) {
        (DeviceStatus::Revoked, _) => Err(Applied::Refused(StoreError::DeviceRevoked)),
        (DeviceStatus::Registered, DeviceRequirement::Approved) => {
            Err(Applied::Refused(StoreError::DeviceNotApproved))
        }
        _ => Ok(()),
    }
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

pub(super) fn devices(conn: &Connection) -> rusqlite::Result<Vec<Device>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, issuer, subject, hostname, os, first_seen, last_seen, status
         FROM devices ORDER BY last_seen DESC, id",
    )?;
    let rows = stmt.query_map([], |r| {
        let status: String = r.get(7)?;
        Ok(Device {
            id: r.get(0)?,
            issuer: r.get(1)?,
            subject: r.get(2)?,
            hostname: r.get(3)?,
            os: r.get(4)?,
            first_seen: r.get::<_, i64>(5)? as u64,
            last_seen: r.get::<_, i64>(6)? as u64,
            status: DeviceStatus::parse(&status).unwrap_or(DeviceStatus::Revoked),
            attestation: Attestation::None,
        })
    })?;
    rows.collect()
}
