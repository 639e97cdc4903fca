//! `zt forward [user@]host -L … -R … -D …`: keep port forwards up without a
//! shell. A supervisor runs `ssh -N -o ExitOnForwardFailure=yes` with zt's
//! identity, restarts it with backoff when it exits, renews the certificate
//! and reconnects before it expires, and on SIGINT/SIGTERM stops ssh and
//! exits 0. Human progress on stderr; `--json` events on stdout.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::process::Command;
use tokio::signal::unix::{SignalKind, signal};

use super::Ctx;
use crate::client::ci::CiDir;
use crate::client::paths::Paths;
use crate::client::session::{CertificateInfo, RENEW_MARGIN_SECS, Session};
use crate::client::ssh_args::{self, Forwarding, Identity, SshInvocation};
use crate::client::{permissions, renewal};
use zt_os::clock::unix_now;
use zt_os::exit::{Exit, Failure};

/// Backoff between reconnects: doubles from 1 s up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection that lived this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// [user@]host to connect to
    #[arg(value_name = "DESTINATION")]
    pub destination: String,
    /// Local forward, as ssh -L
    #[arg(short = 'L', value_name = "[BIND:]PORT:HOST:HOSTPORT")]
    pub local: Vec<String>,
    /// Remote forward, as ssh -R
    #[arg(short = 'R', value_name = "[BIND:]PORT:HOST:HOSTPORT")]
    pub remote: Vec<String>,
    /// SOCKS proxy on a local port, as ssh -D
    #[arg(short = 'D', value_name = "[BIND:]PORT")]
    pub dynamic: Vec<String>,
    /// Port to connect to on the remote host
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Extra ssh option (as ssh -o), after zt's own
    #[arg(short = 'o', value_name = "OPTION")]
    pub options: Vec<String>,
    /// ssh_config file for ssh (as ssh -F)
    #[arg(short = 'F', value_name = "FILE")]
    pub config_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub ci: super::ci::CiArgs,
}

pub fn run(args: ForwardArgs, ctx: &Ctx) -> Result<u8, Failure> {
    let invocation = invocation(&args)?;
    super::ssh::warn_local_programs(&invocation.options);
    let mut credentials = if args.ci.active(ctx) {
        Credentials::Ci {
            args: &args.ci,
            current: None,
        }
    } else {
        Credentials::Profile
    };
    super::runtime()?.block_on(supervise(&invocation, ctx, &mut credentials))
}

/// Where the certificates come from: the profile's session, renewed silently; or a CI job's
/// workload identity, logged in again for each certificate, with the key in a private
/// directory that goes when the next certificate comes or zt exits.
enum Credentials<'a> {
    Profile,
    Ci {
        args: &'a super::ci::CiArgs,
        current: Option<Box<(CertificateInfo, CiDir)>>,
    },
}

impl Credentials<'_> {
    /// A certificate with more than the margin plus `extra` seconds left, and the paths of
    /// its key, certificate and known_hosts.
    async fn certificate(
        &mut self,
        ctx: &Ctx,
        extra: u64,
    ) -> Result<(CertificateInfo, Paths), Failure> {
        let (args, current) = match self {
            Credentials::Profile => return Ok((certificate(ctx, extra).await?, ctx.paths.clone())),
            Credentials::Ci { args, current } => (args, current),
        };
        if let Some(held) = current {
            let (cert, dir) = &**held;
            if cert.valid_before > unix_now() + renew_margin(Some(cert)) + extra {
                return Ok((cert.clone(), dir.paths(&ctx.paths)));
            }
        }
        let login = args.login(ctx, None, true).await?;
        let dir = CiDir::create()?;
        let cert = login.certificate(&dir).await?;
        let paths = dir.paths(&ctx.paths);
        // The running ssh read its key at start; the old directory can go.
        *current = Some(Box::new((cert.clone(), dir)));
        Ok((cert, paths))
    }
}

/// The ssh command line (without zt's identity options). Pure.
fn invocation(args: &ForwardArgs) -> Result<SshInvocation, Failure> {
    let usage = |m: String| Failure::new(Exit::Usage, m);
    let mut options: Vec<OsString> = ["-N", "-T"].map(OsString::from).to_vec();
    let mut any = false;
    for (flag, specs) in [
        ("-L", &args.local),
        ("-R", &args.remote),
        ("-D", &args.dynamic),
    ] {
        for spec in specs {
            if spec.is_empty()
                || spec.starts_with('-')
                || spec.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(usage(format!("bad forward {flag} {spec:?}")));
            }
            options.extend([flag.into(), spec.into()]);
            any = true;
        }
    }
    if !any {
        return Err(usage("nothing to forward: give -L, -R or -D".into())
            .hint("zt forward db-host -L 5432:localhost:5432"));
    }
    for option in [
        "ExitOnForwardFailure=yes",
        "ServerAliveInterval=15",
        "ServerAliveCountMax=3",
        "BatchMode=yes",
    ] {
        options.extend(["-o".into(), option.into()]);
    }
    if let Some(file) = &args.config_file {
        options.extend(["-F".into(), file.into()]);
    }
    if let Some(port) = args.port {
        options.extend(["-p".into(), port.to_string().into()]);
    }
    for option in &args.options {
        if option.chars().any(char::is_control) {
            return Err(usage(format!("bad ssh option {option:?}")));
        }
        options.extend(["-o".into(), option.into()]);
    }
    let parsed = ssh_args::parse(&[OsString::from("--"), args.destination.clone().into()])
        .map_err(|e| usage(e.to_string()))?;
    Ok(SshInvocation {
        options,
        destination: parsed.destination,
        command: Vec::new(),
    })
}

