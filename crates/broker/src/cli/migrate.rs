//! `zt-broker migrate`: bring a PostgreSQL store's schema to the version this broker serves
//! on. Brokers never change the schema themselves (replicas of two versions may share the
//! database during an upgrade); they refuse to start on a schema they do not know. Safe to
//! run twice, and from two places at once (the migration takes a lock). SQLite needs none:
//! the broker creates its file's tables itself.

use std::path::PathBuf;

use clap::Args;

use crate::config::Backend;
use crate::store::{postgres, postgres_schema};
use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Path of zt-broker.toml
    #[arg(long, env = "ZT_BROKER_CONFIG")]
    pub config: PathBuf,
    /// Print one JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: MigrateArgs) -> Result<(), Failure> {
    let config = super::load_config(&args.config)?;
    let (store, before, after) = match config.store.backend() {
        Backend::Sqlite(path) => {
            if !args.json {
                eprintln!(
                    "{}: SQLite needs no migration (the broker keeps its file's schema itself).",
                    path.display()
                );
            }
            ("sqlite", None, None)
        }
        Backend::Postgres(_) => {
            let options = config
                .store
                .postgres_options()
                .map_err(|e| Failure::config(e.to_string()))?;
            let (before, after) = postgres::migrate(&options).map_err(|e| {
                Failure::config(format!("{}: {e}", config.store.describe()))
                    .hint("check store.postgres, the password and that the role may create tables")
            })?;
            if !args.json {
                let message = if before > postgres_schema::CURRENT {
                    format!(
                        "The schema is at version {before}, newer than this broker knows ({}); nothing changed.",
                        postgres_schema::CURRENT
                    )
                } else if before == after {
                    format!("The schema is at version {after} already; nothing to do.")
                } else {
                    format!("Migrated the schema from version {before} to {after}.")
                };
                eprintln!("{message}");
            }
            ("postgres", Some(before), Some(after))
        }
    };
    if args.json {
        zt_os::stdout::println(
            &serde_json::json!({ "store": store, "from": before, "to": after }).to_string(),
        )?;
    }
    Ok(())
}
