//! `zt-broker token-key rotate`: a new key signs the broker's tokens; the old one stays
//! published at `/v1/jwks` (and accepted on access tokens) until the next rotation, so
//! services that cache the JWKS and tokens already out keep verifying. Takes effect when the
//! broker restarts.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::keys::{previous_token_path, rotate_token_key};
use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct TokenKeyArgs {
    #[command(subcommand)]
    pub command: TokenKeyCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenKeyCommand {
    /// Make a new token-signing key; the current one becomes the previous one (restart to apply)
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Path of zt-broker.toml
    #[arg(long, env = "ZT_BROKER_CONFIG")]
    pub config: PathBuf,
    /// Print one JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: TokenKeyArgs) -> Result<(), Failure> {
    let TokenKeyCommand::Rotate(args) = args.command;
    let config = super::load_config(&args.config)?;
    let current = &config.keys.token_signing;
    let (old, new) = rotate_token_key(current).map_err(|e| Failure::config(e.to_string()))?;
    if args.json {
        zt_os::stdout::println(
            &serde_json::json!({ "previous": old, "current": new }).to_string(),
        )?;
    } else {
        eprintln!(
            "New token key {new}; the previous key {old} is kept in {} and stays published until the next rotation.\nRestart the broker to use it. Rotate again only after the longest token lifetime has passed.",
            previous_token_path(current).display()
        );
    }
    Ok(())
}
