//! The store contract: one suite, run against every durable store. Each case below is an
//! async function of a [`Fixture`]; [`contract!`] makes a test of it for SQLite (a file in a
//! temporary directory) and for PostgreSQL (a private server per test, see
//! `zt_testkit::postgres`). Cases that only one store can have (a file replaced under the
//! writer, two replicas on one database) live with that store.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use zt_core::audit::{self, AuditRecord, CertificateFacts, EventKind, Subject, checkpoint};
use zt_core::device::{DeviceRequirement, DeviceStatus};
use zt_core::jose::SigningKey;
use zt_core::revocation::Revocation;
use zt_testkit::postgres::Postgres;
use zt_testkit::{Peer, require_peers};

use super::postgres::{PostgresStore, migrate};
use super::sqlite::{Checkpointing, SqliteStore};
use super::{
    Change, DeviceUse, EnrolmentToken, OnceKind, OnceValue, Store, StoreError, Write,
    audit_log::SqliteLog,
};

/// Where a case's store lives.
pub(super) enum Fixture {
    Sqlite(tempfile::TempDir),
    /// The server runs as long as the fixture lives.
    Postgres(Box<(Postgres, PgConnectOptions)>),
}

impl Fixture {
    pub(super) fn sqlite() -> Option<Fixture> {
        Some(Fixture::Sqlite(tempfile::tempdir().unwrap()))
    }

    /// A migrated database on a private server, or `None` when the test must skip.
    pub(super) fn postgres() -> Option<Fixture> {
        if !require_peers(&[Peer::Postgres]) {
            return None;
        }
        let server = Postgres::start();
        let options = options(&server);
        assert_eq!(migrate(&options).unwrap(), (0, 1));
        Some(Fixture::Postgres(Box::new((server, options))))
    }

    /// A store on the fixture's state (opened again, it sees what an earlier one wrote).
    pub(super) fn open(&self, checkpointing: Option<Checkpointing>) -> Box<dyn Store> {
        match self {
            Fixture::Sqlite(dir) => {
                Box::new(SqliteStore::open(&dir.path().join("db"), checkpointing).unwrap())
            }
            Fixture::Postgres(postgres) => {
                Box::new(PostgresStore::open(&postgres.1, checkpointing).unwrap())
            }
        }
    }

    /// Every signed checkpoint, read back from the database.
    pub(super) async fn checkpoints(&self) -> Vec<checkpoint::Checkpoint> {
        match self {
            Fixture::Sqlite(dir) => SqliteLog::open(&dir.path().join("db"))
                .unwrap()
                .checkpoints()
                .unwrap(),
            Fixture::Postgres(postgres) => PostgresStore::open(&postgres.1, None)
                .unwrap()
                .checkpoints()
                .await
                .unwrap(),
        }
    }
}

/// How a broker connects to the test server: the URL, and the password given apart from it.
pub(super) fn options(server: &Postgres) -> PgConnectOptions {
    server
        .url()
        .parse::<PgConnectOptions>()
        .unwrap()
        .password(zt_testkit::postgres::PASSWORD)
}

fn record(request_id: &str) -> AuditRecord {
    AuditRecord {
        time: 100,
        kind: EventKind::CertificateIssued,
        request_id: request_id.into(),
        identity: Some(Subject::default()),
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

/// A write that uses up the DPoP `jti` and claims `serial`.
pub(super) fn write(jti: &str, serial: Option<u64>) -> Write {
    Write {
        once: vec![OnceValue {
            kind: OnceKind::DpopJti,
            value: jti.into(),
            expires_at: u64::MAX >> 2,
        }],
        serial,
        ..Write::record(record(jti))
    }
}

fn with(changes: Vec<Change>) -> Write {
    Write {
        changes,
        ..Write::record(AuditRecord {
            kind: EventKind::Revoked,
            identity: None,
            ..record("change")
        })
    }
}

/// A certificate of `subject` (issuer `https://idp`) valid until `valid_before`.
pub(super) fn certificate(jti: &str, serial: u64, subject: &str, valid_before: u64) -> Write {
    let mut write = write(jti, Some(serial));
    write.audit.identity = Some(Subject {
        issuer: "https://idp".into(),
        subject: subject.into(),
        email: None,
    });
    write.audit.certificate = Some(CertificateFacts {
        serial,
        key_id: format!("key-{serial}"),
        principals: vec!["p".into()],
        valid_after: 0,
        valid_before,
        key_fingerprint: format!("SHA256:fp{serial}"),
    });
    write
}

pub(super) fn checkpointing(every_records: u64) -> Checkpointing {
    Checkpointing {
        key: SigningKey::generate().unwrap(),
        every_records,
        every: Duration::from_secs(3600),
    }
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::Fixture::sqlite().unwrap()).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    if let Some(fixture) = super::Fixture::postgres() {
                        super::$case(fixture).await;
                    }
                }
            )*
        }
    };
}

