//! PostgreSQL store: several broker replicas on one database.
//!
//! Like the SQLite store, each replica has one writer that commits queued writes in groups:
//! one transaction per group on the writer's own connection, one commit (and so one WAL flush
//! on the server) for the group, and no request answered before its commit. A write is two
//! round trips, a read and a write ([`postgres_apply`]), so its refusal leaves nothing to
//! undo; only admin changes need a savepoint. Every
//! group first takes a transaction-scoped advisory lock ([`BEGIN_GROUP`]); that serialises
//! appends across replicas, so the audit log stays **one** hash chain whichever replica
//! writes, and it makes the single-use ledgers, serials, revocation checks and device checks
//! race-free between replicas as well: the second of two racing writes reads what the first
//! committed.
//!
//! The store runs on a thread of its own with its own small runtime: the writer, and the reads
//! as tasks beside it over the same pool (a read never waits behind a group). So it can be
//! opened and used from synchronous admin commands and from the server's runtime alike, and
//! closing it can finish the queue and sign a last checkpoint.
//!
//! Connection settings come from a URL (`postgres://user@host:port/db?sslmode=verify-full`),
//! TLS through rustls; the password is given separately (a file or the environment), never
//! in the URL. A broker serves only on the schema version it knows ([`postgres_schema`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::postgres_apply::{self as apply, Applied};
use super::postgres_schema::{self as schema, mismatch};
use super::sqlite::Checkpointing;
use super::{Coming, EnrolmentToken, Store, StoreError, StoreFuture, StoredRecord, Write};
use zt_core::audit::checkpoint::Checkpoint;
use zt_core::device::Device;
use zt_core::revocation::{Revocation, RevocationList};

/// A group's first round trip: its transaction, and the transaction-scoped advisory lock that
/// serialises every write transaction of every replica (the audit chain's head). The key is
/// 0x7a74_0001, in decimal because sqlx takes a custom begin only as static text.
const BEGIN_GROUP: &str = "BEGIN; SELECT pg_advisory_xact_lock(2054422529)";
const MAX_BATCH: usize = 512;
/// How long a group is held open for announced writes (see the SQLite store).
const HOLD: Duration = Duration::from_millis(1);
/// Connections per replica: the writer's plus reads.
const POOL_SIZE: u32 = 8;
/// How long a request waits for a connection before the store reports itself unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a group's transaction, or a read, may take before it is abandoned (its connection
/// closed) and reported as unavailable: a database that stopped answering mid-statement (a
/// network partition) must not stall every later request behind it. A commit whose answer
/// is lost this way may have been applied; its requests get 503 and nothing leaves, so the
/// log may hold a record of a certificate nobody received, never the other way round.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn timed_out() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the database did not answer in time",
    ))
}

enum Job {
    Commit(Box<Write>, oneshot::Sender<Result<(), StoreError>>),
    Close,
}

/// Where and how to connect.
#[derive(Clone)]
pub struct Connect {
    pub options: PgConnectOptions,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", describe(&self.options))
    }
}

/// `host:port/database` of `options`, for messages (never the password).
pub fn describe(options: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    )
}

pub struct PostgresStore {
    jobs: mpsc::UnboundedSender<Job>,
    /// The store thread's runtime, where reads run.
    runtime: tokio::runtime::Handle,
    pool: PgPool,
    coming: Arc<AtomicUsize>,
    batches: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
    name: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresStore({})", self.name)
    }
}

/// A runtime and a pool for one short admin task (`migrate`), on a thread of its own so that
/// it may be called from inside another runtime too.
fn with_pool<T: Send + 'static>(
    options: &PgConnectOptions,
    task: impl AsyncFnOnce(&PgPool) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let options = options.clone();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(unavailable)?;
                runtime.block_on(async move {
                    let pool = connect(&options, 1).await?;
                    let result = task(&pool).await;
                    pool.close().await;
                    result
                })
            })
            .join()
            .unwrap_or_else(|_| Err(unavailable("the migration thread panicked")))
    })
}

async fn connect(options: &PgConnectOptions, size: u32) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await
        .map_err(|e| unavailable(format!("cannot connect to {}: {e}", describe(options))))
}

/// Apply the migrations the database lacks; returns the schema versions before and after.
pub fn migrate(options: &PgConnectOptions) -> Result<(i64, i64), StoreError> {
    with_pool(options, async |pool| {
        let mut conn = pool.acquire().await.map_err(unavailable)?;
        schema::migrate(&mut conn).await.map_err(unavailable)
    })
}

