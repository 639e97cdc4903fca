//! `zt ssh [ssh options] [user@]host [command…]`: make sure a certificate
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
#[command(disable_help_flag = true)]
pub struct SshArgs {
    /// ssh options, destination and remote command, as for ssh(1)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 1.., required = true, value_name = "SSH_ARGS")]
    pub args: Vec<OsString>,
}

pub fn run(args: SshArgs, ctx: &Ctx) -> Result<u8, Failure> {
    let invocation =
        ssh_args::parse(&args.args).map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;
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
