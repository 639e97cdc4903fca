//! Three replicas behind the real HAProxy running `dist/haproxy/zt-broker.cfg`, four clients
//! issuing certificates continuously through it, and something broken under them: replicas
//! killed with `kill -9` one after another, or the database crashed and restarted. Whatever
//! breaks, nothing a client received may be missing from the audit log, the log stays one
//! intact chain, and no single-use value is accepted twice.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use zt_core::requests::exchange_form;
use zt_testkit::broker_client::{Caller, ssh_key};
use zt_testkit::haproxy::Haproxy;
use zt_testkit::process::wait_until;
use zt_testkit::{Peer, require_peers};

use super::Cluster;

const CLIENTS: usize = 4;
const KILLS: usize = 10;
/// Certificates issued between two kills.
const BETWEEN_KILLS: usize = 12;

/// What one client saw.
#[derive(Default)]
struct Seen {
    /// (when, serial) of each certificate received.
    issued: Vec<(Instant, u64)>,
    /// Accepted requests, to replay afterwards: (authorization, proof, body).
    accepted: Vec<(String, String, Value)>,
    /// Answers other than 200, by status.
    failures: Vec<u16>,
}

/// The clients' progress, shared with the schedule that breaks things.
struct Progress {
    issued: AtomicUsize,
    failed: AtomicUsize,
}

impl Progress {
    /// Waits until `more` certificates were issued from now on (false after a minute without).
    fn issued_more(&self, more: usize) -> bool {
        let target = self.issued.load(Ordering::SeqCst) + more;
        wait_until(Duration::from_secs(60), || {
            self.issued.load(Ordering::SeqCst) >= target
        })
    }

    /// Waits until some request failed from now on.
    fn failed_more(&self) -> bool {
        let target = self.failed.load(Ordering::SeqCst) + 1;
        wait_until(Duration::from_secs(60), || {
            self.failed.load(Ordering::SeqCst) >= target
        })
    }
}

/// A client's device and identity, logged in through the balancer at `url`.
fn logged_in(url: &str, id_token: &str) -> (Caller, String) {
    let caller = Caller::new(url);
    let reply = caller.exchange_raw(&exchange_form(id_token), Some(&caller.token_proof()));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let authorization = format!("DPoP {}", reply.str("access_token"));
    (caller, authorization)
}

/// One client: certificates through the balancer until `stop`.
fn client(caller: &Caller, authorization: &str, stop: &AtomicBool, progress: &Progress) -> Seen {
    let authorization = authorization.to_owned();
    let mut seen = Seen::default();
    while !stop.load(Ordering::SeqCst) {
        let (proof, body) = caller.certificate_body(&authorization[5..], &ssh_key());
        let reply = caller.certificate_raw(Some(&authorization), Some(&proof), &body);
        if reply.status == 200 {
            seen.issued
                .push((Instant::now(), zt_testkit::serial(&reply.body["serial"])));
            seen.accepted.push((authorization.clone(), proof, body));
            progress.issued.fetch_add(1, Ordering::SeqCst);
        } else {
            seen.failures.push(reply.status);
            progress.failed.fetch_add(1, Ordering::SeqCst);
        }
    }
    seen
}

