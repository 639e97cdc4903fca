//! `zt-broker audit`: check and export the audit log. Both read the
//! database directly (SQLite read-only; PostgreSQL through reads only), so they work whether
//! or not the broker is running and never change the log.

pub mod export;
pub mod verify;

use clap::{Args, Subcommand};

use crate::config::BrokerConfig;
use crate::store::audit_log::AuditLog;
use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain and signed checkpoints; report the first record that was edited, deleted, reordered or inserted, or a truncated tail (exit 1)
    Verify(verify::VerifyArgs),
    /// Print audit records, one per line (JSON with --json), optionally filtered
    Export(export::ExportArgs),
}

pub fn run(args: AuditArgs) -> Result<(), Failure> {
    match args.command {
        AuditCommand::Verify(args) => verify::run(args),
        AuditCommand::Export(args) => export::run(args),
    }
}

/// The config and a read-only view of its audit log.
fn open(config: &std::path::Path) -> Result<(BrokerConfig, AuditLog), Failure> {
    let config = super::load_config(config)?;
    let log = AuditLog::open(&config.store).map_err(|e| Failure::config(e.to_string()))?;
    Ok((config, log))
}
