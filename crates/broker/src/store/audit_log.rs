//! Reading the audit log straight from the store, for `zt-broker audit verify` and `export`:
//! they work while the broker runs and whether or not it does, and they never write to the
//! log. SQLite is opened read-only; on PostgreSQL the reads go through the store's read path,
//! which never writes (a cluster's log is read from the one database, whichever replica wrote
//! each record).

use std::path::Path;

use crate::config::{Backend, StoreConfig};
use crate::store::Store;
use crate::store::postgres::PostgresStore;

use rusqlite::{Connection, OpenFlags, params};

use zt_core::audit::Entry;
use zt_core::audit::checkpoint::Checkpoint;

/// Rows read per query while streaming the log.
const PAGE: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{path}: no audit log here (the database does not exist)")]
    Missing { path: String },
    #[error("{path}: {source}")]
    Sql {
        path: String,
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Postgres(String),
}

/// A read-only view of a broker's audit log.
pub enum AuditLog {
    Sqlite(SqliteLog),
    Postgres(PostgresStore, tokio::runtime::Runtime),
}

/// The SQLite file, opened read-only.
pub struct SqliteLog {
    conn: Connection,
    path: String,
}

impl AuditLog {
    /// The log of the store `config` names.
    pub fn open(config: &StoreConfig) -> Result<Self, LogError> {
        match config.backend() {
            Backend::Sqlite(path) => SqliteLog::open(path).map(AuditLog::Sqlite),
            Backend::Postgres(_) => {
                let failed = |e: String| LogError::Postgres(format!("{}: {e}", config.describe()));
                let options = config
                    .postgres_options()
                    .map_err(|e| failed(e.to_string()))?;
                let store =
                    PostgresStore::open(&options, None).map_err(|e| failed(e.to_string()))?;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .map_err(|e| failed(e.to_string()))?;
                Ok(AuditLog::Postgres(store, runtime))
            }
        }
    }

    /// Every signed checkpoint (none in a database from before checkpoints).
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, LogError> {
        match self {
            AuditLog::Sqlite(log) => log.checkpoints(),
            AuditLog::Postgres(store, runtime) => runtime
                .block_on(store.checkpoints())
                .map_err(|e| LogError::Postgres(e.to_string())),
        }
    }

    /// Call `each` for every record in seq order; stops at the first `Err`
    /// that `each` returns (the outer `Result` is a read failure).
    pub fn for_each<E>(
        &self,
        mut each: impl FnMut(&Entry) -> Result<(), E>,
    ) -> Result<Result<(), E>, LogError> {
        let mut after = 0;
        loop {
            let page = match self {
                AuditLog::Sqlite(log) => {
                    entries_after(&log.conn, after, PAGE).map_err(log.sql())?
                }
                AuditLog::Postgres(store, runtime) => runtime
                    .block_on(store.audit_records(after, PAGE))
                    .map_err(|e| LogError::Postgres(e.to_string()))?,
            };
            let Some(last) = page.last() else {
                return Ok(Ok(()));
            };
            after = last.seq;
            for entry in &page {
                if let Err(e) = each(entry) {
                    return Ok(Err(e));
                }
            }
        }
    }
}

impl SqliteLog {
    pub fn open(path: &Path) -> Result<Self, LogError> {
        let shown = path.display().to_string();
        if !path.is_file() {
            return Err(LogError::Missing { path: shown });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| LogError::Sql {
            path: shown.clone(),
            source,
        })?;
        Ok(SqliteLog { conn, path: shown })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> LogError + '_ {
        |source| LogError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Every signed checkpoint (none in a database from before checkpoints).
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, LogError> {
        let exists: bool = self
            .conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'audit_checkpoints'",
                [],
                |r| r.get(0),
            )
            .map_err(self.sql())?;
        if !exists {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, hash, time, prev_seq, key_id, signature FROM audit_checkpoints ORDER BY seq",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Checkpoint {
                    seq: r.get::<_, i64>(0)? as u64,
                    hash: r.get(1)?,
                    time: r.get::<_, i64>(2)? as u64,
                    prev_seq: r.get::<_, i64>(3)? as u64,
                    key_id: r.get(4)?,
                    signature: r.get(5)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }
}

/// Up to `limit` records after `after_seq`, in seq order.
pub(super) fn entries_after(
    conn: &Connection,
    after_seq: u64,
    limit: u32,
) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, record, prev_hash, hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_seq as i64, limit], |r| {
        Ok(Entry {
            seq: r.get::<_, i64>(0)? as u64,
            record: r.get(1)?,
            prev_hash: r.get(2)?,
            hash: r.get(3)?,
        })
    })?;
    rows.collect()
}