impl PostgresStore {
    /// Connect, check the schema's version, and start the writer, which signs checkpoints if
    /// `checkpointing` is given.
    pub fn open(
        options: &PgConnectOptions,
        checkpointing: Option<Checkpointing>,
    ) -> Result<Self, StoreError> {
        let (jobs, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let coming = Arc::new(AtomicUsize::new(0));
        let batches = Arc::new(AtomicU64::new(0));
        let writer_coming = Arc::clone(&coming);
        let writer_batches = Arc::clone(&batches);
        let options = options.clone();
        let name = describe(&options);
        let thread = std::thread::Builder::new()
            .name("zt-store-postgres".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(unavailable(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let writer =
                        match Writer::start(&options, checkpointing, writer_coming, writer_batches)
                            .await
                        {
                            Ok(writer) => writer,
                            Err(e) => {
                                let _ = ready_tx.send(Err(e));
                                return;
                            }
                        };
                    // Reads run beside the writer on this runtime, never behind a group.
                    let reads = (tokio::runtime::Handle::current(), writer.pool.clone());
                    let _ = ready_tx.send(Ok(reads));
                    writer.run(rx).await;
                });
            })
            .map_err(unavailable)?;
        match ready_rx.recv() {
            Ok(Ok((runtime, pool))) => Ok(PostgresStore {
                jobs,
                runtime,
                pool,
                coming,
                batches,
                thread: Some(thread),
                name,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(unavailable("the store thread stopped while connecting"))
            }
        }
    }

    /// Groups of writes committed (or tried) so far by this replica.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Run `read` on the store's runtime, with a connection from the pool.
    fn read<T, F, Fut>(&self, read: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(PgPool) -> Fut + Send + 'static,
        Fut: Future<Output = sqlx::Result<T>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let pool = self.pool.clone();
        self.runtime.spawn(async move {
            let result = match tokio::time::timeout(STATEMENT_TIMEOUT, read(pool)).await {
                Ok(result) => result.map_err(unavailable),
                Err(_) => Err(unavailable("the database did not answer in time")),
            };
            let _ = tx.send(result);
        });
        Box::pin(async move { rx.await.map_err(|_| unavailable("the store has stopped"))? })
    }

    /// Every signed checkpoint, in order.
    pub fn checkpoints(&self) -> StoreFuture<'_, Vec<Checkpoint>> {
        self.read(move |pool| async move { apply::checkpoints(&pool).await })
    }
}

impl Drop for PostgresStore {
    /// Let the writer finish what is queued and sign a last checkpoint.
    fn drop(&mut self) {
        let _ = self.jobs.send(Job::Close);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Store for PostgresStore {
    fn commit(&self, write: Write) -> StoreFuture<'_, ()> {
        let (tx, rx) = oneshot::channel();
        let sent = self.jobs.send(Job::Commit(Box::new(write), tx));
        Box::pin(async move {
            sent.map_err(|_| unavailable("the store has stopped"))?;
            rx.await.map_err(|_| unavailable("the store has stopped"))?
        })
    }

    fn coming(&self) -> Coming {
        Coming::counted(&self.coming)
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.read(move |pool| async move { sqlx::query("SELECT 1").execute(&pool).await.map(drop) })
    }

    fn audit_records(&self, after_seq: u64, limit: u32) -> StoreFuture<'_, Vec<StoredRecord>> {
        self.read(move |pool| async move { apply::audit_records(&pool, after_seq, limit).await })
    }

    fn revocations(&self, now: u64) -> StoreFuture<'_, RevocationList> {
        self.read(move |pool| async move { apply::revocations(&pool, now).await })
    }

    fn revocation_version(&self) -> StoreFuture<'_, u64> {
        self.read(move |pool| async move { apply::revocation_version(&pool).await })
    }

    fn enrolment_token(&self, hash: String) -> StoreFuture<'_, Option<EnrolmentToken>> {
        self.read(move |pool| async move { apply::enrolment_token(&pool, &hash).await })
    }

    fn devices(&self) -> StoreFuture<'_, Vec<Device>> {
        self.read(move |pool| async move { apply::devices(&pool).await })
    }

    fn device(&self, id: String) -> StoreFuture<'_, Option<Device>> {
        self.read(move |pool| async move { apply::device(&pool, &id).await })
    }

    fn issued(&self, what: Revocation) -> StoreFuture<'_, bool> {
        self.read(move |pool| async move { apply::issued(&pool, &what).await })
    }
}

type Reply = oneshot::Sender<Result<(), StoreError>>;

struct Writer {
    pool: PgPool,
    /// Its own connection, taken from `pool` (see [`connection`]).
    conn: Option<PoolConnection<sqlx::Postgres>>,
    coming: Arc<AtomicUsize>,
    batches: Arc<AtomicU64>,
    checkpointing: Option<Checkpointing>,
    last_checkpoint_at: Instant,
}

