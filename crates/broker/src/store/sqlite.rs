//! SQLite store with group commit.
//!
//! One writer thread owns the connection. Concurrent requests queue their
//! writes; the thread takes everything queued (up to a batch limit), applies
//! each write inside its own savepoint within one `BEGIN IMMEDIATE`
//! transaction, commits once (WAL, `synchronous=FULL`, so one fsync per
//! batch), and only then answers each request. Under load this turns many
//! fsyncs into one without weakening durability: no request is answered
//! before its record is on disk.
//!
//! Requests that will commit announce themselves ([`Store::coming`]). When the
//! writer has taken everything queued and announced requests are still on
//! their way (verifying, signing), it holds the batch open for them, up to
//! [`HOLD`] after the batch's first write. A lone client is never held: its
//! announcement ends before its write is queued, so the writer sees none
//! coming. Under concurrency the wait costs no CPU and saves one commit and
//! one fsync for each write that joins.
//!
//! The writer also signs audit checkpoints (see [`zt_core::audit::checkpoint`])
//! every N records or T seconds, inside the batch's transaction, and once
//! more when the store is closed. Before answering it checks that the
//! database file it writes is still the one at the configured path: a
//! database that was deleted or replaced would otherwise swallow records
//! that nobody can read back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, params};
use tokio::sync::oneshot;

use super::sqlite_devices;
use super::sqlite_hosts::{self, Applied};
use super::{Coming, EnrolmentToken, Store, StoreError, StoreFuture, StoredRecord, Write};
use zt_core::audit::{self, checkpoint::Checkpoint};
use zt_core::device::Device;
use zt_core::jose::SigningKey;
use zt_core::revocation::{Revocation, RevocationList};

const MAX_BATCH: usize = 512;
/// How long a batch is held open for announced writes, from its first write: below the
/// latency of one request under the concurrency that makes holding worthwhile.
const HOLD: Duration = Duration::from_millis(1);
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
    audit_seq INTEGER NOT NULL,
    -- For a user certificate: whose it is and until when (from its audit record), so that
    -- a revoked user's certificates are found through an index (see serials_by_user).
    issuer TEXT,
    subject TEXT,
    valid_before INTEGER
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    record TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revocations (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    time INTEGER NOT NULL,
    UNIQUE (kind, value)
);
CREATE TABLE IF NOT EXISTS enrolment_tokens (
    hash TEXT PRIMARY KEY,
    principals TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    time INTEGER NOT NULL,
    prev_seq INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
";

/// When the writer signs a checkpoint: after `every_records` new records
/// or `every` time with new records, whichever comes first, and on close.
pub struct Checkpointing {
    pub key: SigningKey,
    pub every_records: u64,
    pub every: Duration,
}

enum Job {
    Commit(Box<Write>, oneshot::Sender<Result<(), StoreError>>),
    Ping(oneshot::Sender<Result<(), StoreError>>),
    Read(
        u64,
        u32,
        oneshot::Sender<Result<Vec<StoredRecord>, StoreError>>,
    ),
    /// A read on the writer's connection; the closure sends its own answer.
    Query(Box<dyn FnOnce(&Connection) + Send>),
    Close,
}

pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    /// Announced writes not yet queued.
    coming: Arc<AtomicUsize>,
    /// Write transactions begun by the writer (one per group of commits).
    batches: Arc<AtomicU64>,
    writer: Option<JoinHandle<()>>,
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
    /// Open (creating if needed) the database at `path` and start its
    /// writer, which signs checkpoints if `checkpointing` is given.
    pub fn open(path: &Path, checkpointing: Option<Checkpointing>) -> Result<Self, StoreError> {
        Self::open_holding(path, checkpointing, HOLD)
    }

    /// [`open`](Self::open) with another [`HOLD`].
    fn open_holding(
        path: &Path,
        checkpointing: Option<Checkpointing>,
        hold: Duration,
    ) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            zt_os::files::private_dir(dir).map_err(unavailable)?;
        }
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;",
        )
        .map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        // Every statement the writer runs per batch or per write stays prepared.
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(sqlite_devices::SCHEMA)
            .map_err(unavailable)?;
        sqlite_hosts::serials_by_user(&conn).map_err(unavailable)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        let file = FileIdentity::of(path).map_err(unavailable)?;
        let (_, head) = last_entry(&conn).map_err(unavailable)?;
        let last_checkpoint = last_checkpoint_seq(&conn).map_err(unavailable)?;
        let (tx, rx) = mpsc::channel();
        let coming = Arc::new(AtomicUsize::new(0));
        let batches = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            conn,
            coming: Arc::clone(&coming),
            hold,
            path: path.to_owned(),
            file,
            head,
            batches: Arc::clone(&batches),
            checkpointing,
            last_checkpoint,
            last_checkpoint_at: Instant::now(),
        };
        let handle = std::thread::Builder::new()
            .name("zt-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(unavailable)?;
        Ok(SqliteStore {
            jobs: tx,
            coming,
            batches,
            writer: Some(handle),
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

    /// Groups of writes committed (or tried) so far: each is one transaction and one fsync.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    fn query<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        self.send(|tx| {
            Job::Query(Box::new(move |conn| {
                let _ = tx.send(read(conn).map_err(unavailable));
            }))
        })
    }
}

