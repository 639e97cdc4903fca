//! The SQLite side of revocations and host enrolment tokens: applying
//! [`Change`]s inside the writer's transaction, and the reads behind
//! `Store::revocations` and `Store::enrolment_token`.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Change, EnrolmentToken, StoreError};
use zt_core::revocation::{Revocation, RevocationList};

/// Why a write was not applied: the store refused it (a replay, a revoked identity, a
/// used token), or SQLite failed. The writer rolls back either way.
pub(super) enum Applied {
    Refused(StoreError),
    Sql(rusqlite::Error),
}

/// Apply one change; `time` is the write's audit time.
pub(super) fn apply(conn: &Connection, change: &Change, time: u64) -> Result<(), Applied> {
    match change {
        Change::Revoke(revocation) => {
            let (kind, value) = revocation.store_key();
            conn.prepare_cached(
                "INSERT OR IGNORE INTO revocations (kind, value, time) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![kind, value, time as i64]))
            .map_err(Applied::Sql)?;
        }
        Change::AddEnrolmentToken(token) => {
            let principals = serde_json::to_string(&token.principals).expect("strings serialise");
            conn.prepare_cached(
                "INSERT INTO enrolment_tokens (hash, principals, expires_at) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![token.hash, principals, token.expires_at as i64]))
            .map_err(Applied::Sql)?;
        }
        Change::SetDeviceStatus { id, status } => {
            super::sqlite_devices::set_status(conn, id, *status)?;
        }
        Change::UseEnrolmentToken { hash, now } => {
            let updated = conn
                .prepare_cached(
                    "UPDATE enrolment_tokens SET used_at = ?2 WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                )
                .and_then(|mut s| s.execute(params![hash, *now as i64]))
                .map_err(Applied::Sql)?;
            if updated == 0 {
                return Err(Applied::Refused(StoreError::TokenUnusable));
            }
        }
    }
    Ok(())
}

pub(super) fn user_revoked(
    conn: &Connection,
    issuer: &str,
    subject: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT count(*) > 0 FROM revocations WHERE kind = 'user' AND value = ?1")?
        .query_row(
            params![Revocation::user_store_value(issuer, subject)],
            |r| r.get(0),
        )
}

pub(super) fn revocations(conn: &Connection, now: u64) -> rusqlite::Result<RevocationList> {
    let mut stmt =
        conn.prepare_cached("SELECT id, kind, value, time FROM revocations ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut list = revocation_list(rows.collect::<rusqlite::Result<Vec<_>>>()?);
    // Every unexpired certificate issued to a revoked user, through the serials' user index.
    // Computed here rather than at revocation time, so a certificate that raced the
    // revocation is listed too.
    let mut stmt = conn.prepare_cached(
        "SELECT serial FROM serials WHERE issuer = ?1 AND subject = ?2 AND valid_before > ?3",
    )?;
    for (issuer, subject) in revoked_users(&list) {
        let serials =
            stmt.query_map(params![issuer, subject, now as i64], |r| r.get::<_, i64>(0))?;
        for serial in serials {
            list.user_serials.push(serial? as u64);
        }
    }
    list.user_serials.sort_unstable();
    list.user_serials.dedup();
    Ok(list)
}

/// The serials' owner columns and their index, added to a database from before them and
/// filled from the audit records their serials point at (once; later writes fill them).
pub(super) fn serials_by_user(conn: &Connection) -> rusqlite::Result<()> {
    let has_owner: bool = conn.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info('serials') WHERE name = 'issuer'",
        [],
        |r| r.get(0),
    )?;
    if !has_owner {
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             ALTER TABLE serials ADD COLUMN issuer TEXT;
             ALTER TABLE serials ADD COLUMN subject TEXT;
             ALTER TABLE serials ADD COLUMN valid_before INTEGER;
             UPDATE serials SET
                 issuer = (SELECT json_extract(a.record, '$.identity.issuer') FROM audit a
                           WHERE a.seq = serials.audit_seq
                             AND json_extract(a.record, '$.kind') = 'certificate_issued'),
                 subject = (SELECT json_extract(a.record, '$.identity.subject') FROM audit a
                            WHERE a.seq = serials.audit_seq
                              AND json_extract(a.record, '$.kind') = 'certificate_issued'),
                 valid_before = (SELECT json_extract(a.record, '$.certificate.valid_before')
                                 FROM audit a WHERE a.seq = serials.audit_seq);
             COMMIT;",
        )?;
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS serials_user ON serials (issuer, subject, valid_before)",
    )
}

/// The revocations table's rows (id, kind, value, time) as a list, without the serials of
/// revoked users' certificates.
pub(super) fn revocation_list(rows: Vec<(i64, String, String, i64)>) -> RevocationList {
    let mut list = RevocationList::default();
    for (id, kind, value, time) in rows {
        list.version = list.version.max(id as u64);
        list.updated_at = list.updated_at.max(time as u64);
        match Revocation::from_store(&kind, &value) {
            Some(r) => list.entries.push(r),
            None => tracing::warn!(%kind, "unknown revocation kind in the store; ignored"),
        }
    }
    list
}

/// The (issuer, subject) of every revoked user in `list`.
pub(super) fn revoked_users(list: &RevocationList) -> Vec<(String, String)> {
    list.entries
        .iter()
        .filter_map(|r| match r {
            Revocation::User { issuer, subject } => Some((issuer.clone(), subject.clone())),
            _ => None,
        })
        .collect()
}

/// Whether a certificate (user or host) the revocation names was ever issued: by serial
/// through the serials table, otherwise from the issue records in the audit log.
pub(super) fn issued(conn: &Connection, what: &Revocation) -> rusqlite::Result<bool> {
    let issue_records = "SELECT count(*) > 0 FROM audit
         WHERE json_extract(record, '$.kind') IN ('certificate_issued', 'host_certificate_issued')";
    match what {
        Revocation::Serial(serial) => conn
            .prepare_cached("SELECT count(*) > 0 FROM serials WHERE serial = ?1")?
            .query_row(params![*serial as i64], |r| r.get(0)),
        Revocation::KeyId(key_id) => conn
            .prepare_cached(&format!(
                "{issue_records} AND json_extract(record, '$.certificate.key_id') = ?1"
            ))?
            .query_row(params![key_id], |r| r.get(0)),
        Revocation::Key(fingerprint) => conn
            .prepare_cached(&format!(
                "{issue_records} AND json_extract(record, '$.certificate.key_fingerprint') = ?1"
            ))?
            .query_row(params![fingerprint], |r| r.get(0)),
        // Through the serials' user index: a user's certificates are there, and a scan of
        // the log would cost seconds at 10^6 records.
        Revocation::User { issuer, subject } => conn
            .prepare_cached(
                "SELECT count(*) > 0 FROM serials WHERE issuer = ?1 AND subject = ?2 LIMIT 1",
            )?
            .query_row(params![issuer, subject], |r| r.get(0)),
    }
}

pub(super) fn enrolment_token(
    conn: &Connection,
    hash: &str,
) -> rusqlite::Result<Option<EnrolmentToken>> {
    conn.prepare_cached(
        "SELECT principals, expires_at, used_at IS NOT NULL FROM enrolment_tokens WHERE hash = ?1",
    )?
    .query_row(params![hash], |r| {
        let principals: String = r.get(0)?;
        Ok(EnrolmentToken {
            hash: hash.to_owned(),
            principals: serde_json::from_str(&principals).unwrap_or_default(),
            expires_at: r.get::<_, i64>(1)? as u64,
            used: r.get(2)?,
        })
    })
    .optional()
}
