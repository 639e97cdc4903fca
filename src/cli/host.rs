//! `zt host`: run on a target (as root). `enroll` trades a one-time
//! enrolment token for a host certificate and writes the sshd settings;
//! `renew` renews the host certificate before it expires; `krl-sync`
//! refreshes sshd's `RevokedKeys` from the broker's KRL. Timers for the
//! last two are in `dist/systemd/`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use ssh_key::{Certificate, PrivateKey};

use super::failure::host_failure;
use crate::client::error::Error;
use crate::host::{self as target, HostAuth, HostPaths, HostState};
use zt_core::text::Printable;
use zt_os::exit::{Exit, Failure};
use zt_os::files;

#[derive(Debug, Args)]
pub struct HostArgs {
    #[command(subcommand)]
    pub command: HostCommand,
}

#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Enrol this host: host certificate, user CA, KRL and an sshd drop-in
    Enroll(EnrollArgs),
    /// Renew the host certificate when a third of its life is left
    Renew(RenewArgs),
    /// Replace sshd's RevokedKeys with the broker's current KRL
    KrlSync(SyncArgs),
}

/// Where zt keeps its files on the target.
#[derive(Debug, Clone, Args)]
pub struct DirArgs {
    /// zt's directory on this host (user CA, KRL, principals, state)
    #[arg(long, default_value = zt_core::host_layout::DIR)]
    pub zt_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// Broker URL
    #[arg(long, env = "ZT_BROKER")]
    pub broker: String,
    /// Enrolment token (`zt-broker host token create`). Prefer --token-file
    /// or ZT_HOST_TOKEN: a command-line argument is visible to other users
    #[arg(long, env = "ZT_HOST_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read the enrolment token from this file (`-` for stdin)
    #[arg(long, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// Narrow the principals the token grants
    #[arg(long, value_delimiter = ',')]
    pub principals: Option<Vec<String>>,
    /// The host's private key; its certificate goes next to it (-cert.pub)
    #[arg(long, default_value = zt_core::host_layout::HOST_KEY)]
    pub host_key: PathBuf,
    #[command(flatten)]
    pub dir: DirArgs,
    /// Directory of sshd drop-in files; zt writes 50-zt.conf there
    #[arg(long, default_value = zt_core::host_layout::SSHD_CONFIG_DIR)]
    pub sshd_config_dir: PathBuf,
    /// Print the sshd settings and the files enrolment would write; write
    /// nothing and use no token
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Renew even if the certificate has more than a third of its life left
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub dir: DirArgs,
}

const DROP_IN_NAME: &str = zt_core::host_layout::DROP_IN;

pub fn run(args: HostArgs, json: bool) -> Result<(), Failure> {
    let out = Output { json };
    match args.command {
        HostCommand::Enroll(args) => enroll(args, out),
        HostCommand::Renew(args) => renew(args, out),
        HostCommand::KrlSync(args) => krl_sync(&args.dir, out),
    }
}

/// What a host command prints on stdout: the one path a script needs, or with `--json` one
/// document with the facts.
#[derive(Clone, Copy)]
struct Output {
    json: bool,
}

impl Output {
    fn done(self, path: Option<&Path>, facts: serde_json::Value) -> Result<(), Failure> {
        if self.json {
            super::json::emit(&facts);
        } else if let Some(path) = path {
            zt_os::stdout::println(&path.display().to_string())?;
        }
        Ok(())
    }
}

/// A host certificate in `--json` output.
fn certificate_facts(
    path: &Path,
    serial: u64,
    principals: &[String],
    valid_before: u64,
) -> serde_json::Value {
    let mut facts = serde_json::json!({
        "path": path,
        "serial": serial.to_string(),
        "principals": principals,
    });
    super::json::insert_time(&mut facts, "valid_before", valid_before);
    facts
}

/// A file zt cannot use. Parsers quote what they read, and the certificate and state files
/// hold what the broker sent: escaped.
fn io_failure(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::config(format!("{}: {}", path.display(), Printable(&e.to_string())))
}

fn load_host_key(path: &Path) -> Result<PrivateKey, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| io_failure(path, e))?;
    let key = PrivateKey::from_openssh(text).map_err(|e| io_failure(path, e))?;
    if key.is_encrypted() {
        return Err(io_failure(path, "the host key is encrypted"));
    }
    Ok(key)
}

