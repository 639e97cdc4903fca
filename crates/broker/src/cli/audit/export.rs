//! `zt-broker audit export`: records in chain order, one per line, for a
//! SIEM (`--json`: the record plus its `seq` and `hash`) or a person.
//! Export does not verify; run `audit verify` for that.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use zt_core::audit::Entry;
use zt_core::audit::filter::{Filter, User};
use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Path of zt-broker.toml
    #[arg(long, env = "ZT_BROKER_CONFIG")]
    pub config: PathBuf,
    /// One JSON object per line (the record plus `seq` and `hash`)
    #[arg(long)]
    pub json: bool,
    /// Only this user: ISSUER,SUBJECT, an email address, or a subject
    #[arg(long)]
    pub user: Option<String>,
    /// Only records of the certificate with this serial
    #[arg(long)]
    pub serial: Option<u64>,
    /// Only records at or after: unix seconds, or a duration ago (30m, 2h, 7d)
    #[arg(long)]
    pub since: Option<String>,
    /// Only records at or before: unix seconds, or a duration ago
    #[arg(long)]
    pub until: Option<String>,
}

pub fn run(args: ExportArgs) -> Result<(), Failure> {
    let now = zt_os::clock::unix_now();
    let filter = Filter {
        user: args.user.as_deref().map(User::parse),
        serial: args.serial,
        since: args
            .since
            .as_deref()
            .map(|t| parse_time("--since", t, now))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| parse_time("--until", t, now))
            .transpose()?,
    };
    let (_, log) = super::open(&args.config)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // `--json` streams one record per line: a JSON document per line, as `zt login` does.
    let written = log
        .for_each(|entry| {
            let record: Value = serde_json::from_str(&entry.record)
                .unwrap_or_else(|_| Value::String(entry.record.clone()));
            if !filter.matches(&record) {
                return Ok(());
            }
            let line = if args.json {
                json_line(entry, record).to_string()
            } else {
                human_line(entry, &record)
            };
            writeln!(out, "{line}")
        })
        .map_err(|e| Failure::config(e.to_string()))?;
    match written.and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is a reader that has seen enough.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::unexpected(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Unix seconds, or a duration before `now`.
fn parse_time(flag: &str, text: &str, now: u64) -> Result<u64, Failure> {
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(secs);
    }
    zt_core::policy::parse_duration(text)
        .map(|ago| now.saturating_sub(ago.as_secs()))
        .map_err(|e| {
            Failure::new(
                zt_os::exit::Exit::Usage,
                format!("{flag} {text:?}: not unix seconds or a duration ({e})"),
            )
        })
}

fn json_line(entry: &Entry, record: Value) -> Value {
    let mut line = match record {
        Value::Object(map) => map,
        // Not JSON (never written by zt): export the text as it is.
        other => [("record".to_owned(), other)].into_iter().collect(),
    };
    line.insert("seq".into(), entry.seq.into());
    line.insert("hash".into(), entry.hash.clone().into());
    let mut line = Value::Object(line);
    // Records written before serials became strings hold numbers; the output never does.
    zt_core::proto::decimal::stringify(&mut line, &["seq", "serial"]);
    line
}

fn human_line(entry: &Entry, record: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let identity = record.get("identity");
    let field = |name: &str| identity.and_then(|i| i.get(name)).map_or("-".into(), text);
    let status = record
        .pointer("/outcome/status")
        .and_then(Value::as_u64)
        .map_or("-".into(), |s| s.to_string());
    let serial = record
        .pointer("/certificate/serial")
        .map_or("-".into(), |s| {
            s.as_u64()
                .map_or_else(|| s.as_str().unwrap_or("-").to_owned(), |n| n.to_string())
        });
    // Debug formatting escapes control characters: one record, one line.
    format!(
        "{} {} {} iss={:?} sub={:?} status={} serial={}",
        entry.seq,
        record.get("time").and_then(Value::as_u64).unwrap_or(0),
        record.get("kind").map_or("-".into(), text),
        field("issuer"),
        field("subject"),
        status,
        serial,
    )
}
