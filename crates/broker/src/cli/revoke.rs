//! `zt-broker revoke`: record a revocation (audited). Targets refuse the
//! certificate or key once their `zt host krl-sync` has fetched the new KRL;
//! a revoked user also gets no new certificates or tokens from the broker.

use std::path::PathBuf;

use clap::{ArgGroup, Args};

use crate::store::{Change, Write};
use zt_core::audit::{AuditRecord, EventKind, Outcome, Subject};
use zt_core::revocation::Revocation;
use zt_os::exit::Failure;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["serial", "key_id", "user", "key"])))]
pub struct RevokeArgs {
    /// Path of zt-broker.toml
    #[arg(long, env = "ZT_BROKER_CONFIG")]
    pub config: PathBuf,
    /// A certificate serial (as in `zt status`, the audit log or sshd's log)
    #[arg(long)]
    pub serial: Option<u64>,
    /// A certificate key ID, exactly
    #[arg(long)]
    pub key_id: Option<String>,
    /// A user: every unexpired certificate issued to them, and no new ones
    #[arg(long, value_name = "ISSUER,SUBJECT")]
    pub user: Option<String>,
    /// A public key: its SHA256:… fingerprint, or a .pub file
    #[arg(long, value_name = "FINGERPRINT|FILE")]
    pub key: Option<String>,
    /// Revoke even though this broker never issued a certificate it names (ahead of time, or
    /// one another broker issued with the same CA)
    #[arg(long)]
    pub force: bool,
    /// Print the result as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// The local admin as the audit log names them.
pub(crate) fn local_admin() -> Subject {
    Subject {
        issuer: "zt-broker".into(),
        subject: "local-admin".into(),
        email: None,
    }
}

fn revocation(args: &RevokeArgs) -> Result<Revocation, Failure> {
    let usage = |e: zt_core::revocation::RevocationError| {
        Failure::new(zt_os::exit::Exit::Usage, e.to_string())
    };
    if let Some(serial) = args.serial {
        return Revocation::serial(serial).map_err(usage);
    }
    if let Some(key_id) = &args.key_id {
        return Revocation::key_id(key_id).map_err(usage);
    }
    if let Some(user) = &args.user {
        return Revocation::user(user).map_err(usage);
    }
    let key = args.key.as_deref().unwrap_or_default();
    if key.starts_with("SHA256:") {
        return Revocation::key(key).map_err(usage);
    }
    let text = std::fs::read_to_string(key)
        .map_err(|e| Failure::new(zt_os::exit::Exit::Usage, format!("--key {key}: {e}")))?;
    let public = ssh_key::PublicKey::from_openssh(text.trim()).map_err(|e| {
        Failure::new(
            zt_os::exit::Exit::Usage,
            format!("--key {key}: not an OpenSSH public key: {e}"),
        )
    })?;
    Revocation::key(&zt_core::ca::fingerprint(&public)).map_err(usage)
}

pub fn run(args: RevokeArgs) -> Result<(), Failure> {
    let revocation = revocation(&args)?;
    let config = super::load_config(&args.config)?;
    let store = super::serve::open_store(&config)?;
    let runtime = super::runtime()?;
    let what = serde_json::to_string(&revocation).expect("revocations serialise");
    let known = runtime
        .block_on(store.issued(revocation.clone()))
        .map_err(|e| Failure::config(format!("cannot read the store: {e}")))?;
    if !known && !args.force {
        // A typo must not pass for a revocation; the refusal is on the record too.
        let reason = format!("this broker never issued a certificate matching {what}");
        let refused = Outcome {
            status: 404,
            error: Some("unknown".into()),
            reason: Some(reason.clone()),
        };
        runtime
            .block_on(store.commit(Write::record(record(&revocation, refused))))
            .map_err(|e| Failure::config(format!("could not record the refusal: {e}")))?;
        return Err(Failure::new(zt_os::exit::Exit::Usage, format!("not revoked: {reason}"))
            .hint("check it against `zt-broker audit export` (serials are exact decimal strings in --json output); --force revokes it anyway"));
    }
    let write = Write {
        changes: vec![Change::Revoke(revocation.clone())],
        ..Write::record(record(&revocation, Outcome::success()))
    };
    runtime
        .block_on(store.commit(write))
        .map_err(|e| Failure::config(format!("could not record the revocation: {e}")))?;
    if args.json {
        let mut value = serde_json::json!({ "revoked": revocation, "issued_here": known });
        zt_core::proto::decimal::stringify(&mut value, &["serial"]);
        zt_os::stdout::println(&value.to_string())?;
    }
    let ahead = if known {
        ""
    } else {
        " (ahead of time: no certificate issued here matches it yet)"
    };
    eprintln!(
        "Revoked {what}{ahead}. Targets refuse it after their next `zt host krl-sync` (the zt-krl-sync timer runs every minute)."
    );
    Ok(())
}

/// The audit record of a revocation, or of a refused one.
fn record(revocation: &Revocation, outcome: Outcome) -> AuditRecord {
    AuditRecord {
        time: zt_os::clock::unix_now(),
        kind: EventKind::Revoked,
        request_id: zt_core::jose::random_id(),
        identity: Some(local_admin()),
        client_addr: None,
        device: None,
        rule: None,
        certificate: None,
        outcome: Some(outcome),
        revocation: Some(revocation.clone()),
        enrolment: None,
        posture: None,
        audience: None,
        workload: None,
    }
}