fn read_token(args: &EnrollArgs) -> Result<String, Failure> {
    let text = match (&args.token, &args.token_file) {
        (Some(token), None) => token.clone(),
        (None, Some(path)) if path == Path::new("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Failure::config(format!("reading the token from stdin: {e}")))?;
            text
        }
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| io_failure(path, e))?,
        _ => {
            return Err(Failure::new(
                Exit::Usage,
                "no enrolment token: pass --token-file FILE (or -), or set ZT_HOST_TOKEN",
            )
            .hint(
                "create one on the broker with `zt-broker host token create --principals HOST`",
            ));
        }
    };
    let token = text.trim().to_owned();
    if token.is_empty() || token.chars().any(|c| !c.is_ascii_graphic()) {
        return Err(Failure::new(
            Exit::Usage,
            "the enrolment token is empty or malformed",
        ));
    }
    Ok(token)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    files::replace_system_file(path, bytes, 0o644).map_err(|e| Failure::config(e.to_string()))
}

fn make_dir(path: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .map_err(|e| io_failure(path, e))
}

fn enroll(args: EnrollArgs, out: Output) -> Result<(), Failure> {
    crate::client::http::check_url("broker URL", &args.broker)?;
    let broker = args.broker.trim_end_matches('/').to_owned();
    let paths = HostPaths {
        dir: args.dir.zt_dir.clone(),
    };
    let drop_in_path = args.sshd_config_dir.join(DROP_IN_NAME);
    let drop_in = target::sshd_drop_in(&paths, &args.host_key);
    if args.dry_run {
        let would_write = [
            target::certificate_path(&args.host_key),
            paths.user_ca_keys(),
            paths.revoked_keys(),
            paths.principals_dir(),
            paths.state(),
            drop_in_path.clone(),
        ];
        if out.json {
            super::json::emit(&serde_json::json!({
                "dry_run": true,
                "drop_in": { "path": drop_in_path, "text": drop_in },
                "would_write": would_write,
            }));
            return Ok(());
        }
        zt_os::stdout::print(&format!("# {}\n{drop_in}", drop_in_path.display()))?;
        eprintln!("Dry run: nothing written and no token used. `zt host enroll` would write:");
        for path in would_write {
            eprintln!("  {}", path.display());
        }
        return Ok(());
    }
    let token = read_token(&args)?;
    let host_key = load_host_key(&args.host_key)?;
    let http = crate::client::http::client()?;
    let runtime = super::runtime()?;
    let answer = runtime
        .block_on(target::request_certificate(
            &http,
            &broker,
            &host_key,
            HostAuth::Token(&token),
            args.principals.clone(),
        ))
        .map_err(host_failure)?;
    make_dir(&paths.dir)?;
    make_dir(&paths.principals_dir())?;
    let cert_path = target::certificate_path(&args.host_key);
    write(
        &cert_path,
        format!("{}\n", answer.certificate.trim()).as_bytes(),
    )?;
    write(
        &paths.user_ca_keys(),
        (answer.user_ca_keys.join("\n") + "\n").as_bytes(),
    )?;
    let state = HostState {
        broker: broker.clone(),
        host_key: args.host_key.clone(),
    };
    let state_text = serde_json::to_string_pretty(&state).expect("state serialises") + "\n";
    write(&paths.state(), state_text.as_bytes())?;
    // sshd refuses every key while RevokedKeys names a missing file, so the
    // KRL is in place before the drop-in points sshd at it.
    let krl = sync(&runtime, &http, &broker, &paths)?;
    make_dir(&args.sshd_config_dir)?;
    write(&drop_in_path, drop_in.as_bytes())?;
    out.done(
        Some(&cert_path),
        serde_json::json!({
            "enrolled": true,
            "certificate": certificate_facts(&cert_path, answer.serial, &answer.principals, answer.valid_before),
            "drop_in": drop_in_path,
            "krl": krl,
        }),
    )?;
    eprintln!(
        "Enrolled: host certificate serial {} for {} (valid until {}).\n\
         Wrote {} and the files it names. List the principals each login accepts in {}/<login>,\n\
         then reload sshd (systemctl reload ssh) and enable zt-host-renew.timer and zt-krl-sync.timer.",
        answer.serial,
        Printable(&answer.principals.join(",")),
        zt_core::time::rfc3339(answer.valid_before),
        drop_in_path.display(),
        paths.principals_dir().display(),
    );
    Ok(())
}

