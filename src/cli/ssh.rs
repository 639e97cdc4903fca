//! `zt ssh [ssh options] [--] [user@]host [command…]`: make sure a certificate
//! with at least two minutes left is in place (no network when there is;
//! silent renewal when not), refuse forwarding the certificate does not
//! permit, then replace this process with OpenSSH.

use std::ffi::OsString;
use std::process::Command;

use clap::Args;

use super::Ctx;
use crate::client::session::RENEW_MARGIN_SECS;
use crate::client::ssh_args::{self, Identity};
use crate::client::{permissions, renewal};
use zt_os::exit::{Exit, Failure};

#[derive(Debug, Args)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct SshArgs {
    #[command(flatten)]
    pub ci: super::ci::CiArgs,
    /// ssh options, destination and remote command, as for ssh(1)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 1.., required = true, value_name = "SSH_ARGS")]
    pub args: Vec<OsString>,
}

/// The usage line: ssh's arguments, not clap's view of them.
pub const USAGE: &str =
    "zt [--profile NAME] ssh [--ci [CI_OPTIONS]] [SSH_OPTIONS] [--] [USER@]HOST [COMMAND]...";

pub const LONG_ABOUT: &str = "\
Run OpenSSH with a fresh certificate.

zt makes sure a certificate with at least two minutes left is in place, renewing it silently \
when it can (no network otherwise), refuses forwarding the certificate does not grant, then \
replaces itself with ssh. zt's identity options come first, so ssh keeps them over yours.

Everything after `ssh` is for ssh, as ssh(1) reads it: its options (-p, -L, -o Name=value, \
...), then the destination, then the remote command. zt's own flags (--profile, --json) go \
before `ssh`. Without `--`, an argument that starts with `-` is an option, as it is for ssh: \
`zt ssh \"$HOST\" id` with HOST=-oProxyCommand=... runs that command on this machine, as plain \
ssh would.

Write `zt ssh [SSH_OPTIONS] -- DESTINATION [COMMAND]...`, always in scripts: the argument \
after `--` is the destination, whatever it looks like (one that starts with `-` is refused, \
exit 2), and everything after it is the remote command; zt hands it to ssh after a `--` of \
its own. Options that make ssh run or load a program on this machine (ProxyCommand, \
LocalCommand, PermitLocalCommand, KnownHostsCommand, XAuthLocation, PKCS11Provider, \
SecurityKeyProvider, -I) get a warning on stderr, one line each.

In a CI job, `zt ssh --ci` logs in with the job's workload identity (GitHub Actions, GitLab \
CI, a Kubernetes service account, OAuth client credentials), certifies a key in a private \
directory, runs ssh, waits for it and removes the directory: nothing is kept. The --ci \
options come right after `ssh`, before ssh's own. Without a session and a terminal, a job \
takes this path without --ci.

`-h`/`--help` and `--version` right after `ssh` are zt's; ssh's own -V still reaches ssh.";

/// `zt ssh --help` or `-h`: ssh's own options pass through, so these are recognised by hand
/// (clap would hand them to ssh) and only as the first argument after `ssh` (`zt ssh --
/// --help` is a destination, refused).
fn help_or_version(args: &[OsString]) -> Option<Result<u8, Failure>> {
    let first = args.first()?.to_str()?;
    match first {
        "-h" | "--help" => {
            let mut command = super::command();
            command.build();
            let ssh = command.find_subcommand_mut("ssh")?;
            let help = if first == "-h" {
                ssh.render_help()
            } else {
                ssh.render_long_help()
            };
            Some(zt_os::stdout::print(&help.to_string()).map(|()| 0))
        }
        "--version" => {
            Some(zt_os::stdout::println(concat!("zt ", env!("CARGO_PKG_VERSION"))).map(|()| 0))
        }
        _ => None,
    }
}

pub fn run(args: SshArgs, ctx: &Ctx) -> Result<u8, Failure> {
    let ssh =
        ssh_args::restore_separator(&std::env::args_os().collect::<Vec<_>>(), args.args.clone());
    if let Some(done) = help_or_version(&ssh) {
        return done;
    }
    let invocation = ssh_args::parse(&ssh).map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;
    warn_local_programs(&invocation.options);
    if args.ci.active(ctx) {
        return super::runtime()?.block_on(run_ci(&args.ci, &invocation, ctx));
    }
    let session = renewal::ensure_certificate(&ctx.paths, &ctx.profile, RENEW_MARGIN_SECS, || {
        ctx.secrets()
    })?;
    let cert = session
        .certificate
        .as_ref()
        .ok_or_else(|| Failure::unexpected("no certificate after renewal"))?;
    let paths = &ctx.paths;
    permissions::require(
        paths,
        &cert.rule,
        ssh_args::requested_forwarding(&invocation.options),
    )?;
    let argv = ssh_args::build(&invocation, &Identity::of(paths, cert.in_agent));
    let program = std::env::var_os("ZT_SSH_PROGRAM").unwrap_or_else(|| "ssh".into());
    exec(Command::new(&program).args(argv), &program)
}