impl Drop for SqliteStore {
    /// Let the writer finish what is queued and sign a last checkpoint.
    fn drop(&mut self) {
        let _ = self.jobs.send(Job::Close);
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Store for SqliteStore {
    fn commit(&self, write: Write) -> StoreFuture<'_, ()> {
        self.send(|tx| Job::Commit(Box::new(write), tx))
    }

    fn coming(&self) -> Coming {
        Coming::counted(&self.coming)
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.send(Job::Ping)
    }

    fn audit_records(&self, after_seq: u64, limit: u32) -> StoreFuture<'_, Vec<StoredRecord>> {
        self.send(|tx| Job::Read(after_seq, limit, tx))
    }

    fn revocations(&self, now: u64) -> StoreFuture<'_, RevocationList> {
        self.query(move |conn| sqlite_hosts::revocations(conn, now))
    }

    fn revocation_version(&self) -> StoreFuture<'_, u64> {
        self.query(|conn| {
            conn.query_row("SELECT coalesce(max(id), 0) FROM revocations", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|v| v as u64)
        })
    }

    fn enrolment_token(&self, hash: String) -> StoreFuture<'_, Option<EnrolmentToken>> {
        self.query(move |conn| sqlite_hosts::enrolment_token(conn, &hash))
    }

    fn devices(&self) -> StoreFuture<'_, Vec<Device>> {
        self.query(sqlite_devices::devices)
    }

    fn device(&self, id: String) -> StoreFuture<'_, Option<Device>> {
        self.query(move |conn| sqlite_devices::device(conn, &id))
    }

    fn issued(&self, what: Revocation) -> StoreFuture<'_, bool> {
        self.query(move |conn| sqlite_hosts::issued(conn, &what))
    }
}

/// The seq and hash of the last audit record ((0, GENESIS) when empty).
fn last_entry(conn: &Connection) -> rusqlite::Result<(u64, String)> {
    conn.prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok((0, audit::GENESIS.to_owned())),
            e => Err(e),
        })
}

fn last_checkpoint_seq(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT coalesce(max(seq), 0) FROM audit_checkpoints",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|s| s as u64)
}

/// One statement from the connection's cache of prepared statements.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Which file a path names (device and inode on Unix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity(u64, u64);

impl FileIdentity {
    fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Ok(FileIdentity(meta.dev(), meta.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            Ok(FileIdentity(0, 0))
        }
    }
}

/// Each write's own result, and the checkpoint signed in the batch if any.
type BatchOutcome = (Vec<Result<(), StoreError>>, Option<Checkpoint>);

