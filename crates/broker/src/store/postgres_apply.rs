//! The PostgreSQL side of one write (applied inside the writer's transaction, which holds the
//! chain lock) and of the reads behind the [`Store`](super::Store) methods. The rules are the
//! SQLite store's; only the SQL differs.

use sqlx::PgConnection;
use sqlx::postgres::PgPool;

use super::sqlite_devices::{failing_since, parse_failing_since, stored_status, verdict};
use super::sqlite_hosts::{revocation_list, revoked_users};
use super::{Change, DeviceUse, EnrolmentToken, StoreError, StoredRecord, Write};
use zt_core::audit::{self, checkpoint::Checkpoint};
use zt_core::device::{Attestation, Device, DeviceStatus};
use zt_core::revocation::{Revocation, RevocationList};

/// Why a write was not applied: the store refused it, or PostgreSQL failed.
pub(super) enum Applied {
    Refused(StoreError),
    Sql(sqlx::Error),
}

impl From<sqlx::Error> for Applied {
    fn from(e: sqlx::Error) -> Self {
        Applied::Sql(e)
    }
}

/// The last audit record's seq and hash ((0, GENESIS) when empty).
pub(super) async fn head(conn: &mut PgConnection) -> sqlx::Result<(i64, String)> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(conn)
            .await?;
    Ok(row.unwrap_or_else(|| (0, audit::GENESIS.to_owned())))
}

/// Apply one write after the record at `head`; returns the new head.
pub(super) async fn apply(
    conn: &mut PgConnection,
    write: &Write,
    head: &(i64, String),
) -> Result<(i64, String), Applied> {
    if let Some((issuer, subject)) = &write.unless_revoked {
        let revoked: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM revocations WHERE kind = 'user' AND value = $1)",
        )
        .bind(Revocation::user_store_value(issuer, subject))
        .fetch_one(&mut *conn)
        .await?;
        if revoked {
            return Err(Applied::Refused(StoreError::IdentityRevoked));
        }
    }
    for change in &write.changes {
        apply_change(conn, change, write.audit.time).await?;
    }
    for once in &write.once {
        let inserted = sqlx::query(
            "INSERT INTO used_once (kind, value, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(once.kind.as_str())
        .bind(&once.value)
        .bind(once.expires_at.min(i64::MAX as u64) as i64)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(Applied::Refused(StoreError::Replayed(once.kind)));
        }
    }
    // After the single-use values: a replayed proof is refused as a replay, whoever's.
    if let Some(device) = &write.device {
        use_device(conn, device).await?;
    }
    let canonical = write.audit.canonical();
    let hash = audit::chain_hash(&head.1, &canonical);
    let seq = head.0 + 1;
    sqlx::query("INSERT INTO audit (seq, record, prev_hash, hash) VALUES ($1, $2, $3, $4)")
        .bind(seq)
        .bind(&canonical)
        .bind(&head.1)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    if let Some(serial) = write.serial {
        let (issuer, subject, valid_before) = write.serial_owner();
        let result = sqlx::query(
            "INSERT INTO serials (serial, audit_seq, issuer, subject, valid_before)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(serial as i64)
        .bind(seq)
        .bind(issuer)
        .bind(subject)
        .bind(valid_before)
        .execute(&mut *conn)
        .await;
        match result {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(Applied::Refused(StoreError::SerialTaken));
            }
            Err(e) => return Err(Applied::Sql(e)),
        }
    }
    Ok((seq, hash))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "23505")
}

