//! SQLite store with group commit.
//!
//! One writer thread owns the connection. Concurrent requests queue their
//! writes; the thread takes everything queued (up to a batch limit), applies
//! each write inside its own savepoint within one `BEGIN IMMEDIATE`
//! transaction, commits once (WAL, `synchronous=FULL`, so one fsync per
//! batch), and only then answers each request. Under load this turns many
//! fsyncs into one without weakening durability: no request is answered
//! before its record is on disk.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode, params};
use tokio::sync::oneshot;

use super::{Store, StoreError, StoreFuture, StoredRecord, Write};
use crate::audit;

const MAX_BATCH: usize = 512;
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS used_once (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS used_once_expiry ON used_once (expires_at);
CREATE TABLE IF NOT EXISTS serials (
    serial INTEGER PRIMARY KEY,
    audit_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    record TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
";

enum Job {
    Commit(Box<Write>, oneshot::Sender<Result<(), StoreError>>),
    Ping(oneshot::Sender<Result<(), StoreError>>),
    Read(
        u64,
        u32,
        oneshot::Sender<Result<Vec<StoredRecord>, StoreError>>,
    ),
}

pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteStore({})", self.path.display())
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path` and start its writer.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::private_dir(dir).map_err(unavailable)?;
        }
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;",
        )
        .map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        let head = last_hash(&conn).map_err(unavailable)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("zt-store-writer".into())
            .spawn(move || {
                Writer {
                    conn,
                    head,
                    batches: 0,
                }
                .run(rx)
            })
            .map_err(unavailable)?;
        Ok(SqliteStore {
            jobs: tx,
            path: path.to_owned(),
        })
    }

    fn send<T: Send + 'static>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> StoreFuture<'_, T> {
        let (tx, rx) = oneshot::channel();
        let sent = self.jobs.send(make(tx));
        Box::pin(async move {
            sent.map_err(|_| unavailable("the store writer has stopped"))?;
            rx.await
                .map_err(|_| unavailable("the store writer has stopped"))?
        })
    }
}

impl Store for SqliteStore {
    fn commit(&self, write: Write) -> StoreFuture<'_, ()> {
        self.send(|tx| Job::Commit(Box::new(write), tx))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.send(Job::Ping)
    }

    fn audit_records(&self, after_seq: u64, limit: u32) -> StoreFuture<'_, Vec<StoredRecord>> {
        self.send(|tx| Job::Read(after_seq, limit, tx))
    }
}

fn last_hash(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row(
        "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(audit::GENESIS.to_owned()),
        e => Err(e),
    })
}

struct Writer {
    conn: Connection,
    /// Hash of the last committed audit record.
    head: String,
    batches: u64,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.process(batch);
        }
    }

    fn process(&mut self, batch: Vec<Job>) {
        let mut commits = Vec::new();
        for job in batch {
            match job {
                Job::Commit(write, reply) => commits.push((*write, reply)),
                Job::Ping(reply) => {
                    let ok = self
                        .conn
                        .query_row("SELECT 1", [], |_| Ok(()))
                        .map_err(unavailable);
                    let _ = reply.send(ok);
                }
                Job::Read(after, limit, reply) => {
                    let _ = reply.send(self.read(after, limit).map_err(unavailable));
                }
            }
        }
        if !commits.is_empty() {
            self.commit_batch(commits);
        }
    }

    fn commit_batch(&mut self, commits: Vec<(Write, oneshot::Sender<Result<(), StoreError>>)>) {
        let start_head = self.head.clone();
        let outcome = (|| -> rusqlite::Result<Vec<Result<(), StoreError>>> {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            // Another process (an admin command) may have appended since
            // our last batch; the write lock we now hold makes this read
            // the true head.
            self.head = last_hash(&self.conn)?;
            let mut results = Vec::with_capacity(commits.len());
            for (write, _) in &commits {
                self.conn.execute_batch("SAVEPOINT w")?;
                match self.apply(write) {
                    Ok(hash) => {
                        self.conn.execute_batch("RELEASE w")?;
                        self.head = hash;
                        results.push(Ok(()));
                    }
                    Err(Applied::Refused(e)) => {
                        self.conn.execute_batch("ROLLBACK TO w; RELEASE w")?;
                        results.push(Err(e));
                    }
                    Err(Applied::Sql(e)) => return Err(e),
                }
            }
            self.batches += 1;
            if self.batches % 64 == 0 {
                self.conn.execute(
                    "DELETE FROM used_once WHERE expires_at < ?1",
                    params![now() as i64],
                )?;
            }
            self.conn.execute_batch("COMMIT")?;
            Ok(results)
        })();
        match outcome {
            Ok(results) => {
                for ((_, reply), result) in commits.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.head = last_hash(&self.conn).unwrap_or(start_head);
                let err = unavailable(e);
                for (_, reply) in commits {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }

    /// Apply one write; returns the new chain head.
    fn apply(&self, write: &Write) -> Result<String, Applied> {
        for once in &write.once {
            let inserted = self
                .conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO used_once (kind, value, expires_at) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut s| s.execute(params![once.kind, once.value, once.expires_at as i64]))
                .map_err(Applied::Sql)?;
            if inserted == 0 {
                return Err(Applied::Refused(StoreError::Replayed(once.kind)));
            }
        }
        let canonical = write.audit.canonical();
        let hash = audit::chain_hash(&self.head, &canonical);
        self.conn
            .prepare_cached("INSERT INTO audit (record, prev_hash, hash) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![canonical, self.head, hash]))
            .map_err(Applied::Sql)?;
        if let Some(serial) = write.serial {
            let seq = self.conn.last_insert_rowid();
            let result = self
                .conn
                .prepare_cached("INSERT INTO serials (serial, audit_seq) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![serial as i64, seq]));
            match result {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    return Err(Applied::Refused(StoreError::SerialTaken));
                }
                Err(e) => return Err(Applied::Sql(e)),
            }
        }
        Ok(hash)
    }

    fn read(&self, after: u64, limit: u32) -> rusqlite::Result<Vec<StoredRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, record, prev_hash, hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after as i64, limit], |r| {
            Ok(StoredRecord {
                seq: r.get::<_, i64>(0)? as u64,
                record: r.get(1)?,
                prev_hash: r.get(2)?,
                hash: r.get(3)?,
            })
        })?;
        rows.collect()
    }
}

enum Applied {
    Refused(StoreError),
    Sql(rusqlite::Error),
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditRecord, EventKind, Subject};
    use crate::broker::store::OnceValue;

    fn write(jti: &str, serial: Option<u64>) -> Write {
        Write {
            once: vec![OnceValue {
                kind: "dpop_jti",
                value: jti.into(),
                expires_at: u64::MAX >> 2,
            }],
            serial,
            audit: AuditRecord {
                time: 1,
                kind: EventKind::CertificateIssued,
                request_id: jti.into(),
                identity: Subject::default(),
                client_addr: None,
                device: None,
                rule: None,
                certificate: None,
            },
        }
    }

    #[tokio::test]
    async fn replays_and_serial_collisions_are_refused_without_breaking_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        let (a, b, c) = tokio::join!(
            store.commit(write("jti-a", Some(1))),
            store.commit(write("jti-a", Some(2))),
            store.commit(write("jti-c", Some(1))),
        );
        let results = [a, b, c];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(results.contains(&Err(StoreError::Replayed("dpop_jti"))));
        assert!(results.contains(&Err(StoreError::SerialTaken)));
        store.commit(write("jti-d", Some(4))).await.unwrap();
        let records = store.audit_records(0, 100).await.unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].prev_hash, audit::GENESIS);
        assert_eq!(records[1].prev_hash, records[0].hash);
        assert_eq!(
            records[1].hash,
            audit::chain_hash(&records[0].hash, &records[1].record)
        );
    }

    #[tokio::test]
    async fn the_chain_continues_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        SqliteStore::open(&path)
            .unwrap()
            .commit(write("one-one-one-one", None))
            .await
            .unwrap();
        let store = SqliteStore::open(&path).unwrap();
        store.commit(write("two-two-two-two", None)).await.unwrap();
        let records = store.audit_records(0, 10).await.unwrap();
        assert_eq!(records[1].prev_hash, records[0].hash);
    }
}
