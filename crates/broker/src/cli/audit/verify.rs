//! `zt-broker audit verify`: recompute the chain from genesis and check
//! every signed checkpoint; exit 0 when intact, 1 (naming the first bad
//! record) when not, 7 when the log or the audit key cannot be read.

use std::path::PathBuf;

use clap::Args;

use crate::keys::{KeyError, load_audit_key, load_audit_public_key};
use zt_core::audit::verify::{Summary, Walk};
use zt_os::exit::{Exit, Failure};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Path of zt-broker.toml
    #[arg(long, env = "ZT_BROKER_CONFIG")]
    pub config: PathBuf,
    /// Print the verdict as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    /// Check signatures with this public key (the audit_signing_key.pub.json that init wrote) instead of the private key named in the config
    #[arg(long)]
    pub public_key: Option<PathBuf>,
}

pub fn run(args: VerifyArgs) -> Result<(), Failure> {
    let (config, log) = super::open(&args.config)?;
    let key = match &args.public_key {
        Some(path) => load_audit_public_key(path),
        None => load_audit_key(&config.keys.audit_signing).map(|k| k.public_jwk().clone()),
    }
    .map_err(|e| match e {
        KeyError::Missing(path) => Failure::config(format!(
            "cannot check checkpoint signatures: {path} does not exist"
        ))
        .hint("a broker initialised before audit checkpoints creates it on its next start; or pass --public-key"),
        e => Failure::config(format!("cannot check checkpoint signatures: {e}")),
    })?;
    let checkpoints = log
        .checkpoints()
        .map_err(|e| Failure::config(e.to_string()))?;
    let mut walk = Walk::new(&key, checkpoints);
    let verdict = log
        .for_each(|entry| walk.push(entry))
        .map_err(|e| Failure::config(e.to_string()))?
        .and_then(|()| walk.finish());
    match verdict {
        Ok(summary) => report(&summary, args.json),
        Err(problem) => {
            // The human line says where; with --json the failure document carries it.
            if !args.json {
                let _ = zt_os::stdout::println(&format!("first bad record: {}", problem.seq()));
            }
            let mut details = serde_json::to_value(&problem).expect("problems serialise");
            details["first_bad_seq"] = problem.seq().into();
            details["intact"] = false.into();
            zt_core::proto::decimal::stringify(&mut details, SEQ_FIELDS);
            Err(Failure::new(
                Exit::Integrity,
                format!("the audit log is not intact: {problem}"),
            )
            .hint("keep this database as evidence; compare it with a backup or an earlier export")
            .details(details))
        }
    }
}

/// Record numbers in a report: decimal strings in `--json`, as every identifier.
const SEQ_FIELDS: &[&str] = &[
    "seq",
    "head_seq",
    "last_checkpoint_seq",
    "first_bad_seq",
    "from",
    "to",
    "claimed",
    "found",
    "head",
];

fn report(s: &Summary, json: bool) -> Result<(), Failure> {
    if json {
        let mut value = serde_json::to_value(s).expect("summary serialises");
        value["intact"] = true.into();
        zt_core::proto::decimal::stringify(&mut value, SEQ_FIELDS);
        return zt_os::stdout::println(&value.to_string());
    }
    let mut text = format!(
        "audit log intact: {} records, {} signed checkpoints, head {} at seq {}\n",
        s.records, s.checkpoints, s.head_hash, s.head_seq
    );
    if s.unsigned_tail > 0 {
        text.push_str(&format!(
            "{} records after the last checkpoint (seq {}) are not signed yet\n",
            s.unsigned_tail, s.last_checkpoint_seq
        ));
    }
    zt_os::stdout::print(&text)
}