impl Writer {
    async fn start(
        options: &PgConnectOptions,
        checkpointing: Option<Checkpointing>,
        coming: Arc<AtomicUsize>,
        batches: Arc<AtomicU64>,
    ) -> Result<Writer, StoreError> {
        let pool = connect(options, POOL_SIZE).await?;
        let version = {
            let mut conn = pool.acquire().await.map_err(unavailable)?;
            schema::version(&mut conn).await.map_err(unavailable)?
        };
        if let Some(why) = mismatch(version) {
            pool.close().await;
            return Err(StoreError::Unavailable(format!(
                "{}: {why}",
                describe(options)
            )));
        }
        Ok(Writer {
            pool,
            conn: None,
            coming,
            batches,
            checkpointing,
            last_checkpoint_at: Instant::now(),
        })
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        loop {
            let due = self
                .checkpointing
                .as_ref()
                .map(|c| self.last_checkpoint_at + c.every);
            let job = match due {
                Some(due) => tokio::select! {
                    job = rx.recv() => job,
                    () = tokio::time::sleep_until(due) => {
                        self.checkpoint_alone().await;
                        continue;
                    }
                },
                None => rx.recv().await,
            };
            let (write, reply) = match job {
                None | Some(Job::Close) => break,
                Some(Job::Commit(write, reply)) => (write, reply),
            };
            let (commits, closing) = self.gather(*write, reply, &mut rx).await;
            self.commit_batch(commits).await;
            if closing {
                break;
            }
        }
        self.checkpoint_alone().await;
        // Give the connection back first: closing the pool waits for every connection.
        self.conn = None;
        self.pool.close().await;
    }

    /// The group: `first`, whatever else is queued, and announced writes that arrive within
    /// [`HOLD`]. Returns whether `Close` was met.
    async fn gather(
        &self,
        first: Write,
        reply: Reply,
        rx: &mut mpsc::UnboundedReceiver<Job>,
    ) -> (Vec<(Write, Reply)>, bool) {
        let held_until = Instant::now() + HOLD;
        let mut commits = vec![(first, reply)];
        while commits.len() < MAX_BATCH {
            let next = match rx.try_recv() {
                Err(mpsc::error::TryRecvError::Empty) if self.coming.load(Ordering::SeqCst) > 0 => {
                    tokio::time::timeout_at(held_until, rx.recv())
                        .await
                        .ok()
                        .flatten()
                }
                next => next.ok(),
            };
            match next {
                Some(Job::Commit(write, reply)) => commits.push((*write, reply)),
                Some(Job::Close) => return (commits, true),
                None => break,
            }
        }
        (commits, false)
    }