/// Three replicas behind HAProxy, [`CLIENTS`] clients issuing through it while `schedule`
/// breaks things (its error fails the test); then the checks every such run must pass:
/// every certificate received has its audit record, the chain is intact, and no accepted
/// request is accepted again at any replica. Prints what the clients saw.
fn under_load(what: &str, schedule: impl FnOnce(&mut Cluster, &Progress) -> Result<(), String>) {
    if !require_peers(&[Peer::Postgres, Peer::Haproxy]) {
        return;
    }
    let Some(mut cluster) = Cluster::start(3) else {
        return;
    };
    let balancer = Haproxy::start(cluster.public_port, &cluster.servers());
    let stop = AtomicBool::new(false);
    let progress = Progress {
        issued: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
    };
    let seen: Mutex<Vec<Seen>> = Mutex::new(Vec::new());
    // Logged in before anything breaks; what breaks interrupts certificate requests.
    let logins: Vec<(Caller, String)> = (0..CLIENTS)
        .map(|n| {
            let id_token = cluster.idp.id_token(&format!("client-{n}"), &["sre"]);
            logged_in(&cluster.public_url, &id_token)
        })
        .collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        let clients: Vec<_> = logins
            .iter()
            .map(|(caller, authorization)| {
                let (stop, progress, seen) = (&stop, &progress, &seen);
                scope.spawn(move || {
                    let mine = client(caller, authorization, stop, progress);
                    seen.lock().unwrap().push(mine);
                })
            })
            .collect();
        let outcome = schedule(&mut cluster, &progress);
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.join().unwrap();
        }
        if let Err(e) = outcome {
            panic!("{what}: {e}\nhaproxy log:\n{}", balancer.log());
        }
    });
    let elapsed = started.elapsed();
    let seen = seen.into_inner().unwrap();

    // Every certificate a client received has its record, and the chain is intact.
    let records = cluster.exported();
    let recorded: std::collections::HashSet<u64> = records
        .iter()
        .filter(|r| r["kind"] == "certificate_issued")
        .map(|r| zt_testkit::serial(&r["certificate"]["serial"]))
        .collect();
    let received: Vec<u64> = seen
        .iter()
        .flat_map(|s| s.issued.iter().map(|(_, serial)| *serial))
        .collect();
    for serial in &received {
        assert!(
            recorded.contains(serial),
            "{what}: serial {serial} has no audit record"
        );
    }
    assert_eq!(cluster.verified_records(), records.len() as u64);

    // No accepted request is accepted again, at any replica.
    for (n, replica) in cluster.replicas.iter().enumerate() {
        for s in &seen {
            let (authorization, proof, body) = s.accepted.last().expect("each client got one");
            let caller = Caller::new(&cluster.public_url);
            let again = caller.certificate_at(replica, Some(authorization), Some(proof), body);
            assert_eq!(again.status, 401, "{what}: replica {n}: {}", again.body);
        }
    }

    // The longest time the clients together went without a certificate: what it cost.
    let mut times: Vec<Instant> = seen
        .iter()
        .flat_map(|s| s.issued.iter().map(|(t, _)| *t))
        .collect();
    times.sort();
    let longest_gap = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    let mut failures = std::collections::BTreeMap::new();
    for status in seen.iter().flat_map(|s| s.failures.iter()) {
        *failures.entry(*status).or_insert(0) += 1;
    }
    // Reported, not asserted: timing is measured, never a test's verdict.
    eprintln!(
        "{what}: {} certificates in {:.1} s, longest gap {:.0} ms, failed requests by status {failures:?}",
        received.len(),
        elapsed.as_secs_f64(),
        longest_gap.as_secs_f64() * 1000.0,
    );
}

#[test]
fn replicas_killed_under_load_lose_no_record_and_accept_no_value_twice() {
    // The schedule is the clients' progress, not the clock: each kill and each restart waits
    // until the cluster has issued more certificates since the last one.
    under_load("kill -9 of replicas", |cluster, progress| {
        for kill in 0..KILLS {
            let victim = kill % 3;
            if !progress.issued_more(BETWEEN_KILLS) {
                return Err(format!("no progress before kill {kill}"));
            }
            cluster.kill(victim);
            if !progress.issued_more(BETWEEN_KILLS) {
                return Err(format!("no progress with replica {victim} down"));
            }
            cluster.restart(victim);
        }
        Ok(())
    });
}

#[test]
fn a_database_crash_under_load_issues_nothing_and_loses_no_acknowledged_record() {
    under_load("PostgreSQL killed and restarted", |cluster, progress| {
        if !progress.issued_more(BETWEEN_KILLS) {
            return Err("no progress before the crash".into());
        }
        // SIGKILL to the server's process group: a crash, not a shutdown. What was
        // acknowledged must come back from its WAL.
        cluster.postgres.stop();
        if !progress.failed_more() {
            return Err("requests kept succeeding with the database down".into());
        }
        cluster.postgres.start_again();
        if !progress.issued_more(BETWEEN_KILLS) {
            return Err("no progress after the database came back".into());
        }
        Ok(())
    });
}
