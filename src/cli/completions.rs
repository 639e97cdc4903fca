//! `zt completions SHELL`: print completions (also committed in `completions/`).

use clap::Args;
use clap_complete::Shell;

use zt_os::exit::Failure;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish
    pub shell: Shell,
}

pub fn run(args: &CompletionsArgs, json: bool) -> Result<(), Failure> {
    let mut command = super::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "zt", &mut script);
    let script = String::from_utf8_lossy(&script);
    if json {
        super::json::emit(
            &serde_json::json!({ "shell": args.shell.to_string(), "script": script }),
        );
        return Ok(());
    }
    zt_os::stdout::print(&script)
}