/// Renew when less than this is left: two minutes, or a third of the
/// certificate's life when that is shorter (a 90 s certificate would
/// otherwise be renewed in a loop). The broker backdates `valid_after` by
/// a minute for clock skew, which is not life. Pure.
fn renew_margin(cert: Option<&CertificateInfo>) -> u64 {
    cert.map(|c| {
        c.valid_before
            .saturating_sub(c.valid_after + CLOCK_SKEW_SECS)
            / 3
    })
    .unwrap_or(RENEW_MARGIN_SECS)
    .clamp(1, RENEW_MARGIN_SECS)
}

/// How far the broker backdates `valid_after`.
const CLOCK_SKEW_SECS: u64 = 60;

/// Never reconnect for expiry more often than this, whatever the
/// certificate says (a broker handing out nearly expired certificates
/// must not turn the loop into a renewal storm).
const MIN_RECONNECT: Duration = Duration::from_secs(10);

/// A valid certificate, renewed if less than the margin plus `extra`
/// seconds is left (blocking work off the loop).
async fn certificate(ctx: &Ctx, extra: u64) -> Result<CertificateInfo, Failure> {
    let paths: Paths = ctx.paths.clone();
    let profile = ctx.profile.clone();
    let session = tokio::task::spawn_blocking(move || {
        let previous = Session::load(&paths)
            .ok()
            .flatten()
            .and_then(|s| s.certificate);
        let margin = renew_margin(previous.as_ref()) + extra;
        let state_dir = paths.state_dir.clone();
        let name = profile.clone();
        renewal::ensure_certificate(&paths, &profile, margin, move || {
            crate::client::credentials::Secrets::open(&state_dir, &name)
        })
    })
    .await
    .map_err(|e| Failure::unexpected(format!("renewal task failed: {e}")))??;
    session
        .certificate
        .ok_or_else(|| Failure::unexpected("no certificate after renewal"))
}

enum Outcome {
    Exited(std::process::ExitStatus),
    Expiring,
    Stop,
}

