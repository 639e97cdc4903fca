//! The SQLite side of revocations and host enrolment tokens: applying
//! [`Change`]s inside the writer's transaction, and the reads behind
//! `Store::revocations` and `Store::enrolment_token`.

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite::Applied;
use super::{Change, EnrolmentToken, StoreError};
use crate::revocation::{Revocation, RevocationList};

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
    let mut list = RevocationList::default();
    let mut stmt =
        conn.prepare_cached("SELECT id, kind, value, time FROM revocations ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)? as u64,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)? as u64,
        ))
    })?;
    for row in rows {
        let (id, kind, value, time) = row?;
        list.version = list.version.max(id);
        list.updated_at = list.updated_at.max(time);
        match Revocation::from_store(&kind, &value) {
            Some(r) => list.entries.push(r),
            None => tracing::warn!(%kind, "unknown revocation kind in the store; ignored"),
        }
    }
    // Every unexpired certificate issued to a revoked user, found through
    // the audit record each serial points at. Computed here rather than at
    // revocation time, so a certificate that raced the revocation is listed too.
    let mut stmt = conn.prepare_cached(
        "SELECT s.serial FROM serials s JOIN audit a ON a.seq = s.audit_seq
         WHERE json_extract(a.record, '$.kind') = 'certificate_issued'
           AND json_extract(a.record, '$.certificate.valid_before') > ?3
           AND json_extract(a.record, '$.identity.issuer') = ?1
           AND json_extract(a.record, '$.identity.subject') = ?2",
    )?;
    let users: Vec<(String, String)> = list
        .entries
        .iter()
        .filter_map(|r| match r {
            Revocation::User { issuer, subject } => Some((issuer.clone(), subject.clone())),
            _ => None,
        })
        .collect();
    for (issuer, subject) in users {
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
