//! `zt posture`: the device's report, check by check, with what to fix.

use clap::Args;

use super::Ctx;
use crate::client::session::{CertificateInfo, Session};
use crate::posture::{self, RealMachine, Scope, Status};
use zt_core::text::Printable;
use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct PostureArgs {}

pub fn run(_args: PostureArgs, ctx: &Ctx) -> Result<(), Failure> {
    let report = posture::collect(&RealMachine::this(), &Scope::all());
    // With a logged-in profile: the requirements of the rule its certificate came from.
    let rule = Session::load(&ctx.paths)
        .ok()
        .flatten()
        .and_then(|s| s.certificate)
        .and_then(|c| c.posture.map(|p| (c.rule, p.requirements)));
    let evaluation = rule
        .as_ref()
        .map(|(_, req)| zt_core::posture::evaluate(&report, req));
    if ctx.json {
        let mut value =
            serde_json::to_value(&report).map_err(|e| Failure::unexpected(e.to_string()))?;
        value["digest"] = zt_core::posture::digest(&report).into();
        if let (Some((rule, req)), Some(e)) = (&rule, &evaluation) {
            value["rule"] = serde_json::json!({
                "name": rule, "requirements": req.to_string(), "met": e.ok(),
                "passed": e.passed, "failing": e.failing,
            });
        }
        super::json::emit(&value);
        return Ok(());
    }
    let os = if report.os_name.is_empty() {
        format!("{} {}", report.os_id, report.os_version)
    } else {
        report.os_name.clone()
    };
    // Evidence quotes the machine's files and commands: escaped like any outside text.
    eprintln!("os:          {}", Printable(&os));
    eprintln!("kernel:      {}", Printable(or_unknown(&report.kernel)));
    eprintln!("host name:   {}", Printable(or_unknown(&report.hostname)));
    eprintln!("zt version:  {}", Printable(&report.zt_version));
    eprintln!("processes:   {} running", report.processes.len());
    for result in &report.checks {
        let mark = match result.status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Unknown => "unknown",
        };
        eprintln!(
            "{:<16} {mark:<8} {}",
            result.check.as_str(),
            Printable(&result.evidence)
        );
        if let (Some(fix), false) = (&result.fix, result.status == Status::Pass) {
            eprintln!("{:<16} {:<8} fix: {}", "", "", Printable(fix));
        }
    }
    if let (Some((rule, req)), Some(e)) = (&rule, &evaluation) {
        // `{:?}` escapes the rule name, and quotes it.
        eprintln!("rule {rule:?} requires: {}", Printable(&req.to_string()));
        if e.ok() {
            eprintln!("  this device meets it");
        }
        for f in &e.failing {
            eprintln!(
                "  FAILS {}: {}",
                Printable(&f.requirement),
                Printable(&f.evidence)
            );
        }
    }
    Ok(())
}

/// After a certificate issued with checks in their grace period: say so, with the fixes.
pub fn warn_grace(cert: &CertificateInfo) {
    let Some(posture) = &cert.posture else { return };
    for w in &posture.warnings {
        eprintln!(
            "zt: warning: {} fails ({}); access continues only during its grace period, with short certificates",
            Printable(&w.requirement),
            Printable(&w.evidence)
        );
        if let Some(fix) = &w.fix {
            eprintln!("zt: hint: {}", Printable(fix));
        }
    }
}

fn or_unknown(text: &str) -> &str {
    if text.is_empty() { "(unknown)" } else { text }
}
