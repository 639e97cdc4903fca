//! `zt-broker host token create`: a one-time, short-lived token with which
//! one target enrols (`zt host enroll`) and gets a host certificate for the
//! given principals. Only the token's SHA-256 is stored; the token itself is
//! printed once, on stdout.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::service::enrolment_token_hash;
use crate::store::{Change, EnrolmentToken, Write};
use zt_core::audit::{AuditRecord, EnrolmentFacts, EventKind, Outcome};
use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct HostArgs {
    #[command(subcommand)]
    pub command: HostCommand,
}

#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Host enrolment tokens
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a one-time enrolment token (printed on stdout)
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// Path of zt-broker.toml
    #[arg(long, env = "ZT_BROKER_CONFIG")]
    pub config: PathBuf,
    /// Host names and addresses the host certificate will be valid for, comma-separated
    #[arg(long, value_delimiter = ',', required = true)]
    pub principals: Vec<String>,
    /// How long the token can be used (e.g. 15m, 1h; at most 7d)
    #[arg(long, default_value = "1h")]
    pub ttl: String,
}

/// Longest an enrolment token may live: it is a bearer secret.
const MAX_TOKEN_TTL_SECS: u64 = 7 * 24 * 3600;

/// A new random token: `zt-host-` and 256 random bits, base64url.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system RNG failed");
    format!("zt-host-{}", zt_core::jose::b64(bytes))
}

pub fn run(args: HostArgs) -> Result<(), Failure> {
    match args.command {
        HostCommand::Token(TokenCommand::Create(args)) => create(args),
    }
}

fn create(args: TokenCreateArgs) -> Result<(), Failure> {
    let ttl = zt_core::policy::parse_duration(&args.ttl)
        .map_err(|e| Failure::new(zt_os::exit::Exit::Usage, format!("--ttl: {e}")))?;
    if ttl.as_secs() == 0 || ttl.as_secs() > MAX_TOKEN_TTL_SECS {
        return Err(Failure::new(
            zt_os::exit::Exit::Usage,
            "--ttl must be between 1s and 7d",
        ));
    }
    for p in &args.principals {
        zt_core::ca::check_principal(p).map_err(|e| {
            Failure::new(
                zt_os::exit::Exit::Usage,
                format!("--principals: {p:?}: {e}"),
            )
        })?;
    }
    let config = super::load_config(&args.config)?;
    let store = super::serve::open_store(&config)?;
    let token = new_token();
    let hash = enrolment_token_hash(&token);
    let now = zt_os::clock::unix_now();
    let expires_at = now + ttl.as_secs();
    let audit = AuditRecord {
        time: now,
        kind: EventKind::EnrolmentTokenCreated,
        request_id: zt_core::jose::random_id(),
        identity: Some(super::revoke::local_admin()),
        client_addr: None,
        device: None,
        rule: None,
        certificate: None,
        outcome: Some(Outcome::success()),
        revocation: None,
        enrolment: Some(EnrolmentFacts {
            token: hash.chars().take(16).collect(),
            principals: args.principals.clone(),
            expires_at,
        }),
        posture: None,
        audience: None,
        workload: None,
    };
    let write = Write {
        changes: vec![Change::AddEnrolmentToken(EnrolmentToken {
            hash,
            principals: args.principals.clone(),
            expires_at,
            used: false,
        })],
        ..Write::record(audit)
    };
    super::runtime()?
        .block_on(store.commit(write))
        .map_err(|e| {
            Failure::config(format!("could not record the token; none was created: {e}"))
                .hint("check the database file named in [store] (space, permissions)")
        })?;
    zt_os::stdout::println(&token)?;
    eprintln!(
        "Enrolment token for {} (one use, until {}). On the target: zt host enroll --broker {} --token-file FILE (or ZT_HOST_TOKEN)",
        args.principals.join(","),
        zt_core::time::rfc3339(expires_at),
        config.server.public_url
    );
    Ok(())
}
