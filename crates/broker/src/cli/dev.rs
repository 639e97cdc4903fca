//! `zt-broker dev`: one command, nothing else installed — a loopback-only
//! broker with the built-in development identity provider and SQLite in a
//! temporary directory. DEVELOPMENT ONLY: it refuses any other address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use clap::Args;

use crate::config::{IdpConfig, ServerConfig, StoreConfig};
use crate::http;
use crate::keys::openssh_public;
use zt_dev_idp::{DevIssuer, DevIssuerConfig, default_users};
use zt_os::exit::Failure;

const CLIENT_ID: &str = "zt";

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Loopback address to listen on (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for keys, policy and database [default: a new temporary directory]
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Approve every device code at once as this development user (alice, bob, carol)
    #[arg(long, value_name = "USER")]
    pub auto_approve: Option<String>,
    /// Policy file to use instead of the starter policy
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Print one JSON line with the broker URL and CA keys on stdout (for scripts)
    #[arg(long)]
    pub json: bool,
    /// Switch off the per-address and per-identity request rate limits (for load benchmarks)
    #[arg(long)]
    pub no_rate_limits: bool,
    /// Keep the state in this PostgreSQL database instead of SQLite, migrating it first
    /// (postgres://USER@HOST/DB; the password from ZT_BROKER_DB_PASSWORD)
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
}

pub fn run(args: DevArgs) -> Result<(), Failure> {
    super::init_logging();
    if !args.listen.ip().is_loopback() {
        return Err(Failure::config(format!(
            "zt-broker dev serves a built-in test identity provider and binds only to loopback; {} is not loopback",
            args.listen.ip()
        ))
        .hint("use --listen 127.0.0.1:PORT, or run `zt-broker init` + `serve` with a real identity provider"));
    }
    let users = default_users();
    if let Some(user) = &args.auto_approve {
        if !users.iter().any(|u| &u.username == user) {
            let names: Vec<_> = users.iter().map(|u| u.username.as_str()).collect();
            return Err(Failure::config(format!(
                "--auto-approve: no development user {user:?} (have: {})",
                names.join(", ")
            )));
        }
    }
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| Failure::config(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::unexpected(e.to_string()))?;
    let public_url = format!("http://{addr}");
    let issuer = format!("{public_url}/dev-idp");
    let dir = match args.dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("zt-broker-dev-{}", zt_core::jose::random_id())),
    };
    let dir = std::path::absolute(&dir).map_err(|e| Failure::config(e.to_string()))?;
    zt_os::files::private_dir(&dir)?;
    let server = ServerConfig {
        listen: addr,
        public_url: public_url.clone(),
        tls_certificate: None,
        tls_key: None,
        insecure_http: false,
    };
    let idp = IdpConfig::new(&issuer, CLIENT_ID);
    let mut config = super::init::layout(&dir, server, idp, "zt-broker".into());
    if args.no_rate_limits {
        config.limits = config.limits.without_rate_limits();
    }
    if let Some(url) = args.postgres {
        config.store = StoreConfig::postgres(url, None);
        migrate_for_dev(&config.store)?;
    }
    let limits = config.limits.clone();
    if let Some(policy) = args.policy {
        config.policy = std::path::absolute(policy).map_err(|e| Failure::config(e.to_string()))?;
    }
    let config_path = dir.join("zt-broker.toml");
    let keys = super::init::create(&config, &config_path, super::init::STARTER_POLICY)?;
    let user_ca = openssh_public(&keys.user_ca_public());
    let host_ca = openssh_public(&keys.host_ca_public());
    drop(keys);

    let dev_issuer = DevIssuer::new(DevIssuerConfig {
        issuer: issuer
            .parse()
            .map_err(|e| Failure::unexpected(format!("{e}")))?,
        client_id: CLIENT_ID.into(),
        users,
        auto_approve: args.auto_approve.clone(),
        device_code_ttl: Duration::from_secs(600),
        interval_secs: 1,
        id_token_ttl: Duration::from_secs(300),
    })
    .map_err(|e| Failure::unexpected(e.to_string()))?;
    let broker = Arc::new(super::serve::load(config)?);
    let app = Router::new()
        .nest("/dev-idp", dev_issuer.router())
        .merge(http::router(broker));

    if args.json {
        let line = serde_json::json!({
            "event": "ready", "broker": public_url, "issuer": issuer, "dir": dir,
            "config": config_path, "user_ca": user_ca, "host_ca": host_ca,
        });
        println!("{line}");
    }
    eprintln!(
        "zt-broker dev: DEVELOPMENT ONLY — built-in test identity provider, never use in production"
    );
    eprintln!("  broker:     {public_url}");
    eprintln!("  state:      {}", dir.display());
    eprintln!(
        "  users:      alice (group sre → principal ops), bob (group dev → principal dev), carol (no groups)"
    );
    match &args.auto_approve {
        Some(user) => eprintln!("  approvals:  every device code is approved as {user}"),
        None => eprintln!(
            "  approvals:  open {issuer}/device in a browser (or a second terminal with curl)"
        ),
    }
    eprintln!();
    eprintln!("Next:");
    eprintln!(
        "  1. On a target, trust the user CA: put it in {} (sshd_config: TrustedUserCAKeys {0}),",
        zt_core::host_layout::user_ca_keys_path()
    );
    eprintln!("       {user_ca}");
    eprintln!(
        "     and map logins to principals in {}/{}/<login>, e.g. 'ops'.",
        zt_core::host_layout::DIR,
        zt_core::host_layout::PRINCIPALS_DIR
    );
    eprintln!("  2. zt login --broker {public_url}");
    eprintln!("  3. zt ssh USER@HOST");
    super::runtime()?
        .block_on(http::serve(listener, app, None, &limits))
        .map_err(|e| Failure::unexpected(format!("server failed: {e}")))
}

/// A development broker brings its PostgreSQL schema up to date itself (`serve` never does).
fn migrate_for_dev(store: &StoreConfig) -> Result<(), Failure> {
    let fail = |e: String| Failure::config(format!("--postgres: {e}"));
    store.validate().map_err(|e| fail(e.to_string()))?;
    let options = store.postgres_options().map_err(|e| fail(e.to_string()))?;
    crate::store::postgres::migrate(&options).map_err(|e| fail(e.to_string()))?;
    Ok(())
}
