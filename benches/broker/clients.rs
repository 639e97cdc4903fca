//! The timed part of a certificate level, the same for both brokers: the clients and their
//! latencies.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::Stats;
// The same client-side API calls the integration tests make.
use zt_testkit::api;

/// Clients per source address. With all 64 on one address, the broker's per-address bound
/// (64 connections), the client's pool now and then opens a 65th connection, the broker pushes
/// out the oldest one still waiting for its request head, and the client whose fresh
/// connection that was fails or waits out the header timeout (10 s), which then is the
/// level's wall time (as in tokens.rs).
pub const CLIENTS_PER_ADDRESS: usize = 16;

/// One `reqwest::Client` per source address (127.0.0.1, 127.0.0.2, …; all of 127/8 is
/// loopback) for `concurrency` clients, new for each level.
pub fn by_address(concurrency: usize) -> Result<Vec<reqwest::Client>> {
    (0..concurrency.div_ceil(CLIENTS_PER_ADDRESS))
        .map(|a| {
            let address = Ipv4Addr::new(127, 0, 0, 1 + u8::try_from(a)?);
            Ok(reqwest::Client::builder()
                .local_address(IpAddr::V4(address))
                .pool_max_idle_per_host(CLIENTS_PER_ADDRESS)
                .build()?)
        })
        .collect()
}

/// The timed part, the same for both brokers: each client (a tokio task; a `reqwest::Client`
/// shared by 16 clients, one per source address) sends its prepared requests one after
/// another until the cap.
pub async fn timed(url: &str, work: Vec<Vec<api::Prepared>>, cap: Duration) -> Result<Stats> {
    let total: usize = work.iter().map(Vec::len).sum();
    let clients = by_address(work.len())?;
    let start = Instant::now();
    let deadline = start + cap;
    let mut tasks = Vec::with_capacity(work.len());
    for (i, prepared) in work.into_iter().enumerate() {
        let http = clients[i / CLIENTS_PER_ADDRESS].clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(prepared.len());
            let (mut ok, mut failed, mut first_error) = (0usize, 0usize, None);
            for request in prepared {
                if Instant::now() >= deadline {
                    break;
                }
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .header("Authorization", request.authorization)
                    .header("DPoP", request.dpop)
                    .header("Content-Type", "application/json")
                    .body(request.body)
                    .send()
                    .await;
                let outcome = match response {
                    Ok(r) => {
                        let status = r.status();
                        match r.bytes().await {
                            Ok(body) if status.is_success() => Ok(body),
                            Ok(body) => {
                                Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))
                            }
                            Err(e) => Err(e.to_string()),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                latencies.push(sent.elapsed());
                match outcome {
                    Ok(body) => {
                        // Cheap sanity check outside the broker's hot path:
                        // the answer is a certificate response.
                        if body.starts_with(b"{\"certificate\":\"ssh-ed25519-cert-v01") {
                            ok += 1;
                        } else {
                            failed += 1;
                            first_error.get_or_insert_with(|| {
                                format!("unexpected body: {}", String::from_utf8_lossy(&body))
                            });
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (ok, failed, first_error, latencies)
        }));
    }
    let mut stats = Stats {
        ok: 0,
        failed: 0,
        first_error: None,
        latencies: Vec::with_capacity(total),
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let (ok, failed, first_error, latencies) = task.await?;
        stats.ok += ok;
        stats.failed += failed;
        if stats.first_error.is_none() {
            stats.first_error = first_error;
        }
        stats.latencies.extend(latencies);
    }
    stats.elapsed = start.elapsed();
    stats.latencies.sort_unstable();
    Ok(stats)
}