contract!(
    replays_and_serial_collisions_are_refused_without_breaking_the_group,
    the_chain_continues_across_reopen,
    checkpoints_are_signed_every_n_records_and_on_close,
    a_revoked_identity_is_refused_inside_the_write_and_the_list_has_it,
    a_revoked_users_unexpired_certificates_are_listed_by_serial,
    an_enrolment_token_is_used_once_and_never_after_expiry,
    a_device_is_registered_once_owned_by_one_user_and_refused_once_revoked,
    issued_knows_serials_key_ids_keys_and_users,
);

async fn replays_and_serial_collisions_are_refused_without_breaking_the_group(fixture: Fixture) {
    let store = fixture.open(None);
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
    assert!(results.contains(&Err(StoreError::Replayed(OnceKind::DpopJti))));
    assert!(results.contains(&Err(StoreError::SerialTaken)));
    // A value twice in one write is spent by the first: the write is a replay, and writes
    // nothing (its other value stays unspent).
    let mut twice = write("jti-e", Some(5));
    twice.once.insert(0, twice.once[0].clone());
    twice.once[0].kind = OnceKind::HostNonce;
    twice.once.push(twice.once[1].clone());
    assert_eq!(
        store.commit(twice).await,
        Err(StoreError::Replayed(OnceKind::DpopJti))
    );
    let mut nonce = write("jti-e", Some(5));
    nonce.once[0].kind = OnceKind::HostNonce;
    store.commit(nonce).await.unwrap();
    store.commit(write("jti-d", Some(4))).await.unwrap();
    let records = store.audit_records(0, 100).await.unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].prev_hash, audit::GENESIS);
    for pair in records.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(
            pair[1].hash,
            audit::chain_hash(&pair[0].hash, &pair[1].record)
        );
    }
}

async fn the_chain_continues_across_reopen(fixture: Fixture) {
    fixture
        .open(None)
        .commit(write("one-one-one-one", None))
        .await
        .unwrap();
    let store = fixture.open(None);
    store.commit(write("two-two-two-two", None)).await.unwrap();
    let records = store.audit_records(0, 10).await.unwrap();
    assert_eq!(records[1].prev_hash, records[0].hash);
    assert_eq!(records[1].seq, records[0].seq + 1);
}

async fn checkpoints_are_signed_every_n_records_and_on_close(fixture: Fixture) {
    let c = checkpointing(3);
    let public = c.key.public_jwk().clone();
    let store = fixture.open(Some(c));
    for i in 0..7 {
        store
            .commit(write(&format!("jti-{i}"), None))
            .await
            .unwrap();
    }
    let entries = store.audit_records(0, 100).await.unwrap();
    drop(store);
    let checkpoints = fixture.checkpoints().await;
    let seqs: Vec<u64> = checkpoints.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, [3, 6, 7], "{checkpoints:?}");
    let summary = audit::verify::verify(&entries, checkpoints, &public).unwrap();
    assert_eq!((summary.records, summary.unsigned_tail), (7, 0));
}