fn load_state(paths: &HostPaths) -> Result<HostState, Failure> {
    let path = paths.state();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| io_failure(&path, e).hint("enrol this host first: `zt host enroll`"))?;
    serde_json::from_str(&text).map_err(|e| io_failure(&path, e))
}

fn renew(args: RenewArgs, out: Output) -> Result<(), Failure> {
    let paths = HostPaths {
        dir: args.dir.zt_dir,
    };
    let state = load_state(&paths)?;
    let cert_path = target::certificate_path(&state.host_key);
    let text = std::fs::read_to_string(&cert_path).map_err(|e| io_failure(&cert_path, e))?;
    let current = Certificate::from_openssh(text.trim()).map_err(|e| io_failure(&cert_path, e))?;
    let now = zt_os::clock::unix_now();
    if !args.force && !target::renewal_due(current.valid_after(), current.valid_before(), now) {
        eprintln!(
            "The host certificate is valid until {}; not renewing yet (--force to renew now).",
            zt_core::time::rfc3339(current.valid_before())
        );
        let mut facts = serde_json::json!({ "renewed": false, "path": cert_path });
        super::json::insert_time(&mut facts, "valid_before", current.valid_before());
        return out.done(None, facts);
    }
    let host_key = load_host_key(&state.host_key)?;
    let http = crate::client::http::client()?;
    let answer = super::runtime()?
        .block_on(target::request_certificate(
            &http,
            &state.broker,
            &host_key,
            HostAuth::Certificate(text.trim()),
            None,
        ))
        .map_err(host_failure)?;
    write(
        &cert_path,
        format!("{}\n", answer.certificate.trim()).as_bytes(),
    )?;
    out.done(
        Some(&cert_path),
        serde_json::json!({
            "renewed": true,
            "certificate": certificate_facts(&cert_path, answer.serial, &answer.principals, answer.valid_before),
        }),
    )?;
    eprintln!(
        "Renewed: serial {} valid until {}. Reload sshd to serve it (the zt-host-renew service does).",
        answer.serial,
        zt_core::time::rfc3339(answer.valid_before)
    );
    Ok(())
}

fn krl_sync(dir: &DirArgs, out: Output) -> Result<(), Failure> {
    let paths = HostPaths {
        dir: dir.zt_dir.clone(),
    };
    let state = load_state(&paths)?;
    let http = crate::client::http::client()?;
    let krl = sync(&super::runtime()?, &http, &state.broker, &paths)?;
    out.done(None, krl)
}

/// Fetch the KRL unless unchanged since the last sync, and replace
/// `RevokedKeys` atomically (sshd re-reads it at every authentication). Returns what
/// happened, for `--json`.
fn sync(
    runtime: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    broker: &str,
    paths: &HostPaths,
) -> Result<serde_json::Value, Failure> {
    let krl_path = paths.revoked_keys();
    let etag = if krl_path.is_file() {
        std::fs::read_to_string(paths.revoked_keys_etag()).ok()
    } else {
        None
    };
    let fetched = runtime
        .block_on(target::fetch_krl(
            http,
            broker,
            etag.as_deref().map(str::trim),
        ))
        .map_err(|e| match e {
            // Any error answer for the KRL leaves RevokedKeys as it was; the timer tries again.
            Error::Broker(refusal) => Failure::new(
                Exit::Unreachable,
                format!("the broker answered {} for the KRL", refusal.describe()),
            ),
            other => other.into(),
        })?;
    let Some((bytes, etag)) = fetched else {
        eprintln!("KRL unchanged.");
        return Ok(serde_json::json!({ "krl": "unchanged", "path": krl_path }));
    };
    write(&krl_path, &bytes)?;
    match etag {
        Some(etag) => write(&paths.revoked_keys_etag(), etag.as_bytes())?,
        None => {
            let _ = std::fs::remove_file(paths.revoked_keys_etag());
        }
    }
    eprintln!(
        "KRL updated: {} ({} bytes).",
        krl_path.display(),
        bytes.len()
    );
    Ok(serde_json::json!({ "krl": "updated", "path": krl_path, "bytes": bytes.len() }))
}