async fn supervise(
    invocation: &SshInvocation,
    ctx: &Ctx,
    credentials: &mut Credentials<'_>,
) -> Result<u8, Failure> {
    let signal_err = |e: std::io::Error| Failure::unexpected(format!("cannot watch signals: {e}"));
    let mut interrupt = signal(SignalKind::interrupt()).map_err(signal_err)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(signal_err)?;
    let program = std::env::var_os("ZT_SSH_PROGRAM").unwrap_or_else(|| "ssh".into());
    let event = |value: serde_json::Value| {
        if ctx.json {
            super::json::emit(&value);
        }
    };
    let mut backoff = Duration::from_secs(1);
    loop {
        let (cert, paths) = match credentials.certificate(ctx, 0).await {
            Ok(found) => found,
            Err(f) if f.exit == Exit::Unreachable => {
                eprintln!("zt forward: {f}; retrying in {}s", backoff.as_secs());
                event(
                    serde_json::json!({"event": "renewal_failed", "error": f.message, "retry_in_secs": backoff.as_secs()}),
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = interrupt.recv() => return Ok(stopped(&event)),
                    _ = terminate.recv() => return Ok(stopped(&event)),
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            Err(f) => return Err(f),
        };
        permissions::require(
            &paths,
            &cert.rule,
            Forwarding {
                agent: false,
                ports: true,
            },
        )?;
        // zt's identity options, as `zt ssh` passes them.
        let argv = ssh_args::build(invocation, &Identity::of(&paths, cert.in_agent));
        let mut child = Command::new(&program)
            .args(&argv)
            .stdin(std::process::Stdio::null())
            // Same process group as zt: Ctrl-C and a group kill reach ssh
            // too, so ssh never outlives a zt that was killed outright.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                Failure::config(format!("cannot run {}: {e}", program.to_string_lossy()))
                    .hint("install OpenSSH's client (ssh)")
            })?;
        let margin = renew_margin(Some(&cert));
        let renew_in = cert.valid_before.saturating_sub(margin + unix_now());
        let mut started_event = serde_json::json!({
            "event": "ssh_started", "pid": child.id(), "destination": invocation.destination,
            "serial": cert.serial.to_string(), "reconnect_in_secs": renew_in,
        });
        super::json::insert_time(&mut started_event, "valid_before", cert.valid_before);
        event(started_event);
        eprintln!(
            "zt forward: connecting to {} (certificate serial {}; reconnecting with a new one in {}s)",
            invocation.destination, cert.serial, renew_in
        );
        let started = Instant::now();
        let outcome = tokio::select! {
            status = child.wait() => match status {
                Ok(status) => Outcome::Exited(status),
                Err(e) => return Err(Failure::unexpected(format!("waiting for ssh: {e}"))),
            },
            _ = tokio::time::sleep(Duration::from_secs(renew_in).max(MIN_RECONNECT)) => Outcome::Expiring,
            _ = interrupt.recv() => Outcome::Stop,
            _ = terminate.recv() => Outcome::Stop,
        };
        match outcome {
            Outcome::Stop => {
                let _ = child.kill().await;
                return Ok(stopped(&event));
            }
            Outcome::Expiring => {
                // Renew first, so the gap without a tunnel is one ssh start.
                event(
                    serde_json::json!({"event": "certificate_expiring", "serial": cert.serial.to_string()}),
                );
                // The timer fired with about `margin` left; renew for sure.
                let renewed = credentials.certificate(ctx, MIN_RECONNECT.as_secs()).await;
                let _ = child.kill().await;
                match renewed {
                    Err(f) if f.exit != Exit::Unreachable => return Err(f),
                    _ => {}
                }
                backoff = Duration::from_secs(1);
            }
            Outcome::Exited(status) => {
                if started.elapsed() >= STABLE_AFTER {
                    backoff = Duration::from_secs(1);
                }
                eprintln!(
                    "zt forward: ssh exited ({status}); reconnecting in {}s",
                    backoff.as_secs()
                );
                event(serde_json::json!({
                    "event": "ssh_exited", "status": status.code(), "retry_in_secs": backoff.as_secs(),
                }));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = interrupt.recv() => return Ok(stopped(&event)),
                    _ = terminate.recv() => return Ok(stopped(&event)),
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn stopped(event: &impl Fn(serde_json::Value)) -> u8 {
    event(serde_json::json!({"event": "stopped"}));
    eprintln!("zt forward: stopped");
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(local: &[&str], dynamic: &[&str]) -> ForwardArgs {
        ForwardArgs {
            destination: "ops@db".into(),
            local: local.iter().map(|s| s.to_string()).collect(),
            remote: vec![],
            dynamic: dynamic.iter().map(|s| s.to_string()).collect(),
            port: Some(2222),
            options: vec!["ConnectTimeout=5".into()],
            config_file: None,
            ci: crate::cli::ci::CiArgs {
                ci: false,
                ci_source: None,
                id_token_env: None,
                id_token_file: None,
            },
        }
    }

    #[test]
    fn forwards_become_ssh_options_without_a_shell() {
        let inv = invocation(&args(&["5432:localhost:5432"], &["1080"])).unwrap();
        let text: Vec<String> = inv
            .options
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(&text[..2], ["-N", "-T"]);
        assert!(text.windows(2).any(|w| w == ["-L", "5432:localhost:5432"]));
        assert!(text.windows(2).any(|w| w == ["-D", "1080"]));
        assert!(
            text.windows(2)
                .any(|w| w == ["-o", "ExitOnForwardFailure=yes"])
        );
        assert!(text.windows(2).any(|w| w == ["-p", "2222"]));
        assert_eq!(inv.destination, "ops@db");
        assert!(inv.command.is_empty());
        assert!(ssh_args::requested_forwarding(&inv.options).ports);
    }

    #[test]
    fn nothing_to_forward_or_hostile_input_is_a_usage_error() {
        assert_eq!(invocation(&args(&[], &[])).unwrap_err().exit, Exit::Usage);
        for bad in ["-oProxyCommand=sh", "1 2", "80:x\n"] {
            assert_eq!(
                invocation(&args(&[bad], &[])).unwrap_err().exit,
                Exit::Usage
            );
        }
        let mut hostile = args(&["80:x:80"], &[]);
        hostile.destination = "-oProxyCommand=sh".into();
        assert_eq!(invocation(&hostile).unwrap_err().exit, Exit::Usage);
    }

    #[test]
    fn short_certificates_renew_at_a_third_of_their_life() {
        let cert = |after, before| CertificateInfo {
            serial: 1,
            key_id: String::new(),
            principals: vec![],
            valid_after: after,
            valid_before: before,
            rule: String::new(),
            in_agent: false,
            posture: None,
        };
        assert_eq!(renew_margin(Some(&cert(0, 3600))), RENEW_MARGIN_SECS);
        // A 90 s certificate, backdated by a minute: renew with 30 s left.
        assert_eq!(renew_margin(Some(&cert(1000, 1150))), 30);
        assert_eq!(renew_margin(Some(&cert(1000, 1000))), 1);
        assert_eq!(renew_margin(None), RENEW_MARGIN_SECS);
    }
}