async fn a_revoked_identity_is_refused_inside_the_write_and_the_list_has_it(fixture: Fixture) {
    let store = fixture.open(None);
    let user = Revocation::user("https://idp,alice").unwrap();
    let guarded = || Write {
        unless_revoked: Some(("https://idp".into(), "alice".into())),
        ..with(vec![])
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
    assert_eq!(store.revocation_version().await.unwrap(), list.version);
    // The refused write left no record: 1 guarded + 3 revocations.
    assert_eq!(store.audit_records(0, 100).await.unwrap().len(), 4);
}

async fn a_revoked_users_unexpired_certificates_are_listed_by_serial(fixture: Fixture) {
    let store = fixture.open(None);
    store
        .commit(certificate("a1-a1-a1", 11, "alice", 500))
        .await
        .unwrap();
    store
        .commit(certificate("a2-a2-a2", 12, "alice", 90))
        .await
        .unwrap();
    store
        .commit(certificate("b1-b1-b1", 13, "bob", 500))
        .await
        .unwrap();
    let before = store.revocation_version().await.unwrap();
    store
        .commit(with(vec![Change::Revoke(
            Revocation::user("https://idp,alice").unwrap(),
        )]))
        .await
        .unwrap();
    assert!(store.revocation_version().await.unwrap() > before);
    // At 100, alice's second certificate has expired; bob's is not hers.
    assert_eq!(store.revocations(100).await.unwrap().user_serials, [11]);
    assert_eq!(store.revocations(50).await.unwrap().user_serials, [11, 12]);
}

async fn an_enrolment_token_is_used_once_and_never_after_expiry(fixture: Fixture) {
    let store = fixture.open(None);
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
    let stored = store.enrolment_token("a".into()).await.unwrap().unwrap();
    assert!(stored.used);
    assert_eq!(stored.principals, ["h"]);
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

async fn a_device_is_registered_once_owned_by_one_user_and_refused_once_revoked(fixture: Fixture) {
    let store = fixture.open(None);
    let device_use = |subject: &str, now: u64, require| DeviceUse {
        id: "dev-1".into(),
        issuer: "https://idp".into(),
        subject: subject.into(),
        hostname: Some("laptop".into()),
        os: None,
        require,
        now,
        posture_failing: None,
    };
    let using = |jti: &str, subject: &str, now: u64, require| Write {
        device: Some(device_use(subject, now, require)),
        ..write(jti, None)
    };
    store
        .commit(using(
            "u1-u1-u1",
            "alice",
            10,
            DeviceRequirement::Registered,
        ))
        .await
        .unwrap();
    store
        .commit(using(
            "u2-u2-u2",
            "alice",
            20,
            DeviceRequirement::Registered,
        ))
        .await
        .unwrap();
    let device = store.device("dev-1".into()).await.unwrap().unwrap();
    assert_eq!(
        (device.status, device.first_seen, device.last_seen),
        (DeviceStatus::Registered, 10, 20)
    );
    assert_eq!(device.hostname, "laptop");
    assert_eq!(
        store
            .commit(using("u3-u3-u3", "bob", 30, DeviceRequirement::Registered))
            .await,
        Err(StoreError::DeviceOfAnotherUser)
    );
    assert_eq!(
        store
            .commit(using("u4-u4-u4", "alice", 30, DeviceRequirement::Approved))
            .await,
        Err(StoreError::DeviceNotApproved)
    );
    let set = |status| {
        with(vec![Change::SetDeviceStatus {
            id: "dev-1".into(),
            status,
        }])
    };
    store.commit(set(DeviceStatus::Approved)).await.unwrap();
    store
        .commit(using("u5-u5-u5", "alice", 40, DeviceRequirement::Approved))
        .await
        .unwrap();
    store.commit(set(DeviceStatus::Revoked)).await.unwrap();
    assert_eq!(
        store
            .commit(using(
                "u6-u6-u6",
                "alice",
                50,
                DeviceRequirement::Registered
            ))
            .await,
        Err(StoreError::DeviceRevoked)
    );
    assert_eq!(
        store
            .commit(with(vec![Change::SetDeviceStatus {
                id: "nope".into(),
                status: DeviceStatus::Approved,
            }]))
            .await,
        Err(StoreError::UnknownDevice)
    );
    let devices = store.devices().await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(
        (devices[0].status, devices[0].last_seen),
        (DeviceStatus::Revoked, 40)
    );
}

async fn issued_knows_serials_key_ids_keys_and_users(fixture: Fixture) {
    let store = fixture.open(None);
    store
        .commit(certificate("c1-c1-c1", 21, "carol", 500))
        .await
        .unwrap();
    // An IdP's claim with a NUL is recorded (JSON escapes it); the search must still work.
    let mut nul = certificate("c2-c2-c2", 23, "erin", 500);
    if let Some(identity) = &mut nul.audit.identity {
        identity.email = Some("erin\0@example.com".into());
    }
    store.commit(nul).await.unwrap();
    let yes = [
        Revocation::Serial(21),
        Revocation::KeyId("key-21".into()),
        Revocation::Key("SHA256:fp21".into()),
        Revocation::user("https://idp,carol").unwrap(),
    ];
    let no = [
        Revocation::Serial(22),
        Revocation::KeyId("key-22".into()),
        Revocation::Key("SHA256:fp22".into()),
        Revocation::user("https://idp,dave").unwrap(),
    ];
    for what in yes {
        assert!(store.issued(what.clone()).await.unwrap(), "{what:?}");
    }
    for what in no {
        assert!(!store.issued(what.clone()).await.unwrap(), "{what:?}");
    }
}
