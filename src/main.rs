//! `zt`: parse, run, print the error once (with `--json`, also as the one JSON document on
//! stdout), map it to its exit code.
use std::process::ExitCode;

use clap::FromArgMatches;
use zt_os::exit::{usage_error, wants_json};

fn main() -> ExitCode {
    if let Err(e) = zt_os::hygiene::disable_core_dumps() {
        eprintln!("zt: warning: cannot disable core dumps: {e}");
    }
    let json = wants_json(std::env::args_os());
    let cli = match zt::cli::command()
        .try_get_matches()
        .and_then(|matches| zt::cli::Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, json),
    };
    match zt::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => failure.finish("zt", json),
    }
}
