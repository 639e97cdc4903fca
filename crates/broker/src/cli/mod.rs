//! `zt-broker` command line: one file per subcommand. The clap definitions
//! here depend only on clap, so man pages and completions are generated
//! from them.

pub mod audit;
pub mod dev;
pub mod device;
pub mod host;
pub mod init;
pub mod manual;
pub mod migrate;
pub mod policy;
pub mod revoke;
pub mod serve;
pub mod sign_host;
pub mod token_key;

use clap::{Parser, Subcommand};

use zt_os::exit::Failure;

#[derive(Debug, Parser)]
#[command(
    name = "zt-broker",
    version,
    about = "zt broker: verifies identities, applies policy, signs short-lived SSH certificates",
    after_help = "Environment, exit statuses and examples: zt-broker --help, or man zt-broker"
)]
pub struct BrokerCli {
    #[command(subcommand)]
    pub command: BrokerCommand,
}

#[derive(Debug, Subcommand)]
pub enum BrokerCommand {
    /// Create CA keys, a config file and a starter policy in a directory
    Init(init::InitArgs),
    /// Run the broker from a config file
    Serve(serve::ServeArgs),
    /// Bring a PostgreSQL store's schema to this broker's version (brokers never migrate by themselves)
    Migrate(migrate::MigrateArgs),
    /// Development only: a loopback broker with a built-in test identity provider
    Dev(dev::DevArgs),
    /// Sign a host key with the host CA (local admin command)
    SignHost(sign_host::SignHostArgs),
    /// Verify or export the audit log
    Audit(audit::AuditArgs),
    /// Revoke a certificate, key or user (local admin command; audited)
    Revoke(revoke::RevokeArgs),
    /// The device registry: list, show, approve or revoke devices (local admin command; audited)
    Device(device::DeviceArgs),
    /// Host enrolment: one-time tokens for `zt host enroll` (local admin command)
    Host(host::HostArgs),
    /// Check a policy file and explain its decision for an identity
    Policy(policy::PolicyArgs),
    /// Rotate the key that signs broker tokens (local admin command)
    TokenKey(token_key::TokenKeyArgs),
}

/// The command line as `zt-broker` parses it: the clap definitions with the manual's
/// examples, environment and exit statuses under `--help` (the man pages are built from the
/// same).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    zt_os::manual::apply(BrokerCli::command(), &manual::MANUAL)
}

pub fn run(cli: BrokerCli) -> Result<(), Failure> {
    match cli.command {
        BrokerCommand::Init(args) => init::run(args),
        BrokerCommand::Serve(args) => serve::run(args),
        BrokerCommand::Migrate(args) => migrate::run(args),
        BrokerCommand::Dev(args) => dev::run(args),
        BrokerCommand::SignHost(args) => sign_host::run(args),
        BrokerCommand::Audit(args) => audit::run(args),
        BrokerCommand::Revoke(args) => revoke::run(args),
        BrokerCommand::Device(args) => device::run(args),
        BrokerCommand::Host(args) => host::run(args),
        BrokerCommand::Policy(args) => policy::run(args),
        BrokerCommand::TokenKey(args) => token_key::run(args),
    }
}

/// The broker's config file, or a configuration error that says which file to pass.
pub(crate) fn load_config(path: &std::path::Path) -> Result<crate::config::BrokerConfig, Failure> {
    crate::config::BrokerConfig::load(path).map_err(|e| {
        Failure::config(e.to_string()).hint(
            "pass the zt-broker.toml that `zt-broker init` wrote (--config FILE or ZT_BROKER_CONFIG)",
        )
    })
}

/// A multi-thread runtime for the server commands.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::unexpected(format!("cannot start the async runtime: {e}")))
}

pub(crate) fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("ZT_LOG").unwrap_or_else(|_| "info".into());
    // Colour only on a terminal: escape sequences in a log file are control
    // bytes that log readers (and log injection checks) should never meet.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}