    async fn commit_batch(&mut self, commits: Vec<(Write, Reply)>) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let outcome = tokio::time::timeout(STATEMENT_TIMEOUT, self.try_batch(&commits, false))
            .await
            .unwrap_or_else(|_| Err(timed_out()));
        match outcome {
            Ok((results, checkpoint)) => {
                if let Some(c) = checkpoint {
                    self.checkpoint_committed(&c);
                }
                for ((_, reply), result) in commits.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                self.drop_connection();
                let err = unavailable(e);
                tracing::error!(error = %err, "audit write failed");
                for (_, reply) in commits {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }

    /// One transaction for the group, on the writer's own connection. An error here rolls
    /// all of it back (the transaction is dropped without a commit) and fails every write in
    /// it. Round trips: the begin with the lock, the head, two per write (four with
    /// `changes`), the commit; now and then a pruning and a checkpoint (`force`: whenever any
    /// record came since the last one; with no `commits`, that is all it does).
    async fn try_batch(
        &mut self,
        commits: &[(Write, Reply)],
        force: bool,
    ) -> sqlx::Result<(Vec<Result<(), StoreError>>, Option<Checkpoint>)> {
        let prune = self.batches.load(Ordering::Relaxed) % 64 == 63;
        let mut tx = connection(&mut self.conn, &self.pool)
            .await?
            .begin_with(BEGIN_GROUP)
            .await?;
        // Under the lock, the head is the cluster's, whichever replica wrote it.
        let (mut head, last_checkpoint) = apply::head(&mut tx).await?;
        let mut results = Vec::with_capacity(commits.len());
        for (write, _) in commits {
            let undoable = !write.changes.is_empty();
            if undoable {
                sqlx::raw_sql("SAVEPOINT w").execute(&mut *tx).await?;
            }
            match apply::apply(&mut tx, write, &head).await {
                Ok(new_head) => {
                    if undoable {
                        sqlx::raw_sql("RELEASE SAVEPOINT w")
                            .execute(&mut *tx)
                            .await?;
                    }
                    head = new_head;
                    results.push(Ok(()));
                }
                Err(Applied::Refused(e)) => {
                    if undoable {
                        sqlx::raw_sql("ROLLBACK TO SAVEPOINT w; RELEASE SAVEPOINT w")
                            .execute(&mut *tx)
                            .await?;
                    }
                    results.push(Err(e));
                }
                Err(Applied::Sql(e)) => return Err(e),
            }
        }
        if prune {
            sqlx::query("DELETE FROM used_once WHERE expires_at < $1")
                .bind(zt_os::clock::unix_now() as i64)
                .execute(&mut *tx)
                .await?;
        }
        let checkpoint = checkpoint_within(
            &mut tx,
            self.checkpointing.as_ref(),
            self.last_checkpoint_at,
            (&head, last_checkpoint),
            force,
        )
        .await?;
        tx.commit().await?;
        Ok((results, checkpoint))
    }

    /// After a failed or abandoned transaction the connection's state is unknown: close it
    /// rather than give it back to the pool.
    fn drop_connection(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.close_on_drop();
        }
    }

    fn checkpoint_committed(&mut self, c: &Checkpoint) {
        // A copy outside the database, as the SQLite store logs it.
        tracing::info!(seq = c.seq, hash = %c.hash, signature = %c.signature, "audit checkpoint");
        self.last_checkpoint_at = Instant::now();
    }

    /// A checkpoint in a transaction of its own (timer, close).
    async fn checkpoint_alone(&mut self) {
        if self.checkpointing.is_none() {
            return;
        }
        let result = tokio::time::timeout(STATEMENT_TIMEOUT, self.try_batch(&[], true))
            .await
            .unwrap_or_else(|_| Err(timed_out()));
        match result {
            Ok((_, Some(c))) => self.checkpoint_committed(&c),
            Ok((_, None)) => {}
            Err(e) => {
                self.drop_connection();
                tracing::warn!(error = %e, "could not write an audit checkpoint");
            }
        }
        self.last_checkpoint_at = Instant::now();
    }
}

/// The writer's connection, kept from group to group (no pool check before each), and opened
/// again after a failure ([`Writer::drop_connection`]).
async fn connection<'c>(
    conn: &'c mut Option<PoolConnection<sqlx::Postgres>>,
    pool: &PgPool,
) -> sqlx::Result<&'c mut PgConnection> {
    if conn.is_none() {
        *conn = Some(pool.acquire().await?);
    }
    Ok(conn.as_mut().expect("just set"))
}

