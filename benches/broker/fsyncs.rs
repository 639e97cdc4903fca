//! fsyncs per certificate (issue 14): how well the broker's group commit batches. A separate
//! pass after the timed one, the same levels again, with the broker's `fsync` and `fdatasync`
//! calls counted during the timed part of each level. Its rates are not reported: a counter
//! attached to the broker may slow it.
//!
//! The counter is `perf stat` on the `syscalls:sys_enter_fsync` and `…_fdatasync` tracepoints
//! (counted in the kernel; barely slows the broker), or, where perf or its tracepoints are
//! missing, `strace -f -c` (which stops the broker at each of those calls, so it batches
//! differently). Without either, and in the smoke run, the pass is skipped with a reason.
//! `ZT_BENCH_FSYNCS=perf|strace|off` picks the counter or skips the pass.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use zt_core::posture::PostureReport;

use super::policies::Posture;
use super::{Target, run_level};

const PERF_EVENTS: &str = "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync";
/// Time for the counter to attach to every thread before the level starts.
const ATTACH: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy)]
pub enum Tool {
    Perf,
    Strace,
}

fn runs(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Tool {
    /// The counter `ZT_BENCH_FSYNCS` names (`perf`, `strace`, `off`), else the first this
    /// machine has; or why there is none.
    pub fn find() -> Result<Tool, String> {
        match std::env::var("ZT_BENCH_FSYNCS").as_deref() {
            Ok("perf") => return Ok(Tool::Perf),
            Ok("strace") => return Ok(Tool::Strace),
            Ok("off") => return Err("ZT_BENCH_FSYNCS=off".into()),
            _ => {}
        }
        let perf_counts = runs(Command::new("perf").args([
            "stat",
            "-x",
            ",",
            "-e",
            PERF_EVENTS,
            "-o",
            "/dev/null",
            "true",
        ]));
        if perf_counts {
            return Ok(Tool::Perf);
        }
        if runs(Command::new("strace").arg("-V")) {
            return Ok(Tool::Strace);
        }
        Err(
            "neither `perf stat -e syscalls:sys_enter_fsync` nor strace works here \
             (apt-get install -y linux-perf or strace)"
                .into(),
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            Tool::Perf => "perf stat, syscall tracepoints",
            Tool::Strace => "strace -f -c",
        }
    }

    /// Start counting the fsyncs of process `pid`.
    pub fn attach(self, pid: u32) -> Result<Attached> {
        let out = tempfile::NamedTempFile::new()?;
        let mut command = match self {
            Tool::Perf => {
                let mut c = Command::new("perf");
                c.args(["stat", "-x", ",", "-e", PERF_EVENTS, "-p"]);
                c
            }
            Tool::Strace => {
                let mut c = Command::new("strace");
                c.args(["-f", "-c", "-e", "trace=fsync,fdatasync", "-p"]);
                c
            }
        };
        let child = command
            .arg(pid.to_string())
            .arg("-o")
            .arg(out.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", self.label()))?;
        std::thread::sleep(ATTACH);
        Ok(Attached {
            tool: self,
            child: Some(child),
            out,
        })
    }
}

/// A counter attached to the broker; stopped (SIGINT, as at a terminal) to read it.
pub struct Attached {
    tool: Tool,
    child: Option<Child>,
    out: tempfile::NamedTempFile,
}

impl Attached {
    /// Stop counting; the fsync + fdatasync calls seen.
    pub fn finish(mut self) -> Result<u64> {
        let mut child = self.child.take().expect("not finished yet");
        let pid = child.id().to_string();
        if !runs(Command::new("kill").args(["-INT", &pid])) {
            let _ = child.kill();
        }
        child.wait()?;
        let text = std::fs::read_to_string(self.out.path())?;
        let mut calls = 0;
        let mut seen = 0;
        for line in text.lines() {
            match self.tool {
                // `COUNT,,syscalls:sys_enter_fsync,…`
                Tool::Perf => {
                    let fields: Vec<&str> = line.split(',').collect();
                    if fields.len() > 2 && fields[2].starts_with("syscalls:") {
                        calls += fields[0].parse::<u64>().with_context(|| {
                            format!("perf could not count {}: {line}", fields[2])
                        })?;
                        seen += 1;
                    }
                }
                // `% time  seconds  usecs/call  calls  [errors]  syscall`
                Tool::Strace => {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    if let [_, _, _, n, .., name] = fields[..] {
                        if name == "fsync" || name == "fdatasync" {
                            calls += n.parse::<u64>().context("strace -c calls")?;
                        }
                    }
                    seen = 2;
                }
            }
        }
        if seen < 2 {
            bail!("{} wrote no counts: {text:?}", self.tool.label());
        }
        Ok(calls)
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// fsyncs per certificate, per broker and level.
pub struct Count {
    pub posture: Posture,
    pub concurrency: usize,
    pub per_certificate: f64,
}

pub fn per_certificate(counts: &[Count], posture: Posture, concurrency: usize) -> Option<f64> {
    counts
        .iter()
        .find(|c| c.posture == posture && c.concurrency == concurrency)
        .map(|c| c.per_certificate)
}

/// The fsync pass: every level again, for each broker, with a counter attached during the
/// timed part. Skipped, saying why, in the smoke run or without a counter.
pub async fn pass(
    full: bool,
    http: &reqwest::Client,
    targets: &mut [Target],
    report: &PostureReport,
    levels: &[usize],
    total: usize,
    cap: Duration,
) -> Result<Vec<Count>> {
    if !full {
        println!("fsync pass: skipped in the smoke run (`cargo bench --bench broker` counts them)");
        return Ok(Vec::new());
    }
    let tool = match Tool::find() {
        Ok(tool) => tool,
        Err(why) => {
            println!("fsync pass: skipped: {why}");
            return Ok(Vec::new());
        }
    };
    println!(
        "fsync pass (the same levels again, {} attached to the broker; rates not reported):",
        tool.label()
    );
    let mut counts = Vec::new();
    for &concurrency in levels {
        for target in targets.iter_mut() {
            let posture = target.posture;
            let level =
                run_level(http, target, report, concurrency, total, cap, Some(tool)).await?;
            let calls = level.fsyncs.context("the counter was attached")?;
            let ok = level.stats.ok.max(1);
            println!(
                "  {:<11} concurrency {concurrency:>3}: {} certificates, {calls} fsync + fdatasync = {:.2}/cert",
                posture.label(),
                level.stats.ok,
                calls as f64 / ok as f64
            );
            counts.push(Count {
                posture,
                concurrency,
                per_certificate: calls as f64 / ok as f64,
            });
        }
    }
    Ok(counts)
}
