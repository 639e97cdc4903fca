//! `kill -9` under load loses no record of a certificate a client got:
//! clients request certificates concurrently, the broker is killed at a
//! random moment and restarted on the same database, several times; every
//! serial a client received must have its record, and the chain (with its
//! checkpoints) must verify, also straight after a crash.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Driver, broker_with_store, recorded_serials, verify};
use zt_testkit::api;
use zt_testkit::dev_idp::DevIdp;
use zt_testkit::process::wait_until;
use zt_testkit::rng::Rng;
use zt_testkit::tempdir;

const ROUNDS: usize = 5;
const CLIENTS: usize = 4;

#[derive(Default)]
struct Received {
    serials: Vec<u64>,
    /// Answers other than 200 while the broker was up (there should be none).
    unexpected: Vec<String>,
}

#[test]
fn every_certificate_a_client_received_has_its_record_across_kill_9() {
    let mut rng = Rng::seeded("crash test");
    let idp = DevIdp::start("alice");
    let state = tempdir();
    let db = state.path().join("zt-broker.db");
    // Frequent checkpoints, so crashes land between and during them.
    let mut broker = broker_with_store(&idp, &db, 7);
    broker.serve();
    let mut driver = Driver::new(&broker, &idp);
    let clients: Vec<Arc<api::Client>> = (0..CLIENTS).map(|_| Arc::new(driver.client())).collect();
    let received = Arc::new(Mutex::new(Received::default()));

    for round in 0..ROUNDS {
        let before = received.lock().unwrap().serials.len();
        let target = before + rng.in_range(3..=40) as usize;
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = clients
            .iter()
            .map(|client| {
                let (client, stop, received) = (client.clone(), stop.clone(), received.clone());
                let http = driver.http().clone();
                let url = driver.certificate_endpoint.clone();
                driver.runtime().spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let request = api::prepare(&client, &url).unwrap();
                        match api::send_certificate_request(&http, &url, request).await {
                            Ok(a) if a.status == 200 => {
                                let serial = zt_testkit::serial(&a.json()["serial"]);
                                received.lock().unwrap().serials.push(serial);
                            }
                            // Killed mid-answer: the client got nothing.
                            Err(_) => break,
                            Ok(a) => received.lock().unwrap().unexpected.push(format!("{a:?}")),
                        }
                    }
                })
            })
            .collect();
        let reached = wait_until(Duration::from_secs(60), || {
            received.lock().unwrap().serials.len() >= target
        });
        assert!(
            reached,
            "round {round}: too few certificates\n{}",
            broker.log()
        );
        broker.kill();
        stop.store(true, Ordering::SeqCst);
        for task in tasks {
            driver.runtime().block_on(task).unwrap();
        }
        if round == 1 {
            // Straight after the crash, before any restart recovers the WAL.
            let (code, verdict) = verify(&broker.config_path());
            assert_eq!(code, Some(0), "after crash {round}: {verdict}");
        }
        broker.serve();
    }
    broker.kill();

    let received = received.lock().unwrap();
    assert!(received.unexpected.is_empty(), "{:?}", received.unexpected);
    let recorded = recorded_serials(&db);
    let lost: Vec<_> = received
        .serials
        .iter()
        .filter(|s| !recorded.contains(s))
        .collect();
    assert!(
        lost.is_empty(),
        "certificates without a record: {lost:?}\n{}",
        broker.log()
    );
    let (code, verdict) = verify(&broker.config_path());
    assert_eq!(code, Some(0), "{verdict}");
    eprintln!(
        "crash test: {ROUNDS} kill -9 rounds, {} certificates received, {} recorded, {} checkpoints",
        received.serials.len(),
        recorded.len(),
        verdict["checkpoints"]
    );
}
