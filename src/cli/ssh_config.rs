//! `zt ssh-config install|uninstall|check`: make plain OpenSSH (and so
//! scp, rsync, git, Ansible, IDE plugins, ControlMaster) use zt's
//! certificate for chosen hosts, without a ProxyCommand. The text is built
//! in `client/ssh_config.rs`; this file reads and writes the files.
//!
//! `~/.ssh` is `$HOME/.ssh` (what zt's other directories also derive from).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::Ctx;
use crate::client::session::{RENEW_MARGIN_SECS, Session};
use crate::client::ssh_config::{self as text, ZtBlock};
use crate::client::{identity_links, renewal};
use zt_os::exit::{Exit, Failure};
use zt_os::files;

#[derive(Debug, Args)]
pub struct SshConfigArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Write ~/.ssh/zt/PROFILE.conf for the given hosts and include it
    /// from ~/.ssh/config (one line at the top; idempotent)
    Install(InstallArgs),
    /// Remove the profile's file, and the Include line when no profile is left
    Uninstall,
    /// Exit 0 when the certificate is valid, renewing silently if needed
    /// (run by ssh's `Match exec`; no network while the certificate is valid)
    Check,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// ssh host patterns (as for `Host`, e.g. '*.prod.example.com');
    /// default: the patterns of the profile's existing file
    #[arg(long, num_args = 1.., value_name = "PATTERN")]
    pub hosts: Vec<String>,
}

pub fn run(args: SshConfigArgs, ctx: &Ctx) -> Result<(), Failure> {
    match args.action {
        Action::Install(install_args) => install(install_args, ctx),
        Action::Uninstall => uninstall(ctx),
        Action::Check => check(ctx),
    }
}

/// `Match exec`: stderr only, the exit status says whether a certificate is
/// in place. The fast path reads session.json and stats files.
fn check(ctx: &Ctx) -> Result<(), Failure> {
    let session = renewal::ensure_certificate(&ctx.paths, &ctx.profile, RENEW_MARGIN_SECS, || {
        ctx.secrets()
    })
    .map_err(|e| match Failure::from(e) {
        // Its hint says what to fix on the device; logging in again would not help.
        f if f.exit == Exit::Posture => f,
        // A refused directory: its hint says what to fix; logging in again would not help.
        f if f.exit == Exit::Config && f.hint.is_some() => f,
        f => f.hint("run `zt login`, then connect again"),
    })?;
    let in_agent = session.certificate.as_ref().is_some_and(|c| c.in_agent);
    if !identity_links::current(&ctx.paths, in_agent) {
        identity_links::update(&ctx.paths, in_agent)?;
    }
    if ctx.json {
        let now = zt_os::clock::unix_now();
        super::json::emit(&serde_json::json!({
            "profile": ctx.profile,
            "certificate": session.certificate.as_ref().map(|c| super::json::certificate(c, now)),
        }));
    }
    Ok(())
}

struct SshFiles {
    user_config: PathBuf,
    zt_dir: PathBuf,
    profile_file: PathBuf,
}

fn ssh_files(profile: &str) -> Result<SshFiles, Failure> {
    let home = etcetera::home_dir()
        .map_err(|e| Failure::config(format!("cannot find the home directory: {e}")))?;
    let ssh = home.join(".ssh");
    let zt_dir = ssh.join("zt");
    Ok(SshFiles {
        user_config: ssh.join("config"),
        profile_file: zt_dir.join(format!("{profile}.conf")),
        zt_dir,
    })
}

fn usage(e: text::SshConfigError) -> Failure {
    Failure::new(Exit::Usage, e.to_string())
}

