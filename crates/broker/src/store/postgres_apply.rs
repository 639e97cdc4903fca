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
use zt_core::jose;
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

/// Where a group starts, read once under the chain lock: the last audit record's seq and
/// hash ((0, GENESIS) when empty) and the seq of the last checkpoint (0 when none). Only the
/// lock's holder appends either, so both stay true until the group commits.
pub(super) async fn head(conn: &mut PgConnection) -> sqlx::Result<((i64, String), i64)> {
    let (seq, hash, checkpoint): (Option<i64>, Option<String>, i64) = sqlx::query_as(
        "SELECT a.seq, a.hash, (SELECT coalesce(max(seq), 0)::bigint FROM audit_checkpoints)
         FROM (SELECT 1) AS one
         LEFT JOIN LATERAL (SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1) AS a ON true",
    )
    .fetch_one(conn)
    .await?;
    let head = match (seq, hash) {
        (Some(seq), Some(hash)) => (seq, hash),
        _ => (0, audit::GENESIS.to_owned()),
    };
    Ok((head, checkpoint))
}

/// Apply one write after the record at `head`; returns the new head.
///
/// Two round trips, whatever the write holds: one statement reads everything the write's
/// rules need ([`Found`]), the rules are applied here (the SQLite store's, shared), and one
/// statement writes it all. Reading then writing is race-free because every write of every
/// replica runs under the chain lock, and a refusal leaves nothing to undo: nothing was
/// written. The exception is `changes` (admin writes, rare), applied first; the caller
/// wraps a write that has any in a savepoint.
pub(super) async fn apply(
    conn: &mut PgConnection,
    write: &Write,
    head: &(i64, String),
) -> Result<(i64, String), Applied> {
    for change in &write.changes {
        apply_change(conn, change, write.audit.time).await?;
    }
    let once = once_keys(write);
    let found = Found::read(conn, write, &once).await?;
    if found.revoked {
        return Err(Applied::Refused(StoreError::IdentityRevoked));
    }
    if let Some(kind) = found.replayed(write) {
        return Err(Applied::Refused(StoreError::Replayed(kind)));
    }
    // After the single-use values: a replayed proof is refused as a replay, whoever's.
    let device = match &write.device {
        None => None,
        Some(device) => Some(found.device_write(device)?),
    };
    if found.serial_taken {
        return Err(Applied::Refused(StoreError::SerialTaken));
    }
    let canonical = write.audit.canonical();
    let hash = audit::chain_hash(&head.1, &canonical);
    let seq = head.0 + 1;
    record(
        conn,
        write,
        &once,
        device,
        (seq, &canonical, &head.1, &hash),
    )
    .await?;
    Ok((seq, hash))
}

