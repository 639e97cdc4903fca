//! `zt`: parse, run, print the error once, map it to its exit code.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if let Err(e) = zt_os::hygiene::disable_core_dumps() {
        eprintln!("zt: warning: cannot disable core dumps: {e}");
    }
    let cli = zt::cli::Cli::parse();
    match zt::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            failure.report("zt");
            failure.exit.code()
        }
    }
}