fn install(args: InstallArgs, ctx: &Ctx) -> Result<(), Failure> {
    let ssh = ssh_files(&ctx.profile)?;
    let hosts = if args.hosts.is_empty() {
        read_owned(&ssh.profile_file)?
            .and_then(|t| text::installed_hosts(&t))
            .ok_or_else(|| {
                Failure::new(Exit::Usage, "say which hosts zt should handle")
                    .hint("zt ssh-config install --hosts '*.prod.example.com' bastion")
            })?
    } else {
        args.hosts
    };
    let zt_program = std::env::current_exe()
        .map_err(|e| Failure::unexpected(format!("cannot find the zt executable: {e}")))?;
    let paths = &ctx.paths;
    let rendered = text::render(&ZtBlock {
        profile: &ctx.profile,
        zt_program: &zt_program,
        hosts: &hosts,
        identity: &paths.ssh_identity_link(),
        certificate: &paths.ssh_certificate_link(),
        known_hosts: &paths.known_hosts_file(),
    })
    .map_err(usage)?;
    let include = text::include_line(&ssh.zt_dir).map_err(usage)?;
    // Refuse before writing anything.
    let (old, mode) = read_user_config(&ssh.user_config, &include)?;
    files::write_private(&ssh.profile_file, rendered.as_bytes())?;
    let added = match text::add_include(&old, &include) {
        Some(new) => {
            replace_keeping_mode(&ssh.user_config, new.as_bytes(), mode)?;
            true
        }
        None => false,
    };
    // A session from before this command existed has no links yet.
    if let Some(cert) = Session::load(paths)?.and_then(|s| s.certificate) {
        identity_links::update(paths, cert.in_agent)?;
    }
    if ctx.json {
        super::json::emit(&serde_json::json!({
            "event": "ssh_config_installed", "profile": ctx.profile, "hosts": hosts,
            "file": ssh.profile_file, "include_added": added,
        }));
    }
    eprintln!(
        "ssh, scp, rsync and git now use profile {}'s certificate for {} ({}{}).",
        ctx.profile,
        hosts.join(" "),
        ssh.profile_file.display(),
        if added {
            format!(", included from {}", ssh.user_config.display())
        } else {
            String::new()
        }
    );
    Ok(())
}

fn uninstall(ctx: &Ctx) -> Result<(), Failure> {
    let ssh = ssh_files(&ctx.profile)?;
    let removed_file = match read_owned(&ssh.profile_file)? {
        Some(content) if text::installed_hosts(&content).is_some() => {
            files::remove(&ssh.profile_file)?;
            true
        }
        Some(_) => {
            return Err(Failure::config(format!(
                "{} was not written by zt; not removing it",
                ssh.profile_file.display()
            )));
        }
        None => false,
    };
    let others = fs::read_dir(&ssh.zt_dir)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().ends_with(".conf"))
        })
        .unwrap_or(false);
    let mut removed_include = false;
    if !others {
        let include = text::include_line(&ssh.zt_dir).map_err(usage)?;
        let (old, mode) = read_user_config(&ssh.user_config, &include)?;
        if let Some(new) = text::remove_include(&old, &include) {
            replace_keeping_mode(&ssh.user_config, new.as_bytes(), mode)?;
            removed_include = true;
        }
        let _ = fs::remove_dir(&ssh.zt_dir);
    }
    if ctx.json {
        super::json::emit(&serde_json::json!({
            "event": "ssh_config_uninstalled", "profile": ctx.profile,
            "removed_file": removed_file, "removed_include": removed_include,
        }));
    }
    eprintln!(
        "Removed zt's ssh configuration for profile {}{}.",
        ctx.profile,
        if removed_include {
            format!(" and its Include line from {}", ssh.user_config.display())
        } else {
            String::new()
        }
    );
    Ok(())
}

/// A zt-owned file's text, `None` when absent.
fn read_owned(path: &Path) -> Result<Option<String>, Failure> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::config(format!("{}: {e}", path.display()))),
    }
}

/// The user's ssh_config text and mode ("" and 0600 when absent). A
/// symlinked config (dotfile managers) is refused: replacing it atomically
/// would turn the link into a file, and writing through it would edit a
/// file zt does not know the purpose of. The user adds the line instead.
fn read_user_config(path: &Path, include: &str) -> Result<(String, u32), Failure> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(Failure::config(format!(
            "{} is a symlink; zt does not edit linked files",
            path.display()
        ))
        .hint(format!(
            "add (or remove) this line at the top of the file it points to: {include}"
        ))),
        Ok(meta) => {
            let text = fs::read_to_string(path)
                .map_err(|e| Failure::config(format!("{}: {e}", path.display())))?;
            Ok((text, mode_of(&meta)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((String::new(), 0o600)),
        Err(e) => Err(Failure::config(format!("{}: {e}", path.display()))),
    }
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777
}

#[cfg(not(unix))]
fn mode_of(_: &fs::Metadata) -> u32 {
    0o600
}

/// Replace the user's file atomically (temporary file, fsync, rename),
/// keeping its mode, and without touching the directory's mode.
fn replace_keeping_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Failure> {
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.exists() {
        files::private_dir(dir)?;
    }
    let tmp = dir.join(format!(
        ".config.zt-{}-{}",
        std::process::id(),
        zt_core::jose::random_id()
    ));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Failure::config(format!("cannot write {}: {e}", path.display()))
    })
}