/// A write's single-use values as the `used_once` table keys them: the kind, and a hash of
/// the value. The values are whatever a client or an identity provider chose (an ID token's
/// `jti` is the IdP's, of any length); a hash always fits the primary key's index and never
/// holds a NUL, which PostgreSQL's text cannot store. Either would fail the whole group.
type OnceKeys = (Vec<&'static str>, Vec<String>);

fn once_keys(write: &Write) -> OnceKeys {
    write
        .once
        .iter()
        .map(|once| (once.kind.as_str(), jose::sha256_b64(once.value.as_bytes())))
        .unzip()
}

/// What the database holds about one write.
struct Found {
    revoked: bool,
    /// For each of the write's single-use values, in order: whether it is already spent.
    spent: Vec<bool>,
    serial_taken: bool,
    /// The device's issuer, subject, status and posture failures, when it is registered.
    device: Option<(String, String, String, String)>,
}

type FoundRow = (
    bool,
    Vec<bool>,
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Found {
    async fn read(
        conn: &mut PgConnection,
        write: &Write,
        (kinds, values): &OnceKeys,
    ) -> sqlx::Result<Found> {
        let revoked = write
            .unless_revoked
            .as_ref()
            .map(|(issuer, subject)| Revocation::user_store_value(issuer, subject));
        let (revoked, spent, serial_taken, issuer, subject, status, failing): FoundRow =
            sqlx::query_as(
                "SELECT
                    $1::text IS NOT NULL AND EXISTS
                        (SELECT 1 FROM revocations WHERE kind = 'user' AND value = $1),
                    ARRAY(SELECT EXISTS
                            (SELECT 1 FROM used_once u WHERE u.kind = w.kind AND u.value = w.value)
                        FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS w (kind, value, n)
                        ORDER BY w.n),
                    $4::bigint IS NOT NULL AND EXISTS (SELECT 1 FROM serials WHERE serial = $4),
                    d.issuer, d.subject, d.status, d.posture_failing_since
                 FROM (SELECT 1) AS one LEFT JOIN devices d ON d.id = $5::text",
            )
            .bind(revoked)
            .bind(&kinds[..])
            .bind(&values[..])
            .bind(write.serial.map(|s| s as i64))
            .bind(write.device.as_ref().map(|d| d.id.as_str()))
            .fetch_one(conn)
            .await?;
        let device = match (issuer, subject, status, failing) {
            (Some(issuer), Some(subject), Some(status), Some(failing)) => {
                Some((issuer, subject, status, failing))
            }
            _ => None,
        };
        Ok(Found {
            revoked,
            spent,
            serial_taken,
            device,
        })
    }

    /// The first of the write's single-use values that is spent: before this write, or by an
    /// earlier one of its own values.
    fn replayed(&self, write: &Write) -> Option<super::OnceKind> {
        write.once.iter().enumerate().find_map(|(i, once)| {
            let twice = write.once[..i]
                .iter()
                .any(|o| o.kind == once.kind && o.value == once.value);
            (self.spent.get(i).copied().unwrap_or(true) || twice).then_some(once.kind)
        })
    }

    /// Register the request's device on first use, or check and touch it (the SQLite store's
    /// rules): refused when revoked, owned by another identity, or not approved where that is
    /// required.
    fn device_write(&self, device: &DeviceUse) -> Result<DeviceWrite, Applied> {
        let (write, status) = match &self.device {
            None => (
                DeviceWrite::Register(failing_since(device, "{}")),
                DeviceStatus::Registered,
            ),
            Some((issuer, subject, status, previous)) => {
                if *issuer != device.issuer || *subject != device.subject {
                    return Err(Applied::Refused(StoreError::DeviceOfAnotherUser));
                }
                (
                    DeviceWrite::Touch(failing_since(device, previous)),
                    stored_status(status),
                )
            }
        };
        verdict(status, device.require).map_err(Applied::Refused)?;
        Ok(write)
    }
}

/// What a write does to its device's row, with the posture failures to store (`None` keeps
/// what is there).
enum DeviceWrite {
    Register(Option<String>),
    Touch(Option<String>),
}

/// The write itself, in one statement: the single-use values, the device, the audit record
/// `(seq, record, prev_hash, hash)` and the serial.
async fn record(
    conn: &mut PgConnection,
    write: &Write,
    (kinds, values): &OnceKeys,
    device_write: Option<DeviceWrite>,
    (seq, canonical, prev_hash, hash): (i64, &str, &str, &str),
) -> sqlx::Result<()> {
    let expiries: Vec<i64> = write
        .once
        .iter()
        .map(|once| once.expires_at.min(i64::MAX as u64) as i64)
        .collect();
    let (mode, failing) = match device_write {
        None => (None, None),
        Some(DeviceWrite::Register(failing)) => (Some("register"), failing),
        Some(DeviceWrite::Touch(failing)) => (Some("touch"), failing),
    };
    let device = write.device.as_ref();
    let (issuer, subject, valid_before) = write.serial_owner();
    sqlx::query(
        "WITH spent AS (
            INSERT INTO used_once (kind, value, expires_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
         ), registered AS (
            INSERT INTO devices (id, issuer, subject, hostname, os, first_seen, last_seen,
                status, posture_failing_since)
            SELECT $4, $5, $6, coalesce($7, ''), coalesce($8, ''), $9, $9, 'registered',
                coalesce($10, '{}')
            WHERE $11::text = 'register'
         ), touched AS (
            UPDATE devices SET last_seen = $9,
                hostname = coalesce($7, hostname), os = coalesce($8, os),
                posture_failing_since = coalesce($10, posture_failing_since)
            WHERE id = $4 AND $11::text = 'touch'
         ), serial AS (
            INSERT INTO serials (serial, audit_seq, issuer, subject, valid_before)
            SELECT $12, $13, $14, $15, $16 WHERE $12::bigint IS NOT NULL
         )
         INSERT INTO audit (seq, record, prev_hash, hash) VALUES ($13, $17, $18, $19)",
    )
    .bind(&kinds[..])
    .bind(&values[..])
    .bind(expiries)
    .bind(device.map(|d| d.id.as_str()))
    .bind(device.map(|d| d.issuer.as_str()))
    .bind(device.map(|d| d.subject.as_str()))
    .bind(device.and_then(|d| d.hostname.as_deref()))
    .bind(device.and_then(|d| d.os.as_deref()))
    .bind(device.map(|d| d.now.min(i64::MAX as u64) as i64))
    .bind(failing)
    .bind(mode)
    .bind(write.serial.map(|s| s as i64))
    .bind(seq)
    .bind(issuer)
    .bind(subject)
    .bind(valid_before)
    .bind(canonical)
    .bind(prev_hash)
    .bind(hash)
    .execute(conn)
    .await?;
    Ok(())
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
    let (field, value) = match what {
        Revocation::Serial(serial) => {
            return sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM serials WHERE serial = $1)")
                .bind(*serial as i64)
                .fetch_one(pool)
                .await;
        }
        // Through the serials' user index, not a scan of the log.
        Revocation::User { issuer, subject } => {
            return sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM serials WHERE issuer = $1 AND subject = $2)",
            )
            .bind(issuer)
            .bind(subject)
            .fetch_one(pool)
            .await;
        }
        Revocation::KeyId(key_id) => ("key_id", key_id),
        Revocation::Key(fingerprint) => ("key_fingerprint", fingerprint),
    };
    // A scan of the log for the records that hold the field's exact canonical text, each then
    // read here. Not with PostgreSQL's JSON functions: they refuse a whole record that holds
    // an escaped NUL (`\u0000`, which an IdP's claim may put there), and one such record
    // would make every search fail.
    let fragment = format!(
        "{}:{}",
        serde_json::Value::from(field),
        serde_json::Value::from(value.as_str())
    );
    let records: Vec<String> =
        sqlx::query_scalar("SELECT record FROM audit WHERE strpos(record, $1) > 0")
            .bind(fragment)
            .fetch_all(pool)
            .await?;
    Ok(records.iter().any(|record| {
        let Ok(record) = serde_json::from_str::<serde_json::Value>(record) else {
            return false;
        };
        matches!(
            record["kind"].as_str(),
            Some("certificate_issued" | "host_certificate_issued")
        ) && record["certificate"][field].as_str() == Some(value.as_str())
    }))
}
