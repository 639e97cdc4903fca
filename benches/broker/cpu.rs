//! The broker's CPU per certificate (issue 14): its user + system time from
//! `/proc/<pid>/stat` (all its threads, live and exited) before and after the timed part of a
//! level, divided by the certificates issued, next to the cryptographic floor.
//!
//! The times are in clock ticks (`getconf CLK_TCK`, 100 on Linux): 10 ms of resolution, so a
//! level needs a few thousand certificates (`ZT_BENCH_REQUESTS=3000`: about 1 s of CPU, ±1 %).

use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result};

use super::floor::Floor;

/// Clock ticks per second, from `getconf CLK_TCK` (100 if it cannot say).
pub fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|&ticks| ticks > 0)
            .unwrap_or(100)
    })
}

/// `utime + stime` of process `pid`, in clock ticks.
pub fn ticks(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after it.
    let rest = &stat[stat.rfind(')').context("no ')' in /proc/PID/stat")? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("field {} of {path}", i + 3))
    };
    Ok(field(11)? + field(12)?)
}

/// CPU µs per certificate from a tick count over `certificates`.
pub fn micros_per_certificate(ticks: u64, certificates: usize) -> Option<f64> {
    (certificates > 0).then(|| ticks as f64 * 1e6 / ticks_per_second() as f64 / certificates as f64)
}

/// The extra table cells of a broker row: CPU µs/cert, its ratio to the floors (well-written,
/// as called, well-written with every CPU busy), and fsyncs per certificate (from the
/// separate fsync pass).
pub fn cells(cpu_micros: Option<f64>, floor: &Floor, fsyncs: Option<f64>) -> String {
    let ratio = |f: f64| cpu_micros.map_or("–".to_owned(), |us| format!("{:.2}", us / f));
    format!(
        " {} | {} | {} | {} | {} |",
        cpu_micros.map_or("–".to_owned(), |us| format!("{us:.0}")),
        ratio(floor.well_written.per_certificate),
        ratio(floor.as_called.per_certificate),
        ratio(floor.busy[1]),
        fsyncs.map_or("–".to_owned(), |n| format!("{n:.2}")),
    )
}

/// The column heads that go with [`cells`].
pub const HEADS: &str = " broker CPU µs/cert | ÷ floor, well-written | ÷ floor, as called | ÷ floor, well-written, CPUs busy | fsyncs/cert |";
pub const ALIGN: &str = "---:|---:|---:|---:|---:|";
