//! `zt-broker init`: a new broker directory with CA keys (0600, never
//! overwritten), `zt-broker.toml` and a starter `policy.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::config::{
    AuditConfig, BrokerConfig, IdpConfig, KeyPaths, LimitsConfig, ServerConfig, StoreConfig,
    TokenConfig, check_service_url,
};
use crate::keys::{BrokerKeys, openssh_public};
use zt_os::exit::Failure;
use zt_os::files;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create the broker's files in
    #[arg(long)]
    pub dir: PathBuf,
    /// OpenID Connect issuer URL of the identity provider
    #[arg(long)]
    pub issuer: String,
    /// OAuth client id that zt uses at the identity provider (a public client with the device grant)
    #[arg(long)]
    pub client_id: String,
    /// Audience of broker access tokens
    #[arg(long, default_value = "zt-broker")]
    pub audience: String,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// URL clients use to reach the broker [default: http://<listen>]
    #[arg(long)]
    pub public_url: Option<String>,
}

pub const STARTER_POLICY: &str = r#"# zt-broker policy. The first rule that matches wins; no match → 403.
# Principals, extensions and critical options come only from the rule.

[defaults]
ttl = "1h"
max_ttl = "8h"

[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops"]
extensions = ["permit-pty", "permit-port-forwarding"]

[[rules]]
name = "developers"
match.groups = ["dev"]
principals = ["dev"]
ttl = "30m"
max_ttl = "2h"
"#;

/// The file layout of a broker directory.
pub fn layout(dir: &Path, server: ServerConfig, idp: IdpConfig, audience: String) -> BrokerConfig {
    BrokerConfig {
        server,
        identity_provider: idp,
        workload_issuers: Vec::new(),
        tokens: TokenConfig {
            audience,
            ..TokenConfig::default()
        },
        keys: KeyPaths {
            user_ca: dir.join("user_ca"),
            host_ca: dir.join("host_ca"),
            token_signing: dir.join("token_signing_key.pem"),
            audit_signing: dir.join("audit_signing_key.pem"),
            additional_host_ca_keys: Vec::new(),
        },
        policy: dir.join("policy.toml"),
        store: StoreConfig::sqlite(dir.join("zt-broker.db")),
        limits: LimitsConfig::default(),
        audit: AuditConfig::default(),
    }
}

/// Create keys, policy (unless present) and config; returns the keys.
pub fn create(
    config: &BrokerConfig,
    config_path: &Path,
    policy_text: &str,
) -> Result<BrokerKeys, Failure> {
    if config_path.exists() {
        return Err(Failure::config(format!(
            "{} already exists; refusing to overwrite it",
            config_path.display()
        )));
    }
    config
        .validate()
        .map_err(|e| Failure::config(e.to_string()))?;
    let keys = BrokerKeys::create(&config.keys).map_err(|e| Failure::config(e.to_string()))?;
    if !config.policy.exists() {
        files::write_private(&config.policy, policy_text.as_bytes())?;
    }
    files::write_private(config_path, config.to_toml().as_bytes())?;
    Ok(keys)
}

pub fn run(args: InitArgs) -> Result<(), Failure> {
    check_service_url("--issuer", &args.issuer).map_err(|e| Failure::config(e.to_string()))?;
    let dir = std::path::absolute(&args.dir)
        .map_err(|e| Failure::config(format!("{}: {e}", args.dir.display())))?;
    files::private_dir(&dir)?;
    let public_url = args
        .public_url
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let server = ServerConfig {
        listen: args.listen,
        public_url: public_url.clone(),
        tls_certificate: None,
        tls_key: None,
        insecure_http: false,
    };
    let idp = IdpConfig::new(&args.issuer, &args.client_id);
    let config_path = dir.join("zt-broker.toml");
    let config = layout(&dir, server, idp, args.audience);
    let keys = create(&config, &config_path, STARTER_POLICY)?;
    zt_os::stdout::print(&format!(
        "Created {dir} (keys 0600, never overwritten).\n\n\
         Start the broker:   zt-broker serve --config {config}\n\
         Enrol each target:  zt-broker host token create --config {config} --principals HOST\n\
         \x20                   then on the target, as root: zt host enroll --broker {public_url} --token-file FILE\n\
         \x20                   (it writes TrustedUserCAKeys {ca_file}, with this user CA:\n\
         \x20                   {ca})\n\
         Then, on a laptop:  zt login --broker {public_url}\n",
        dir = dir.display(),
        config = config_path.display(),
        ca_file = zt_core::host_layout::user_ca_keys_path(),
        ca = openssh_public(&keys.user_ca_public()),
    ))
}
