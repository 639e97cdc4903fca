//! `zt-broker`: parse, run, print the error once, map it to its exit code.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if let Err(e) = zt_os::hygiene::disable_core_dumps() {
        eprintln!("zt-broker: warning: cannot disable core dumps: {e}");
    }
    let cli = zt_broker::cli::BrokerCli::parse();
    match zt_broker::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report("zt-broker");
            failure.exit.code()
        }
    }
}
