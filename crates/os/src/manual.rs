//! The parts of a command's manual that are not flags: its environment, files, exit
//! statuses, examples and related pages. Each binary writes its manual once, as a
//! [`Manual`]; its `--help` and its man pages are both built from it, and a test holds the
//! environment list against the code and the README.

/// A binary's manual.
#[derive(Debug, Clone, Copy)]
pub struct Manual {
    /// The binary, as on the command line.
    pub program: &'static str,
    /// Environment variables the program reads: (name, what it does).
    pub environment: &'static [(&'static str, &'static str)],
    /// Files the program reads or writes: (path, what it is).
    pub files: &'static [(&'static str, &'static str)],
    /// Exit statuses: (code, meaning).
    pub exit_status: &'static [(&'static str, &'static str)],
    /// Examples: (subcommand path, "" for the program itself; command line; what it does).
    pub examples: &'static [(&'static str, &'static str, &'static str)],
    /// Other manual pages worth reading: "ssh(1)", "sshd_config(5)", ….
    pub see_also: &'static [&'static str],
}

impl Manual {
    /// The examples for `command` (a subcommand path such as "ssh-config install").
    pub fn examples_for(&self, command: &str) -> Vec<(&'static str, &'static str)> {
        self.examples
            .iter()
            .filter(|(path, _, _)| *path == command)
            .map(|(_, line, what)| (*line, *what))
            .collect()
    }

    /// What `--help` adds under the options of `command`: its examples and, for the program
    /// itself, the environment and exit statuses.
    pub fn long_help(&self, command: &str) -> String {
        let mut text = String::new();
        let examples = self.examples_for(command);
        if !examples.is_empty() {
            text.push_str("Examples:\n");
            let width = examples
                .iter()
                .map(|(line, _)| line.len())
                .max()
                .unwrap_or(0);
            for (line, what) in examples {
                text.push_str(&format!("  {line:width$}  {what}\n"));
            }
        }
        if command.is_empty() {
            // Name, then what it does on a line of its own, as clap lays out long option help:
            // a terminal that wraps then keeps the indentation readable.
            text.push_str("\nEnvironment:\n");
            for (name, what) in self.environment {
                text.push_str(&format!("  {name}\n          {what}\n"));
            }
            text.push_str("\nExit status:\n");
            for (code, meaning) in self.exit_status {
                text.push_str(&format!("  {code:>2}  {meaning}\n"));
            }
        }
        text.trim_end().to_owned()
    }
}

/// `command` with the manual's text under each (sub)command's `--help`.
pub fn apply(command: clap::Command, manual: &Manual) -> clap::Command {
    with_help(command, manual, "")
}

fn with_help(mut command: clap::Command, manual: &Manual, path: &str) -> clap::Command {
    let help = manual.long_help(path);
    if !help.is_empty() {
        command = command.after_long_help(help);
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        let sub_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        command = command.mut_subcommand(&name, |sub| with_help(sub, manual, &sub_path));
    }
    command
}