async fn apply_change(conn: &mut PgConnection, change: &Change, time: u64) -> Result<(), Applied> {
    match change {
        Change::Revoke(revocation) => {
            let (kind, value) = revocation.store_key();
            sqlx::query(
                "INSERT INTO revocations (kind, value, time) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(kind)
            .bind(value)
            .bind(time as i64)
            .execute(conn)
            .await?;
        }
        Change::AddEnrolmentToken(token) => {
            let principals = serde_json::to_string(&token.principals).expect("strings serialise");
            sqlx::query(
                "INSERT INTO enrolment_tokens (hash, principals, expires_at) VALUES ($1, $2, $3)",
            )
            .bind(&token.hash)
            .bind(principals)
            .bind(token.expires_at.min(i64::MAX as u64) as i64)
            .execute(conn)
            .await?;
        }
        Change::SetDeviceStatus { id, status } => {
            let changed = sqlx::query("UPDATE devices SET status = $2 WHERE id = $1")
                .bind(id)
                .bind(status.as_str())
                .execute(conn)
                .await?
                .rows_affected();
            if changed == 0 {
                return Err(Applied::Refused(StoreError::UnknownDevice));
            }
        }
        Change::UseEnrolmentToken { hash, now } => {
            let updated = sqlx::query(
                "UPDATE enrolment_tokens SET used_at = $2
                 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
            )
            .bind(hash)
            .bind(*now as i64)
            .execute(conn)
            .await?
            .rows_affected();
            if updated == 0 {
                return Err(Applied::Refused(StoreError::TokenUnusable));
            }
        }
    }
    Ok(())
}

/// Register `device` on first use, or check and touch it (see the SQLite store's twin).
async fn use_device(conn: &mut PgConnection, device: &DeviceUse) -> Result<(), Applied> {
    let known: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT issuer, subject, status, posture_failing_since FROM devices WHERE id = $1",
    )
    .bind(&device.id)
    .fetch_optional(&mut *conn)
    .await?;
    let status = match known {
        None => {
            sqlx::query(
                "INSERT INTO devices (id, issuer, subject, hostname, os, first_seen, last_seen,
                    status, posture_failing_since)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, 'registered', coalesce($7, '{}'))",
            )
            .bind(&device.id)
            .bind(&device.issuer)
            .bind(&device.subject)
            .bind(device.hostname.as_deref().unwrap_or_default())
            .bind(device.os.as_deref().unwrap_or_default())
            .bind(device.now as i64)
            .bind(failing_since(device, "{}"))
            .execute(&mut *conn)
            .await?;
            DeviceStatus::Registered
        }
        Some((issuer, subject, status, previous)) => {
            if issuer != device.issuer || subject != device.subject {
                return Err(Applied::Refused(StoreError::DeviceOfAnotherUser));
            }
            sqlx::query(
                "UPDATE devices SET last_seen = $2,
                    hostname = coalesce($3, hostname), os = coalesce($4, os),
                    posture_failing_since = coalesce($5, posture_failing_since)
                 WHERE id = $1",
            )
            .bind(&device.id)
            .bind(device.now as i64)
            .bind(device.hostname.as_deref())
            .bind(device.os.as_deref())
            .bind(failing_since(device, &previous))
            .execute(&mut *conn)
            .await?;
            stored_status(&status)
        }
    };
    verdict(status, device.require).map_err(Applied::Refused)
}

/// The seq of the last checkpoint (0 when none).
pub(super) async fn last_checkpoint_seq(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT coalesce(max(seq), 0)::bigint FROM audit_checkpoints")
        .fetch_one(conn)
        .await
}

pub(super) async fn insert_checkpoint(
    conn: &mut PgConnection,
    checkpoint: &Checkpoint,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_checkpoints (seq, hash, time, prev_seq, key_id, signature)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(checkpoint.seq as i64)
    .bind(&checkpoint.hash)
    .bind(checkpoint.time as i64)
    .bind(checkpoint.prev_seq as i64)
    .bind(&checkpoint.key_id)
    .bind(&checkpoint.signature)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn checkpoints(pool: &PgPool) -> sqlx::Result<Vec<Checkpoint>> {
    let rows: Vec<(i64, String, i64, i64, String, String)> = sqlx::query_as(
        "SELECT seq, hash, time, prev_seq, key_id, signature FROM audit_checkpoints ORDER BY seq",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(seq, hash, time, prev_seq, key_id, signature)| Checkpoint {
                seq: seq as u64,
                hash,
                time: time as u64,
                prev_seq: prev_seq as u64,
                key_id,
                signature,
            },
        )
        .collect())
}

pub(super) async fn audit_records(
    pool: &PgPool,
    after_seq: u64,
    limit: u32,
) -> sqlx::Result<Vec<StoredRecord>> {
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT seq, record, prev_hash, hash FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after_seq.min(i64::MAX as u64) as i64)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, record, prev_hash, hash)| StoredRecord {
            seq: seq as u64,
            record,
            prev_hash,
            hash,
        })
        .collect())
}

