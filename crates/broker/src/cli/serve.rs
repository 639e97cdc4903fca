//! `zt-broker serve`: load config, keys, policy and store; serve HTTP(S).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::config::{Backend, BrokerConfig};
use crate::http;
use crate::idp::Issuers;
use crate::keys::{BrokerKeys, load_or_create_audit_key};
use crate::service::Broker;
use crate::store::audit_log::AuditLog;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::{Checkpointing, SqliteStore};
use crate::store::{Store, StoreError};
use zt_core::policy::Policy;
use zt_os::exit::{Exit, Failure};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Path of zt-broker.toml
    #[arg(long, env = "ZT_BROKER_CONFIG")]
    pub config: PathBuf,
    /// Listen here instead of on server.listen (replicas that share one config on one host)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
}

/// Everything loaded from a config file, ready to serve.
pub fn load(config: BrokerConfig) -> Result<Broker, Failure> {
    let keys = BrokerKeys::load(&config.keys).map_err(|e| Failure::config(e.to_string()))?;
    let policy = load_policy(&config.policy)?;
    // A token minted "for another service" with the broker's own audience would be a broker
    // token by another name.
    if let Some(rule) = policy
        .rules()
        .iter()
        .find(|r| r.audiences().contains(&config.tokens.audience))
    {
        return Err(Failure::config(format!(
            "{}: rule \"{}\" lists the broker's own audience {:?} in audiences; list only other services",
            config.policy.display(),
            rule.name(),
            config.tokens.audience
        )));
    }
    let store = open_store(&config)?;
    let idp = Issuers::new(
        &config.identity_provider.issuer,
        &config.identity_provider.client_id,
        config.identity_provider.token_bounds(),
        &config.workload_issuers,
        config.workload_audience(),
    );
    Ok(Broker::new(
        config,
        keys,
        policy,
        Arc::new(idp),
        Arc::from(store),
    ))
}

/// The store, signing audit checkpoints with the audit key (created here
/// for a broker initialised before checkpoints existed). Refuses a key
/// other than the one that signed the log's last checkpoint: a lost or
/// swapped key would silently leave the earlier checkpoints unverifiable.
pub fn open_store(config: &BrokerConfig) -> Result<Box<dyn Store>, Failure> {
    let path = &config.keys.audit_signing;
    let last_signer = AuditLog::open(&config.store)
        .and_then(|log| log.checkpoints())
        .ok()
        .and_then(|c| c.last().map(|c| c.key_id.clone()));
    let restore = "restore the audit key that signed this log from a backup";
    if last_signer.is_some() && std::fs::symlink_metadata(path).is_err() {
        return Err(Failure::config(format!(
            "{} is missing, but the audit log's checkpoints were signed with it",
            path.display()
        ))
        .hint(restore));
    }
    let (key, created) =
        load_or_create_audit_key(path).map_err(|e| Failure::config(e.to_string()))?;
    if created {
        tracing::info!(path = %path.display(), "created the audit checkpoint key");
    }
    if last_signer.is_some_and(|id| id != key.thumbprint()) {
        return Err(Failure::config(format!(
            "{} is not the key that signed the audit log's last checkpoint",
            path.display()
        ))
        .hint(restore));
    }
    let checkpointing = Checkpointing {
        key,
        every_records: config.audit.checkpoint_records,
        every: Duration::from_secs(config.audit.checkpoint_secs),
    };
    let opened: Result<Box<dyn Store>, StoreError> = match config.store.backend() {
        Backend::Sqlite(path) => {
            SqliteStore::open(path, Some(checkpointing)).map(|s| Box::new(s) as Box<dyn Store>)
        }
        Backend::Postgres(_) => {
            let options = config
                .store
                .postgres_options()
                .map_err(|e| Failure::config(e.to_string()))?;
            PostgresStore::open(&options, Some(checkpointing))
                .map(|s| Box::new(s) as Box<dyn Store>)
        }
    };
    opened.map_err(|e| Failure::config(format!("{}: {e}", config.store.describe())))
}

pub fn load_policy(path: &std::path::Path) -> Result<Policy, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::config(format!("{}: {e}", path.display())))?;
    Policy::from_toml(&text).map_err(|e| Failure::config(format!("{}: {e}", path.display())))
}

pub fn run(args: ServeArgs) -> Result<(), Failure> {
    super::init_logging();
    let mut config = super::load_config(&args.config)?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
        config
            .validate()
            .map_err(|e| Failure::config(format!("--listen {listen}: {e}")))?;
    }
    let listener = std::net::TcpListener::bind(config.server.listen).map_err(|e| {
        Failure::new(
            Exit::Config,
            format!("cannot listen on {}: {e}", config.server.listen),
        )
    })?;
    let tls = config
        .server
        .tls_certificate
        .clone()
        .zip(config.server.tls_key.clone());
    if tls.is_none() && !config.server.listen.ip().is_loopback() {
        tracing::warn!(listen = %config.server.listen, "INSECURE: serving plain HTTP on a non-loopback address (server.insecure_http = true); tokens cross the network in clear unless a TLS proxy fronts this broker");
    }
    let limits = config.limits.clone();
    let broker = Arc::new(load(config)?);
    tracing::info!(listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), public_url = %broker.config().server.public_url, "zt-broker serving");
    super::runtime()?
        .block_on(http::serve(listener, http::router(broker), tls, &limits))
        .map_err(|e| {
            Failure::config(format!("cannot serve: {e}"))
                .hint("check [server] tls_certificate and tls_key, and that the address is free")
        })
}
