//! The PostgreSQL store's schema, as numbered migrations applied by `zt-broker migrate`.
//!
//! A broker never changes the schema by itself: several replicas of different versions may
//! share the database during an upgrade, and a schema change is an operator's decision. At
//! start a broker reads the schema's version and refuses to serve on one it does not know
//! (older: run the migration; newer: upgrade the broker).
//!
//! The audit record is kept as the exact text that was hashed (`text`, never `jsonb`, which
//! would normalise it and break the chain). Columns that queries filter on are copied out of
//! it when it is written: a user's certificates are found through an index on `serials`.

use sqlx::{Connection, PgConnection};

/// Each migration, in order; the schema's version is how many were applied. Never edit one
/// that was released: add another.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: everything SQLite holds, for a cluster.
    "
CREATE TABLE used_once (
    kind text NOT NULL,
    value text NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX used_once_expiry ON used_once (expires_at);
CREATE TABLE audit (
    seq bigint PRIMARY KEY,
    record text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL
);
CREATE TABLE serials (
    serial bigint PRIMARY KEY,
    audit_seq bigint NOT NULL REFERENCES audit (seq),
    -- For a user certificate: whose it is and until when (from its audit record).
    issuer text,
    subject text,
    valid_before bigint
);
CREATE INDEX serials_user ON serials (issuer, subject, valid_before);
CREATE TABLE revocations (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    value text NOT NULL,
    time bigint NOT NULL,
    UNIQUE (kind, value)
);
CREATE TABLE enrolment_tokens (
    hash text PRIMARY KEY,
    principals text NOT NULL,
    expires_at bigint NOT NULL,
    used_at bigint
);
CREATE TABLE audit_checkpoints (
    seq bigint PRIMARY KEY,
    hash text NOT NULL,
    time bigint NOT NULL,
    prev_seq bigint NOT NULL,
    key_id text NOT NULL,
    signature text NOT NULL
);
CREATE TABLE devices (
    id text PRIMARY KEY,
    issuer text NOT NULL,
    subject text NOT NULL,
    hostname text NOT NULL DEFAULT '',
    os text NOT NULL DEFAULT '',
    first_seen bigint NOT NULL,
    last_seen bigint NOT NULL,
    status text NOT NULL,
    attestation text NOT NULL DEFAULT 'none',
    -- JSON object: posture check name -> unix seconds of its first failure.
    posture_failing_since text NOT NULL DEFAULT '{}'
);
",
];

/// The schema version this broker serves on.
pub const CURRENT: i64 = MIGRATIONS.len() as i64;

/// Serialises `migrate` runs across replicas and operators.
const MIGRATION_LOCK: i64 = 0x7a74_0002;

/// The schema's version: 0 for an empty database.
pub(super) async fn version(conn: &mut PgConnection) -> sqlx::Result<i64> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('zt_schema') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT version::bigint FROM zt_schema")
        .fetch_optional(&mut *conn)
        .await
        .map(|v| v.unwrap_or(0))
}

/// Why a broker may not serve on a schema at `version`, if it may not.
pub fn mismatch(version: i64) -> Option<String> {
    match version.cmp(&CURRENT) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Less => Some(format!(
            "the database schema is at version {version}, this broker needs {CURRENT}: run `zt-broker migrate`"
        )),
        std::cmp::Ordering::Greater => Some(format!(
            "the database schema is at version {version}, newer than this broker knows ({CURRENT}): upgrade the broker"
        )),
    }
}

/// Apply every migration the database lacks, each in the same transaction as the version
/// it leads to, under a lock so that two `migrate` runs cannot interleave. Returns the
/// versions before and after.
pub(super) async fn migrate(conn: &mut PgConnection) -> sqlx::Result<(i64, i64)> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS zt_schema (version integer NOT NULL)")
        .execute(&mut *tx)
        .await?;
    let before = version(&mut tx).await?;
    if before > CURRENT {
        // Nothing to do, and nothing this broker may touch.
        tx.rollback().await?;
        return Ok((before, before));
    }
    for migration in &MIGRATIONS[before as usize..] {
        // The migrations are this file's constants, not input.
        sqlx::raw_sql(sqlx::AssertSqlSafe(*migration))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM zt_schema")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO zt_schema (version) VALUES ($1)")
        .bind(CURRENT as i32)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((before, CURRENT))
}
