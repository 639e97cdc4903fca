//! `zt-broker audit verify`: recompute the chain from genesis and check
//! every signed checkpoint; exit 0 when intact, 1 (naming the first bad
//! record) when not, 7 when the log or the audit key cannot be read.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;

use crate::keys::{KeyError, load_audit_key, load_audit_public_key};
use zt_core::audit::verify::{Problem, Summary, Walk};
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
    report(&verdict, args.json);
    match verdict {
        Ok(_) => Ok(()),
        Err(problem) => Err(Failure::new(
            Exit::Unexpected,
            format!("the audit log is not intact: {problem}"),
        )
        .hint("keep this database as evidence; compare it with a backup or an earlier export")),
    }
}

fn report(verdict: &Result<Summary, Problem>, json: bool) {
    // A reader that stopped reading (`| head -1`) is not an error; the exit
    // code still tells.
    let mut out = std::io::stdout().lock();
    let _ = match (verdict, json) {
        (Ok(s), true) => {
            let mut value = serde_json::to_value(s).expect("summary serialises");
            value["intact"] = true.into();
            writeln!(out, "{value}")
        }
        (Err(p), true) => {
            let mut value = serde_json::to_value(p).expect("problem serialises");
            value["intact"] = false.into();
            value["first_bad_seq"] = p.seq().into();
            value["message"] = p.to_string().into();
            writeln!(out, "{value}")
        }
        (Ok(s), false) => writeln!(
            out,
            "audit log intact: {} records, {} signed checkpoints, head {} at seq {}",
            s.records, s.checkpoints, s.head_hash, s.head_seq
        )
        .and_then(|()| {
            if s.unsigned_tail == 0 {
                return Ok(());
            }
            writeln!(
                out,
                "{} records after the last checkpoint (seq {}) are not signed yet",
                s.unsigned_tail, s.last_checkpoint_seq
            )
        }),
        (Err(p), false) => writeln!(out, "first bad record: {}", p.seq()),
    };
}
