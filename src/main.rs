//! `zt`: parse, run, print the error once, map it to its exit code.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = zt::cli::Cli::parse();
    match zt::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            failure.report("zt");
            failure.exit.code()
        }
    }
}
