//! Slow connections (slowloris) that never finish their request head, filling the
//! per-address and the global connection bounds and reconnecting whenever the broker
//! closes them. The honest client next to them must still get its certificates. The
//! bounds live in `crates/broker/src/connections.rs`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Caller, POLICY};
use crate::e2e::fixture::Broker;
use zt_testkit::broker_client::ssh_key;
use zt_testkit::hostile_idp::HostileIdp;
use zt_testkit::process::wait_until;

/// The honest client's address; 300 slow connections come from it too.
const HONEST: &str = "127.0.0.8";
/// Slow connections per address: 100 from each of six other addresses (600, over the
/// default global bound of 512) and 300 from the honest client's own address (over the
/// default per-address bound).
const SLOW: [(&str, usize); 7] = [
    ("127.0.0.2", 100),
    ("127.0.0.3", 100),
    ("127.0.0.4", 100),
    ("127.0.0.5", 100),
    ("127.0.0.6", 100),
    ("127.0.0.7", 100),
    (HONEST, 300),
];
const CERTIFICATES: usize = 100;

/// Slow clients on their own thread and runtime: each connects from its address,
/// sends part of a request head, then one more header line a second, and reconnects
/// as soon as the broker closes the connection, until stopped. (The broker may also
/// park a connection, holding it unread: to the client it looks like any slow server.)
struct SlowLoris {
    stop: Arc<AtomicBool>,
    /// Clients whose first connection has sent its partial head.
    started: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowLoris {
    fn start(target: SocketAddr, sources: &[(&str, usize)]) -> SlowLoris {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        let clients: Vec<IpAddr> = sources
            .iter()
            .flat_map(|&(ip, n)| std::iter::repeat_n(ip.parse().unwrap(), n))
            .collect();
        let (stop2, started2) = (stop.clone(), started.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut tasks = tokio::task::JoinSet::new();
                for source in clients {
                    let (stop, started) = (stop2.clone(), started2.clone());
                    tasks.spawn(slow_client(target, source, stop, started));
                }
                tasks.join_all().await;
            });
        });
        SlowLoris {
            stop,
            started,
            thread: Some(thread),
        }
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::Relaxed)
    }
}

impl Drop for SlowLoris {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn slow_client(
    target: SocketAddr,
    source: IpAddr,
    stop: Arc<AtomicBool>,
    started: Arc<AtomicUsize>,
) {
    let mut counted = false;
    while !stop.load(Ordering::Relaxed) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(source, 0)).unwrap();
        let Ok(mut stream) = socket.connect(target).await else {
            tokio::task::yield_now().await;
            continue;
        };
        let head = b"POST /v1/ssh/certificates HTTP/1.1\r\nHost: broker\r\n";
        if stream.write_all(head).await.is_ok() && !counted {
            counted = true;
            started.fetch_add(1, Ordering::Relaxed);
        }
        let mut buf = [0u8; 512];
        let mut line = 0u64;
        while !stop.load(Ordering::Relaxed) {
            // The attack's pace, not synchronisation: a header line a second.
            match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
                // Closed by the broker (EOF, an error, or an answer before closing).
                Ok(_) => break,
                Err(_) => {
                    line += 1;
                    let more = format!("X-Slow-{line}: a\r\n");
                    if stream.write_all(more.as_bytes()).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

/// Raise the soft limit on open files to `wanted` (within the hard limit): the attack
/// holds ~900 sockets, and the broker, started afterwards, inherits the limit.
fn raise_open_file_limit(wanted: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if limit.current.is_some_and(|soft| soft < wanted) {
        let raised = Rlimit {
            current: Some(wanted.min(hard)),
            maximum: limit.maximum,
        };
        setrlimit(Resource::Nofile, raised).expect("raise RLIMIT_NOFILE");
    }
}

#[test]
fn slow_connections_filling_every_bound_do_not_lock_out_an_honest_client() {
    raise_open_file_limit(4096);
    let idp = HostileIdp::start();
    // Default connection bounds and header timeouts; rate limits off, so that 100
    // certificates for one identity in a few seconds are not refused for their rate.
    let broker = Broker::start_with(&idp.issuer, POLICY, |config| {
        config["limits"]["per_address_per_minute"] = 0.into();
        config["limits"]["per_identity_per_minute"] = 0.into();
    });
    let target: SocketAddr = broker.url.trim_start_matches("http://").parse().unwrap();
    // A fresh connection for every request, as each `zt` run makes.
    let http = reqwest::Client::builder()
        .local_address(HONEST.parse::<IpAddr>().unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let caller = Caller::with_client(&broker.url, http.clone());
    let token = caller.access_token(&idp.id_token("alice", &["sre"]));

    // Every request made beforehand (a fresh key, its DPoP and possession proofs), so the
    // client's own work is not what the attack slows down.
    let prepared: Vec<_> = (0..CERTIFICATES)
        .map(|_| caller.certificate_body(&token, &ssh_key()))
        .collect();

    let slow_total: usize = SLOW.iter().map(|&(_, n)| n).sum();
    let attack = SlowLoris::start(target, &SLOW);
    assert!(
        wait_until(Duration::from_secs(20), || attack.started() == slow_total),
        "only {} of {slow_total} slow clients got a connection",
        attack.started()
    );

    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    let (ok, first_failure) = zt_testkit::http::block_on(async {
        let (mut ok, mut first_failure) = (0, None);
        for (proof, body) in prepared {
            if Instant::now() >= deadline {
                break;
            }
            let outcome = async {
                let response = http
                    .post(caller.certificate_url())
                    .header("Authorization", format!("DPoP {token}"))
                    .header("DPoP", proof)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| format!("{e:?}"))?;
                let status = response.status();
                let text = response.text().await.map_err(|e| format!("{e:?}"))?;
                match status.as_u16() {
                    200 => Ok(()),
                    _ => Err(format!("{status}: {text}")),
                }
            };
            match outcome.await {
                Ok(()) => ok += 1,
                Err(e) => {
                    first_failure.get_or_insert(e);
                }
            }
        }
        (ok, first_failure)
    });
    drop(attack);
    assert!(
        ok * 100 >= CERTIFICATES * 99,
        "{ok} of {CERTIFICATES} certificates next to {slow_total} slow connections; first failure: {first_failure:?}"
    );
    // The attack did fill the bounds: the broker shortened the header deadline.
    assert!(
        broker
            .log()
            .contains("many connections are waiting for a request head"),
        "the broker never came under pressure; log:\n{}",
        broker.log()
    );
}
