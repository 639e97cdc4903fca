//! The HTTP part of the floor (issue 14): the broker's CPU per request for `GET /healthz` (no
//! body, no cryptography, no store) at the same concurrency and over the same client setup as a
//! certificate level. What a certificate costs beyond it and beyond the cryptographic floor is
//! the broker's own work: JSON, the policy, the audit record and its durable commit.

use anyhow::{Result, bail};

use super::clients;
use super::cpu;

/// Broker CPU µs per `GET /healthz`, `per_client` requests from each of `concurrency` clients.
pub async fn measure(base: &str, pid: u32, concurrency: usize, per_client: usize) -> Result<f64> {
    let http = clients::by_address(concurrency)?;
    let url = format!("{base}{}", zt_core::proto::HEALTH_PATH);
    // Connections open and warm before the clock starts, as they are for certificates.
    for client in &http {
        client.get(&url).send().await?.error_for_status()?;
    }
    let before = cpu::ticks(pid)?;
    let mut tasks = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        let client = http[i / clients::CLIENTS_PER_ADDRESS].clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            for _ in 0..per_client {
                let response = client.get(&url).send().await?;
                if response.status().is_success() && response.bytes().await? == "ok\n" {
                    ok += 1;
                }
            }
            anyhow::Ok(ok)
        }));
    }
    let mut ok = 0;
    for task in tasks {
        ok += task.await??;
    }
    let ticks = cpu::ticks(pid)? - before;
    if ok != concurrency * per_client {
        bail!(
            "{ok} of {} health checks answered ok",
            concurrency * per_client
        );
    }
    cpu::micros_per_certificate(ticks, ok).ok_or_else(|| anyhow::anyhow!("no requests"))
}
