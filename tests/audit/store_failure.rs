//! When the audit log cannot be written the broker answers 503 and issues
//! nothing: a full disk, a disk the kernel turned read-only, a database
//! file deleted under the running broker. Each case also shows a
//! certificate being issued again once the condition is cleared.

use std::collections::BTreeSet;

use super::{Driver, broker_with_store, recorded_serials, verify};
use zt_testkit::api::Answer;
use zt_testkit::dev_idp::DevIdp;
use zt_testkit::mounts::Mount;
use zt_testkit::{Peer, require_peers, tempdir};

fn assert_issued(answer: &Answer) -> u64 {
    assert_eq!(answer.status, 200, "{answer:?}");
    let body = answer.json();
    assert!(
        body["certificate"]
            .as_str()
            .is_some_and(|c| c.contains("-cert-v01@openssh.com"))
    );
    zt_testkit::serial(&body["serial"])
}

fn assert_nothing_issued(answer: &Answer) {
    assert_eq!(answer.status, 503, "{answer:?}");
    let body = answer.json();
    assert_eq!(body["error"], "temporarily_unavailable", "{answer:?}");
    assert!(body.get("certificate").is_none() && body.get("access_token").is_none());
    assert!(!answer.body.contains("cert-v01"), "{answer:?}");
}

#[test]
fn a_full_disk_gets_503_and_no_certificate_until_space_is_freed() {
    if !require_peers(&[Peer::Mounts]) {
        return;
    }
    let idp = DevIdp::start("alice");
    let disk = Mount::tmpfs("4m").unwrap();
    let db = disk.path().join("state/zt-broker.db");
    let mut broker = broker_with_store(&idp, &db, 1000);
    broker.serve();
    let mut driver = Driver::new(&broker, &idp);
    let client = driver.client();
    let mut issued = BTreeSet::from([assert_issued(&driver.certificate(&client))]);

    disk.fill("filler");
    for _ in 0..3 {
        assert_nothing_issued(&driver.certificate(&client));
    }
    assert_nothing_issued(&driver.exchange().0);

    std::fs::remove_file(disk.path().join("filler")).unwrap();
    issued.insert(assert_issued(&driver.certificate(&client)));
    broker.kill();
    assert_eq!(recorded_serials(&db), issued, "{}", broker.log());
    let (code, verdict) = verify(&broker.config_path());
    assert_eq!(code, Some(0), "{verdict}");
}

#[test]
fn a_disk_turned_read_only_gets_503_and_no_certificate() {
    if !require_peers(&[Peer::Mounts]) {
        return;
    }
    let idp = DevIdp::start("alice");
    let mut disk = Mount::ext4(16).unwrap();
    let db = disk.path().join("state/zt-broker.db");
    let mut broker = broker_with_store(&idp, &db, 1000);
    broker.serve();
    let mut driver = Driver::new(&broker, &idp);
    let client = driver.client();
    let mut issued = BTreeSet::from([assert_issued(&driver.certificate(&client))]);

    disk.fail_read_only();
    for _ in 0..3 {
        assert_nothing_issued(&driver.certificate(&client));
    }
    assert_nothing_issued(&driver.exchange().0);

    // The administrator's way back: stop the broker, repair, restart.
    broker.kill();
    disk.repair();
    broker.serve();
    issued.insert(assert_issued(&driver.certificate(&client)));
    broker.kill();
    assert_eq!(recorded_serials(&db), issued, "{}", broker.log());
    let (code, verdict) = verify(&broker.config_path());
    assert_eq!(code, Some(0), "{verdict}");
}

#[test]
fn a_database_deleted_under_the_broker_gets_503_until_it_restarts() {
    let idp = DevIdp::start("alice");
    let state = tempdir();
    let db = state.path().join("state/zt-broker.db");
    let mut broker = broker_with_store(&idp, &db, 1000);
    broker.serve();
    let mut driver = Driver::new(&broker, &idp);
    let client = driver.client();
    assert_issued(&driver.certificate(&client));

    // SQLite would go on writing into the deleted files; nobody could
    // ever read those records.
    std::fs::remove_dir_all(state.path().join("state")).unwrap();
    for _ in 0..3 {
        assert_nothing_issued(&driver.certificate(&client));
    }
    assert_nothing_issued(&driver.exchange().0);
    let ready = zt_testkit::http::get_json(&format!("{}/readyz", broker.url));
    assert_eq!(ready.status, 503, "{ready:?}");

    // A restart starts a new log (and a new chain) in a new file.
    broker.kill();
    broker.serve();
    let serial = assert_issued(&driver.certificate(&client));
    broker.kill();
    assert_eq!(recorded_serials(&db), BTreeSet::from([serial]));
    let (code, verdict) = verify(&broker.config_path());
    assert_eq!(code, Some(0), "{verdict}");
}
