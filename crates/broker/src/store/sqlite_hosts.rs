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
        Revocation::User { issuer, subject } => conn
            .prepare_cached(&format!(
                "{issue_records} AND json_extract(record, '$.identity.issuer') = ?1
                   AND json_extract(record, '$.identity.subject') = ?2"
            ))?
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

#[cfg(test)]
mod tests {
    use super::super::sqlite::SqliteStore;
    use super::super::{Store, Write};
    use super::*;
    use zt_core::audit::{AuditRecord, EventKind};

    fn record() -> AuditRecord {
        AuditRecord {
            time: 100,
            kind: EventKind::Revoked,
            request_id: "r".into(),
            identity: None,
            client_addr: None,
            device: None,
            rule: None,
            certificate: None,
            outcome: None,
            revocation: None,
            enrolment: None,
            posture: None,
            audience: None,
            workload: None,
        }
    }

    fn with(changes: Vec<Change>) -> Write {
        Write {
            changes,
            ..Write::record(record())
        }
    }

    #[tokio::test]
    async fn a_revoked_identity_is_refused_inside_the_write_and_the_list_has_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db"), None).unwrap();
        let user = Revocation::user("https://idp,alice").unwrap();
        let guarded = || Write {
            unless_revoked: Some(("https://idp".into(), "alice".into())),
            ..Write::record(record())
        };
        store.commit(guarded()).await.unwrap();
        store
            .commit(with(vec![Change::Revoke(user.clone())]))
            .await
            .unwrap();
        // Twice is the same revocation.
        store
            .commit(with(vec![Change::Revoke(user.clone())]))
            .await
            .unwrap();
        store
            .commit(with(vec![Change::Revoke(Revocation::Serial(5))]))
            .await
            .unwrap();
        assert_eq!(
            store.commit(guarded()).await,
            Err(StoreError::IdentityRevoked)
        );
        let list = store.revocations(0).await.unwrap();
        assert_eq!(list.entries, [user, Revocation::Serial(5)]);
        assert_eq!(list.updated_at, 100);
        // The refused write left no record: 1 guarded + 3 revocations.
        assert_eq!(store.audit_records(0, 100).await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn an_enrolment_token_is_used_once_and_never_after_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db"), None).unwrap();
        let token = |hash: &str| EnrolmentToken {
            hash: hash.into(),
            principals: vec!["h".into()],
            expires_at: 1000,
            used: false,
        };
        let add = |hash: &str| with(vec![Change::AddEnrolmentToken(token(hash))]);
        let use_at = |hash: &str, now| {
            with(vec![Change::UseEnrolmentToken {
                hash: hash.into(),
                now,
            }])
        };
        store.commit(add("a")).await.unwrap();
        store.commit(add("b")).await.unwrap();
        let (first, second) =
            tokio::join!(store.commit(use_at("a", 10)), store.commit(use_at("a", 10)));
        assert!(first.is_ok() ^ second.is_ok(), "{first:?} {second:?}");
        assert!(
            store
                .enrolment_token("a".into())
                .await
                .unwrap()
                .unwrap()
                .used
        );
        assert_eq!(
            store.commit(use_at("b", 1000)).await,
            Err(StoreError::TokenUnusable)
        );
        assert_eq!(
            store.commit(use_at("nope", 10)).await,
            Err(StoreError::TokenUnusable)
        );
        assert_eq!(store.enrolment_token("nope".into()).await.unwrap(), None);
        store.commit(use_at("b", 999)).await.unwrap();
    }
}
