//! `zt` command line: clap definitions (depending only on clap, so man
//! pages and completions are generated from them) and one file per
//! subcommand, each with its `Args` and `run`.

pub mod ci;
pub mod completions;
pub mod failure;
pub mod forward;
pub mod host;
pub mod json;
pub mod login;
pub mod logout;
pub mod manual;
pub mod posture;
pub mod qr;
pub mod ssh;
pub mod ssh_config;
pub mod status;
pub mod token;

use clap::{Args, Parser, Subcommand};

use crate::client::paths::Paths;
use zt_os::exit::Failure;

#[derive(Debug, Parser)]
#[command(
    name = "zt",
    version,
    about = "Zero-trust SSH: sign in with your identity provider, get short-lived SSH certificates",
    after_help = "Environment, exit statuses and examples: zt --help, or man zt"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand shares.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Profile (one per broker)
    #[arg(long, global = true, env = "ZT_PROFILE", default_value = "default")]
    pub profile: String,
    /// Machine-readable JSON on stdout; human text stays on stderr
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in (OAuth device flow) and get a first certificate
    Login(login::LoginArgs),
    /// Run OpenSSH with a fresh certificate
    #[command(long_about = ssh::LONG_ABOUT, override_usage = ssh::USAGE)]
    Ssh(ssh::SshArgs),
    /// Show identity, broker, and certificate expiry
    Status(status::StatusArgs),
    /// Revoke the session, remove keys and delete local state
    Logout(logout::LogoutArgs),
    /// Print a short-lived broker access token
    Token(token::TokenArgs),
    /// Show the device report the broker will see
    Posture(posture::PostureArgs),
    /// Keep port forwards (-L, -R, -D) up, reconnecting with fresh certificates
    Forward(forward::ForwardArgs),
    /// Make plain ssh, scp, rsync and git use zt's certificate (ssh_config)
    SshConfig(ssh_config::SshConfigArgs),
    /// Print shell completions
    Completions(completions::CompletionsArgs),
    /// On a target: enrol with the broker, renew the host certificate, sync the KRL
    Host(host::HostArgs),
}

/// The command line as `zt` parses it: the clap definitions with the manual's examples,
/// environment and exit statuses under `--help` (the man pages are built from the same).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    zt_os::manual::apply(Cli::command(), &manual::MANUAL)
}

/// What every subcommand gets besides its own arguments.
pub struct Ctx {
    pub profile: String,
    pub json: bool,
    pub paths: Paths,
}

impl Ctx {
    pub fn new(global: &GlobalArgs) -> Result<Self, Failure> {
        Ok(Ctx {
            profile: global.profile.clone(),
            json: global.json,
            paths: Paths::for_profile(&global.profile)?,
        })
    }

    pub fn secrets(
        &self,
    ) -> Result<crate::client::credentials::Secrets, crate::client::error::Error> {
        crate::client::credentials::Secrets::open(&self.paths.state_dir, &self.profile)
    }
}

/// Run `zt`; `Ok(code)` is the process exit code (ssh's own, for `zt ssh`).
pub fn run(cli: Cli) -> Result<u8, Failure> {
    if let Command::Completions(args) = &cli.command {
        return completions::run(args, cli.global.json).map(|()| 0);
    }
    let ctx = Ctx::new(&cli.global)?;
    crate::client::session::tidy(&ctx.paths, zt_os::clock::unix_now());
    match cli.command {
        Command::Login(args) => login::run(args, &ctx).map(|()| 0),
        Command::Ssh(args) => ssh::run(args, &ctx),
        Command::Status(args) => status::run(args, &ctx).map(|()| 0),
        Command::Logout(args) => logout::run(args, &ctx).map(|()| 0),
        Command::Token(args) => token::run(args, &ctx).map(|()| 0),
        Command::Posture(args) => posture::run(args, &ctx).map(|()| 0),
        Command::Host(args) => host::run(args, cli.global.json).map(|()| 0),
        Command::Forward(args) => forward::run(args, &ctx),
        Command::SshConfig(args) => ssh_config::run(args, &ctx).map(|()| 0),
        Command::Completions(_) => unreachable!("handled above"),
    }
}

/// The CLI is I/O-bound and short-lived: one thread is enough.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::unexpected(format!("cannot start the async runtime: {e}")))
}
