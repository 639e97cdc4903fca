//! The peer: `ssh-keygen -s`, one process per certificate.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

pub fn run_ok(command: &mut Command) -> Result<()> {
    let output = command.stdin(Stdio::null()).output()?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

pub struct KeygenResult {
    pub workers: usize,
    pub certs: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl KeygenResult {
    pub fn rate(&self) -> f64 {
        self.certs as f64 / self.elapsed.as_secs_f64()
    }
}

/// `ssh-keygen -s CA -I id -n ops -V +1h key.pub`, one process per
/// certificate, split over `workers` threads.
fn keygen_sign(ca: &Path, keys: &[PathBuf], workers: usize) -> Result<KeygenResult> {
    let start = Instant::now();
    let chunks: Vec<Vec<PathBuf>> = (0..workers)
        .map(|w| keys.iter().skip(w).step_by(workers).cloned().collect())
        .collect();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let ca = ca.to_owned();
            std::thread::spawn(move || -> Result<Vec<Duration>> {
                let mut latencies = Vec::with_capacity(chunk.len());
                for public in chunk {
                    let t = Instant::now();
                    run_ok(
                        Command::new("ssh-keygen")
                            .args(["-q", "-s"])
                            .arg(&ca)
                            .args(["-I", "id", "-n", "ops", "-V", "+1h"])
                            .arg(&public),
                    )?;
                    latencies.push(t.elapsed());
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(keys.len());
    for handle in handles {
        latencies.extend(
            handle
                .join()
                .map_err(|_| anyhow!("ssh-keygen worker panicked"))??,
        );
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    Ok(KeygenResult {
        workers,
        certs: keys.len(),
        elapsed,
        latencies,
    })
}

pub fn keygen_baseline(dir: &Path, count: usize) -> Result<Vec<KeygenResult>> {
    let dir = dir.join("ssh-keygen");
    std::fs::create_dir_all(&dir)?;
    let ca = dir.join("ca");
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "bench-ca", "-f"])
            .arg(&ca),
    )?;
    // Untimed: the subject keys.
    let mut keys = Vec::with_capacity(count);
    for i in 0..count {
        let key = dir.join(format!("k{i}"));
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "k", "-f"])
                .arg(&key),
        )?;
        keys.push(key.with_extension("pub"));
    }
    // `with_extension` on "k12" gives "k12.pub", as ssh-keygen names it.
    let mut results = Vec::new();
    for workers in [1, 2] {
        for key in &keys {
            let _ = std::fs::remove_file(key.with_file_name(format!(
                "{}-cert.pub",
                key.file_stem().unwrap().to_string_lossy()
            )));
        }
        results.push(keygen_sign(&ca, &keys, workers)?);
    }
    Ok(results)
}