/// `zt ssh --ci`: log the job in, certify a key in a private directory, run ssh with it and
/// wait for it, then remove the directory: nothing of the job's stays behind. SIGINT and
/// SIGTERM stop ssh first, so the directory goes too. Returns ssh's exit status.
async fn run_ci(
    ci: &super::ci::CiArgs,
    invocation: &ssh_args::SshInvocation,
    ctx: &Ctx,
) -> Result<u8, Failure> {
    use tokio::signal::unix::{SignalKind, signal};
    let signal_err = |e: std::io::Error| Failure::unexpected(format!("cannot watch signals: {e}"));
    let mut interrupt = signal(SignalKind::interrupt()).map_err(signal_err)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(signal_err)?;
    let login = ci.login(ctx, None, true).await?;
    let dir = crate::client::ci::CiDir::create()?;
    let cert = login.certificate(&dir).await?;
    let paths = dir.paths(&ctx.paths);
    permissions::require(
        &paths,
        &cert.rule,
        ssh_args::requested_forwarding(&invocation.options),
    )?;
    let argv = ssh_args::build(invocation, &Identity::of(&paths, false));
    let program = std::env::var_os("ZT_SSH_PROGRAM").unwrap_or_else(|| "ssh".into());
    let mut child = tokio::process::Command::new(&program)
        .args(argv)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            Failure::config(format!("cannot run {}: {e}", program.to_string_lossy()))
                .hint("install OpenSSH's client (ssh)")
        })?;
    let status = tokio::select! {
        status = child.wait() => status
            .map_err(|e| Failure::unexpected(format!("waiting for ssh: {e}")))?
            .code()
            .unwrap_or(255) as u8,
        _ = interrupt.recv() => 130,
        _ = terminate.recv() => 143,
    };
    let _ = child.kill().await;
    drop(dir);
    Ok(status)
}

/// One warning line per option that makes ssh run or load a program on this machine: a script
/// that put a host name where ssh reads options would otherwise not notice.
pub fn warn_local_programs(options: &[OsString]) {
    for option in ssh_args::local_program_options(options) {
        eprintln!(
            "zt: warning: ssh option {} runs a program on this machine; a script should pass the host after `--`: zt ssh [options] -- \"$HOST\"",
            zt_core::text::quoted(&option, 200)
        );
    }
}

#[cfg(unix)]
fn exec(command: &mut Command, program: &std::ffi::OsStr) -> Result<u8, Failure> {
    use std::os::unix::process::CommandExt;
    // exec only returns on failure; on success ssh's exit status is ours.
    let error = command.exec();
    Err(
        Failure::config(format!("cannot run {}: {error}", program.to_string_lossy()))
            .hint("install OpenSSH's client (ssh)"),
    )
}

#[cfg(not(unix))]
fn exec(command: &mut Command, program: &std::ffi::OsStr) -> Result<u8, Failure> {
    let status = command
        .status()
        .map_err(|e| Failure::config(format!("cannot run {}: {e}", program.to_string_lossy())))?;
    Ok(status.code().unwrap_or(255) as u8)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::FromArgMatches;

    use crate::client::ssh_args::restore_separator;

    /// What `run` hands to `ssh_args::parse` for the command line `line`.
    fn given(line: &[&str]) -> Vec<OsString> {
        let matches = super::super::command().try_get_matches_from(line).unwrap();
        let cli = super::super::Cli::from_arg_matches(&matches).unwrap();
        let super::super::Command::Ssh(args) = cli.command else {
            panic!("not zt ssh: {line:?}");
        };
        let argv: Vec<OsString> = line.iter().map(OsString::from).collect();
        restore_separator(&argv, args.args)
    }

    /// `restore_separator` relies on how clap treats `--`; a clap upgrade that changes it
    /// fails here.
    #[test]
    fn a_double_dash_reaches_the_ssh_parser_wherever_it_was() {
        for (line, expected) in [
            (
                &["zt", "ssh", "--", "-oX", "true"][..],
                &["--", "-oX", "true"][..],
            ),
            (&["zt", "ssh", "--json", "--", "host"], &["--", "host"]),
            (
                &["zt", "--profile", "p", "ssh", "--", "host", "id"],
                &["--", "host", "id"],
            ),
            (&["zt", "ssh", "--profile=p", "--", "host"], &["--", "host"]),
            (&["zt", "ssh", "-v", "--", "host"], &["-v", "--", "host"]),
            (&["zt", "ssh", "host", "--", "-v"], &["host", "--", "-v"]),
            (&["zt", "ssh", "--", "--", "host"], &["--", "--", "host"]),
            (&["zt", "ssh", "host"], &["host"]),
        ] {
            let expected: Vec<OsString> = expected.iter().map(OsString::from).collect();
            assert_eq!(given(line), expected, "{line:?}");
        }
        // `--` is never the value of `--profile`, so a `--` right before zt's arguments is
        // always the one clap dropped.
        assert!(
            super::super::command()
                .try_get_matches_from(["zt", "ssh", "--profile", "--", "host"])
                .is_err()
        );
    }
}