struct Writer {
    conn: Connection,
    /// Announced writes not yet queued ([`Store::coming`]).
    coming: Arc<AtomicUsize>,
    /// [`HOLD`], but in tests.
    hold: Duration,
    path: PathBuf,
    /// The database file the connection opened.
    file: FileIdentity,
    /// Hash of the last committed audit record.
    head: String,
    batches: Arc<AtomicU64>,
    checkpointing: Option<Checkpointing>,
    last_checkpoint: u64,
    last_checkpoint_at: Instant,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        loop {
            let first = match &self.checkpointing {
                Some(c) => {
                    let due = self.last_checkpoint_at + c.every;
                    rx.recv_timeout(due.saturating_duration_since(Instant::now()))
                }
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let first = match first {
                Ok(Job::Close) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    self.checkpoint_alone();
                    continue;
                }
            };
            let held_until = Instant::now() + self.hold;
            let mut batch = vec![first];
            let mut closing = false;
            while batch.len() < MAX_BATCH {
                let next = match rx.try_recv() {
                    Err(mpsc::TryRecvError::Empty) if self.coming.load(Ordering::SeqCst) > 0 => {
                        match held_until.checked_duration_since(Instant::now()) {
                            Some(left) => rx.recv_timeout(left).ok(),
                            None => None,
                        }
                    }
                    next => next.ok(),
                };
                match next {
                    Some(Job::Close) => {
                        closing = true;
                        break;
                    }
                    Some(job) => batch.push(job),
                    None => break,
                }
            }
            self.process(batch);
            if closing {
                break;
            }
        }
        self.checkpoint_alone();
    }

    /// Whether the database file at the configured path is still the one
    /// this connection writes to.
    fn same_file(&self) -> Result<(), StoreError> {
        match FileIdentity::of(&self.path) {
            Ok(id) if id == self.file => Ok(()),
            Ok(_) => Err(unavailable(format!(
                "{} was replaced while the broker had it open",
                self.path.display()
            ))),
            Err(e) => Err(unavailable(format!("{}: {e}", self.path.display()))),
        }
    }

    fn process(&mut self, batch: Vec<Job>) {
        let mut commits = Vec::new();
        for job in batch {
            match job {
                Job::Commit(write, reply) => commits.push((*write, reply)),
                Job::Ping(reply) => {
                    let ok = self.same_file().and_then(|()| {
                        self.conn
                            .query_row("SELECT 1", [], |_| Ok(()))
                            .map_err(unavailable)
                    });
                    let _ = reply.send(ok);
                }
                Job::Read(after, limit, reply) => {
                    let _ = reply.send(self.read(after, limit).map_err(unavailable));
                }
                Job::Query(read) => read(&self.conn),
                Job::Close => {}
            }
        }
        if !commits.is_empty() {
            self.commit_batch(commits);
        }
    }

    fn commit_batch(&mut self, commits: Vec<(Write, oneshot::Sender<Result<(), StoreError>>)>) {
        if let Err(e) = self.same_file() {
            tracing::error!(error = %e, "audit database is gone; refusing writes");
            for (_, reply) in commits {
                let _ = reply.send(Err(e.clone()));
            }
            return;
        }
        let start_head = self.head.clone();
        let outcome = (|| -> rusqlite::Result<BatchOutcome> {
            run(&self.conn, "BEGIN IMMEDIATE")?;
            // Another process (an admin command) may have appended since
            // our last batch; the write lock we now hold makes this read
            // the true head.
            self.head = last_entry(&self.conn)?.1;
            let mut results = Vec::with_capacity(commits.len());
            for (write, _) in &commits {
                run(&self.conn, "SAVEPOINT w")?;
                match self.apply(write) {
                    Ok(hash) => {
                        run(&self.conn, "RELEASE w")?;
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
            if self.batches.fetch_add(1, Ordering::Relaxed) % 64 == 63 {
                self.conn.execute(
                    "DELETE FROM used_once WHERE expires_at < ?1",
                    params![zt_os::clock::unix_now() as i64],
                )?;
            }
            let checkpoint = if self.checkpoint_due()? {
                self.append_checkpoint()?
            } else {
                None
            };
            run(&self.conn, "COMMIT")?;
            Ok((results, checkpoint))
        })();
        // A commit into a file that was deleted or replaced meanwhile is
        // not a durable record: fail closed.
        let outcome = outcome
            .map_err(unavailable)
            .and_then(|r| self.same_file().map(|()| r));
        match outcome {
            Ok((results, checkpoint)) => {
                self.checkpoint_committed(checkpoint);
                for ((_, reply), result) in commits.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(err) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.head = last_entry(&self.conn).map(|(_, h)| h).unwrap_or(start_head);
                tracing::error!(error = %err, "audit write failed");
                for (_, reply) in commits {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }

    /// Within a write transaction: whether enough has been appended since
    /// the last checkpoint.
    fn checkpoint_due(&self) -> rusqlite::Result<bool> {
        let Some(c) = &self.checkpointing else {
            return Ok(false);
        };
        let (seq, _) = last_entry(&self.conn)?;
        let pending = seq.saturating_sub(self.last_checkpoint);
        Ok(pending >= c.every_records
            || (pending > 0 && self.last_checkpoint_at.elapsed() >= c.every))
    }

    /// Within a write transaction: sign the current head, unless it is
    /// already signed.
    fn append_checkpoint(&self) -> rusqlite::Result<Option<Checkpoint>> {
        let Some(c) = &self.checkpointing else {
            return Ok(None);
        };
        let (seq, hash) = last_entry(&self.conn)?;
        let prev = last_checkpoint_seq(&self.conn)?;
        if seq <= prev {
            return Ok(None);
        }
        let checkpoint = Checkpoint::sign(&c.key, seq, &hash, zt_os::clock::unix_now(), prev)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.conn
            .prepare_cached(
                "INSERT INTO audit_checkpoints (seq, hash, time, prev_seq, key_id, signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                checkpoint.seq as i64,
                checkpoint.hash,
                checkpoint.time as i64,
                checkpoint.prev_seq as i64,
                checkpoint.key_id,
                checkpoint.signature
            ])?;
        Ok(Some(checkpoint))
    }

    fn checkpoint_committed(&mut self, checkpoint: Option<Checkpoint>) {
        if let Some(c) = checkpoint {
            // A copy outside the database: whoever can rewrite the database
            // cannot also rewrite what the log shipper already took.
            tracing::info!(seq = c.seq, hash = %c.hash, signature = %c.signature, "audit checkpoint");
            self.last_checkpoint = c.seq;
            self.last_checkpoint_at = Instant::now();
        }
    }

    /// A checkpoint in a transaction of its own (timer, close).
    fn checkpoint_alone(&mut self) {
        if self.checkpointing.is_none() || self.same_file().is_err() {
            return;
        }
        let result = (|| -> rusqlite::Result<Option<Checkpoint>> {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            let checkpoint = self.append_checkpoint()?;
            self.conn.execute_batch("COMMIT")?;
            Ok(checkpoint)
        })();
        match result {
            Ok(checkpoint) => self.checkpoint_committed(checkpoint),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                tracing::warn!(error = %e, "could not write an audit checkpoint");
            }
        }
        self.last_checkpoint_at = Instant::now();
    }

    /// Apply one write; returns the new chain head.
    fn apply(&self, write: &Write) -> Result<String, Applied> {
        if let Some((issuer, subject)) = &write.unless_revoked {
            if sqlite_hosts::user_revoked(&self.conn, issuer, subject).map_err(Applied::Sql)? {
                return Err(Applied::Refused(StoreError::IdentityRevoked));
            }
        }
        for change in &write.changes {
            sqlite_hosts::apply(&self.conn, change, write.audit.time)?;
        }
        for once in &write.once {
            let inserted = self
                .conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO used_once (kind, value, expires_at) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        once.kind.as_str(),
                        once.value,
                        once.expires_at as i64
                    ])
                })
                .map_err(Applied::Sql)?;
            if inserted == 0 {
                return Err(Applied::Refused(StoreError::Replayed(once.kind)));
            }
        }
        // After the single-use values: a replayed proof is refused as a replay, whoever's.
        if let Some(device) = &write.device {
            sqlite_devices::use_device(&self.conn, device)?;
        }
        let canonical = write.audit.canonical();
        let hash = audit::chain_hash(&self.head, &canonical);
        self.conn
            .prepare_cached("INSERT INTO audit (record, prev_hash, hash) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![canonical, self.head, hash]))
            .map_err(Applied::Sql)?;
        if let Some(serial) = write.serial {
            let seq = self.conn.last_insert_rowid();
            let (issuer, subject, valid_before) = write.serial_owner();
            let result = self
                .conn
                .prepare_cached(
                    "INSERT INTO serials (serial, audit_seq, issuer, subject, valid_before)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![serial as i64, seq, issuer, subject, valid_before])
                });
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
        super::audit_log::entries_after(&self.conn, after, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::{certificate, write};
    use crate::store::{Change, Store};
    use zt_core::revocation::Revocation;

    #[tokio::test]
    async fn a_database_from_before_the_serials_index_gets_it_filled_from_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            // The tables as they were: serials without their owner.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE serials (serial INTEGER PRIMARY KEY, audit_seq INTEGER NOT NULL);
                 CREATE TABLE audit (seq INTEGER PRIMARY KEY, record TEXT NOT NULL,
                     prev_hash TEXT NOT NULL, hash TEXT NOT NULL);",
            )
            .unwrap();
            let record = certificate("old-old-old", 77, "alice", 500)
                .audit
                .canonical();
            let hash = audit::chain_hash(audit::GENESIS, &record);
            conn.execute(
                "INSERT INTO audit (seq, record, prev_hash, hash) VALUES (1, ?1, ?2, ?3)",
                params![record, audit::GENESIS, hash],
            )
            .unwrap();
            conn.execute("INSERT INTO serials (serial, audit_seq) VALUES (77, 1)", [])
                .unwrap();
        }
        let store = SqliteStore::open(&path, None).unwrap();
        store
            .commit(Write {
                changes: vec![Change::Revoke(
                    Revocation::user("https://idp,alice").unwrap(),
                )],
                ..write("revoke-revoke", None)
            })
            .await
            .unwrap();
        assert_eq!(store.revocations(100).await.unwrap().user_serials, [77]);
        assert!(
            store
                .revocations(500)
                .await
                .unwrap()
                .user_serials
                .is_empty()
        );
    }

    /// `f`, which must finish long before a held group would close.
    async fn within<T>(f: impl Future<Output = T>) -> Result<T, tokio::time::error::Elapsed> {
        tokio::time::timeout(Duration::from_secs(60), f).await
    }

    #[tokio::test]
    async fn announced_writes_join_one_group_and_a_lone_write_is_never_held() {
        let dir = tempfile::tempdir().unwrap();
        // A hold far longer than the test: a group that waited for it would time out below.
        let hold = Duration::from_secs(600);
        let store = SqliteStore::open_holding(&dir.path().join("db"), None, hold).unwrap();

        // Nobody announced: a write is committed at once.
        within(store.commit(write("alone-alone", Some(1))))
            .await
            .expect("a lone write is not held")
            .unwrap();
        assert_eq!(store.batches(), 1);

        // Two requests announce themselves; the first write is held for the second.
        let (first, second) = (store.coming(), store.coming());
        drop(first);
        let one = store.commit(write("first-first", Some(2)));
        drop(second);
        let two = store.commit(write("second-second", Some(3)));
        let (one, two) = within(async { tokio::join!(one, two) }).await.unwrap();
        one.unwrap();
        two.unwrap();
        assert_eq!(store.batches(), 2, "both writes in one group");

        // An announced request that is refused before it writes: the group it held closes at
        // the hold's end at the latest, and the next one is not held by it.
        let refused = store.coming();
        drop(refused);
        within(store.commit(write("after-after", Some(4))))
            .await
            .expect("an ended announcement holds nothing")
            .unwrap();
        assert_eq!(store.audit_records(0, 10).await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn a_database_deleted_or_replaced_under_the_writer_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SqliteStore::open(&path, None).unwrap();
        store.commit(write("before-before", Some(1))).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        let err = store
            .commit(write("after-after", Some(2)))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(store.ping().await.is_err());
        std::fs::write(&path, b"").unwrap();
        assert!(store.commit(write("again-again", Some(3))).await.is_err());
    }
}
