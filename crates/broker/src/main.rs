//! `zt-broker`: parse, run, print the error once (with `--json`, also as the one JSON document
//! on stdout), map it to its exit code.
use std::process::ExitCode;

use clap::FromArgMatches;
use zt_os::exit::{usage_error, wants_json};

fn main() -> ExitCode {
    if let Err(e) = zt_os::hygiene::disable_core_dumps() {
        eprintln!("zt-broker: warning: cannot disable core dumps: {e}");
    }
    let json = wants_json(std::env::args_os());
    let cli = match zt_broker::cli::command()
        .try_get_matches()
        .and_then(|matches| zt_broker::cli::BrokerCli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, json),
    };
    match zt_broker::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.finish("zt-broker", json),
    }
}
