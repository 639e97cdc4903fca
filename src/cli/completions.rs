//! `zt completions SHELL`: print completions (also committed in `completions/`).

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish
    pub shell: Shell,
}

pub fn run(args: &CompletionsArgs) -> Result<(), Failure> {
    let mut command = super::Cli::command();
    clap_complete::generate(args.shell, &mut command, "zt", &mut std::io::stdout());
    Ok(())
}