/// Within the chain lock: sign `head` if enough records came since the last checkpoint
/// (any replica's, at `prev`), or `force` and any came at all.
async fn checkpoint_within(
    conn: &mut PgConnection,
    checkpointing: Option<&Checkpointing>,
    last_checkpoint_at: Instant,
    (head, prev): (&(i64, String), i64),
    force: bool,
) -> sqlx::Result<Option<Checkpoint>> {
    let Some(c) = checkpointing else {
        return Ok(None);
    };
    let pending = head.0.saturating_sub(prev) as u64;
    let due = pending >= c.every_records
        || (pending > 0 && (force || last_checkpoint_at.elapsed() >= c.every));
    if !due {
        return Ok(None);
    }
    let checkpoint = Checkpoint::sign(
        &c.key,
        head.0 as u64,
        &head.1,
        zt_os::clock::unix_now(),
        prev as u64,
    )
    .map_err(|e| sqlx::Error::Protocol(format!("cannot sign a checkpoint: {e}")))?;
    apply::insert_checkpoint(conn, &checkpoint).await?;
    Ok(Some(checkpoint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OnceKind;
    use crate::store::contract::{Fixture, write};
    use zt_core::audit;

    fn replicas(fixture: &Fixture) -> (Box<dyn Store>, Box<dyn Store>) {
        (fixture.open(None), fixture.open(None))
    }

    #[tokio::test]
    async fn two_replicas_spend_a_value_once_and_append_to_one_chain() {
        let Some(fixture) = Fixture::postgres() else {
            return;
        };
        let (a, b) = replicas(&fixture);
        // The same single-use value and serial at both replicas at once, many times over.
        for i in 0..20 {
            let jti = format!("raced-jti-{i}");
            let (on_a, on_b) = tokio::join!(
                a.commit(write(&jti, Some(1000 + i))),
                b.commit(write(&jti, Some(2000 + i)))
            );
            assert!(on_a.is_ok() ^ on_b.is_ok(), "{i}: {on_a:?} {on_b:?}");
            let refused = if on_a.is_ok() { on_b } else { on_a };
            assert_eq!(refused, Err(StoreError::Replayed(OnceKind::DpopJti)));
            // And a serial taken at one replica is taken at the other.
            assert_eq!(
                b.commit(write(&format!("serial-b-{i}"), Some(1000 + i)))
                    .await
                    .and(
                        a.commit(write(&format!("serial-a-{i}"), Some(2000 + i)))
                            .await
                    ),
                Err(StoreError::SerialTaken)
            );
        }
        let records = a.audit_records(0, 1000).await.unwrap();
        assert_eq!(records.len(), 40);
        let mut prev = audit::GENESIS.to_owned();
        for (n, record) in records.iter().enumerate() {
            assert_eq!(record.seq, n as u64 + 1);
            assert_eq!(record.prev_hash, prev);
            assert_eq!(record.hash, audit::chain_hash(&prev, &record.record));
            prev = record.hash.clone();
        }
        assert_eq!(b.audit_records(0, 1000).await.unwrap(), records);
    }

    #[tokio::test]
    async fn a_broker_refuses_a_schema_it_does_not_know() {
        if !zt_testkit::require_peers(&[zt_testkit::Peer::Postgres]) {
            return;
        }
        let server = zt_testkit::postgres::Postgres::start();
        let options = crate::store::contract::options(&server);
        let err = PostgresStore::open(&options, None).unwrap_err();
        assert!(err.to_string().contains("run `zt-broker migrate`"), "{err}");
        assert_eq!(migrate(&options).unwrap(), (0, 1));
        assert_eq!(
            migrate(&options).unwrap(),
            (1, 1),
            "a second run changes nothing"
        );
        PostgresStore::open(&options, None).unwrap();
        // A newer broker migrated the database further.
        with_pool(&options, async |pool| {
            sqlx::query("UPDATE zt_schema SET version = version + 1")
                .execute(pool)
                .await
                .map_err(unavailable)
        })
        .unwrap();
        let err = PostgresStore::open(&options, None).unwrap_err();
        assert!(err.to_string().contains("upgrade the broker"), "{err}");
        assert_eq!(migrate(&options).unwrap(), (2, 2), "never downgraded");
    }

    #[tokio::test]
    async fn writes_fail_closed_while_the_database_is_down_and_resume_after() {
        let Some(mut fixture) = Fixture::postgres() else {
            return;
        };
        let store = fixture.open(None);
        store.commit(write("before-down", Some(1))).await.unwrap();
        let Fixture::Postgres(postgres) = &mut fixture else {
            unreachable!("a PostgreSQL fixture");
        };
        let server = &mut postgres.0;
        server.stop();
        let err = store
            .commit(write("while-down", Some(2)))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(store.ping().await.is_err());
        server.start_again();
        // The pool reconnects by itself; nothing of the refused write was kept.
        store.ping().await.unwrap();
        store.commit(write("after-up", Some(2))).await.unwrap();
        let records = store.audit_records(0, 10).await.unwrap();
        let ids: Vec<_> = records
            .iter()
            .map(|r| r.record.contains("while-down"))
            .collect();
        assert_eq!(ids, [false, false]);
        assert_eq!(records[1].prev_hash, records[0].hash);
    }

    #[tokio::test]
    async fn the_database_is_reached_over_verified_tls_and_another_ca_is_refused() {
        if !zt_testkit::require_peers(&[zt_testkit::Peer::Postgres]) {
            return;
        }
        let mut server = zt_testkit::postgres::Postgres::start();
        let ca = server.use_tls();
        let options = |ca: &std::path::Path| {
            format!(
                "postgres://zt@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
                server.port(),
                ca.display()
            )
            .parse::<PgConnectOptions>()
            .unwrap()
            .password(zt_testkit::postgres::PASSWORD)
        };
        assert_eq!(migrate(&options(&ca)).unwrap(), (0, 1));
        let store = PostgresStore::open(&options(&ca), None).unwrap();
        store.commit(write("over-tls", Some(1))).await.unwrap();
        // The server says the connection is encrypted.
        let encrypted = with_pool(&options(&ca), async |pool| {
            sqlx::query_scalar::<_, bool>(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            )
            .fetch_one(pool)
            .await
            .map_err(unavailable)
        })
        .unwrap();
        assert!(encrypted);
        // A CA that did not sign the server's certificate: no connection, no store.
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other-ca.pem");
        std::fs::write(
            &other,
            zt_testkit::tls::localhost_certificates("another CA").ca_pem,
        )
        .unwrap();
        let err = PostgresStore::open(&options(&other), None).unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
}