pub(super) async fn revocations(pool: &PgPool, now: u64) -> sqlx::Result<RevocationList> {
    let rows: Vec<(i64, String, String, i64)> =
        sqlx::query_as("SELECT id, kind, value, time FROM revocations ORDER BY id")
            .fetch_all(pool)
            .await?;
    let mut list = revocation_list(rows);
    // Every unexpired certificate of a revoked user, through the serials' user index.
    for (issuer, subject) in revoked_users(&list) {
        let serials: Vec<i64> = sqlx::query_scalar(
            "SELECT serial FROM serials WHERE issuer = $1 AND subject = $2 AND valid_before > $3",
        )
        .bind(issuer)
        .bind(subject)
        .bind(now.min(i64::MAX as u64) as i64)
        .fetch_all(pool)
        .await?;
        list.user_serials
            .extend(serials.into_iter().map(|s| s as u64));
    }
    list.user_serials.sort_unstable();
    list.user_serials.dedup();
    Ok(list)
}

pub(super) async fn revocation_version(pool: &PgPool) -> sqlx::Result<u64> {
    let version: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0)::bigint FROM revocations")
        .fetch_one(pool)
        .await?;
    Ok(version as u64)
}

pub(super) async fn enrolment_token(
    pool: &PgPool,
    hash: &str,
) -> sqlx::Result<Option<EnrolmentToken>> {
    let row: Option<(String, i64, bool)> = sqlx::query_as(
        "SELECT principals, expires_at, used_at IS NOT NULL FROM enrolment_tokens WHERE hash = $1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(principals, expires_at, used)| EnrolmentToken {
        hash: hash.to_owned(),
        principals: serde_json::from_str(&principals).unwrap_or_default(),
        expires_at: expires_at as u64,
        used,
    }))
}

/// The columns [`device_from`] reads, as a literal for `concat!` (sqlx takes only static SQL).
macro_rules! device_columns {
    () => {
        "id, issuer, subject, hostname, os, first_seen, last_seen, status, posture_failing_since"
    };
}

type DeviceRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
);

fn device_from(row: DeviceRow) -> Device {
    let (id, issuer, subject, hostname, os, first_seen, last_seen, status, failing) = row;
    Device {
        id,
        issuer,
        subject,
        hostname,
        os,
        first_seen: first_seen as u64,
        last_seen: last_seen as u64,
        status: stored_status(&status),
        attestation: Attestation::None,
        posture_failing_since: parse_failing_since(&failing),
    }
}

pub(super) async fn devices(pool: &PgPool) -> sqlx::Result<Vec<Device>> {
    let rows: Vec<DeviceRow> = sqlx::query_as(concat!(
        "SELECT ",
        device_columns!(),
        " FROM devices ORDER BY last_seen DESC, id"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(device_from).collect())
}

pub(super) async fn device(pool: &PgPool, id: &str) -> sqlx::Result<Option<Device>> {
    let row: Option<DeviceRow> = sqlx::query_as(concat!(
        "SELECT ",
        device_columns!(),
        " FROM devices WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(device_from))
}

/// Whether a certificate the revocation names was ever issued (see the SQLite store's twin).
pub(super) async fn issued(pool: &PgPool, what: &Revocation) -> sqlx::Result<bool> {
    macro_rules! issue_records {
        ($condition:literal) => {
            concat!(
                "SELECT EXISTS (SELECT 1 FROM audit
                 WHERE (record::jsonb)->>'kind' IN ('certificate_issued', 'host_certificate_issued')",
                " AND ",
                $condition,
                ")"
            )
        };
    }
    let query = match what {
        Revocation::Serial(serial) => {
            return sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM serials WHERE serial = $1)")
                .bind(*serial as i64)
                .fetch_one(pool)
                .await;
        }
        Revocation::KeyId(key_id) => sqlx::query_scalar(issue_records!(
            "(record::jsonb)#>>'{certificate,key_id}' = $1"
        ))
        .bind(key_id.clone()),
        Revocation::Key(fingerprint) => sqlx::query_scalar(issue_records!(
            "(record::jsonb)#>>'{certificate,key_fingerprint}' = $1"
        ))
        .bind(fingerprint.clone()),
        // Through the serials' user index, not a scan of the log.
        Revocation::User { issuer, subject } => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM serials WHERE issuer = $1 AND subject = $2)",
        )
        .bind(issuer.clone())
        .bind(subject.clone()),
    };
    query.fetch_one(pool).await
}
