//! zt's directories (XDG on Linux): config `~/.config/zt/`, state
//! `~/.local/state/zt/<profile>/`, runtime `$XDG_RUNTIME_DIR/zt/<profile>/`
//! (tmpfs; without `XDG_RUNTIME_DIR`, `$TMPDIR/zt-<user>/<profile>/`).
//! Profile names become directory names, so they are restricted.
//!
//! Where trust starts (issue 12): the base directory — `$XDG_STATE_HOME`,
//! `$XDG_RUNTIME_DIR`, `$TMPDIR`, `$XDG_CONFIG_HOME` or their defaults under
//! HOME — is the user's and may be a symlink. zt's own directories below it,
//! the last two components of `state_dir` and `runtime_dir` (`zt/<profile>`,
//! `zt-<user>/<profile>`) and the `zt` above `config_file`, must be real
//! directories of the current user with mode 0700, or zt refuses to use them
//! ([`zt_os::private_dir`]). Files in them are opened through [`Paths::state`]
//! and [`Paths::runtime`] (`config.toml`: `profile.rs`), never by path.

use std::path::PathBuf;

use etcetera::BaseStrategy;
use zt_os::files::FileError;
use zt_os::private_dir::{Location, PrivateDir};

use super::error::Error;

#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
    pub state_dir: PathBuf,
    pub runtime_dir: PathBuf,
}

/// File names in the state directory.
pub const SESSION: &str = "session.json";
pub const RENEW_LOCK: &str = "renew.lock";
/// File names in the runtime directory.
pub const KEY: &str = "id_ed25519";
pub const PUBLIC_KEY: &str = "id_ed25519.pub";
pub const CERTIFICATE: &str = "id_ed25519-cert.pub";
pub const KNOWN_HOSTS: &str = "known_hosts";
pub const SSH_IDENTITY: &str = "ssh-identity";
pub const SSH_CERTIFICATE: &str = "ssh-certificate";

/// How many trailing components of `state_dir` and `runtime_dir` are zt's own.
const OWN: usize = 2;

/// A profile name: 1–64 of `[A-Za-z0-9_-]`, so it can never escape a directory.
pub fn check_profile(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidProfile(name.to_owned()))
    }
}

impl Paths {
    pub fn for_profile(profile: &str) -> Result<Self, Error> {
        check_profile(profile)?;
        let base = etcetera::choose_base_strategy()
            .map_err(|e| Error::config(format!("cannot find the home directory: {e}")))?;
        let state_root = base
            .state_dir()
            .unwrap_or_else(|| base.data_dir())
            .join("zt");
        let runtime_root = match base.runtime_dir() {
            Some(dir) => dir.join("zt"),
            None => std::env::temp_dir().join(fallback_runtime_name()),
        };
        Ok(Paths {
            config_file: base.config_dir().join("zt").join("config.toml"),
            state_dir: state_root.join(profile),
            runtime_dir: runtime_root.join(profile),
        })
    }

    /// The profile's state directory, checked, created 0700 when missing.
    pub fn state(&self) -> Result<PrivateDir, Error> {
        Ok(Location::split(&self.state_dir, OWN)?.create()?)
    }

    /// The profile's state directory, checked; `None` while it does not exist.
    pub fn existing_state(&self) -> Result<Option<PrivateDir>, Error> {
        Ok(Location::split(&self.state_dir, OWN)?.open()?)
    }

    /// The profile's runtime directory (SSH key, certificate, known_hosts), checked, created
    /// 0700 when missing.
    pub fn runtime(&self) -> Result<PrivateDir, Error> {
        Location::split(&self.runtime_dir, OWN)?
            .create()
            .map_err(runtime_refused)
    }

    /// The profile's runtime directory, checked; `None` while it does not exist.
    pub fn existing_runtime(&self) -> Result<Option<PrivateDir>, Error> {
        Location::split(&self.runtime_dir, OWN)?
            .open()
            .map_err(runtime_refused)
    }

    /// Create and check the state and runtime directories: a command that will write there
    /// (`zt login`) calls this first, so a refusal comes before any prompt or network call.
    pub fn prepare(&self) -> Result<(), Error> {
        self.state()?;
        self.runtime()?;
        Ok(())
    }

    pub fn session_file(&self) -> PathBuf {
        self.state_dir.join(SESSION)
    }
    pub fn key_file(&self) -> PathBuf {
        self.runtime_dir.join(KEY)
    }
    pub fn public_key_file(&self) -> PathBuf {
        self.runtime_dir.join(PUBLIC_KEY)
    }
    pub fn certificate_file(&self) -> PathBuf {
        self.runtime_dir.join(CERTIFICATE)
    }
    pub fn known_hosts_file(&self) -> PathBuf {
        self.runtime_dir.join(KNOWN_HOSTS)
    }
    /// What ssh_config's `IdentityFile` names: a link to the private key
    /// file, or to the certificate when the key is in the agent.
    pub fn ssh_identity_link(&self) -> PathBuf {
        self.runtime_dir.join(SSH_IDENTITY)
    }
    /// What ssh_config's `CertificateFile` names: a link to the certificate
    /// when the key is a file; absent with the agent (see identity_links).
    pub fn ssh_certificate_link(&self) -> PathBuf {
        self.runtime_dir.join(SSH_CERTIFICATE)
    }
    /// Held while renewing, so parallel `ssh` runs renew once.
    pub fn renew_lock_file(&self) -> PathBuf {
        self.state_dir.join(RENEW_LOCK)
    }
}

/// `zt-<user>`: the runtime directory's name under the temp directory when
/// `XDG_RUNTIME_DIR` is unset. Without `USER`, the uid keeps users apart.
fn fallback_runtime_name() -> String {
    match std::env::var("USER") {
        Ok(user) if !user.is_empty() => format!("zt-{}", user.replace(['/', '.'], "_")),
        _ => format!("zt-uid{}", current_uid()),
    }
}

#[cfg(unix)]
fn current_uid() -> u32 {
    zt_os::files::current_uid()
}

#[cfg(not(unix))]
fn current_uid() -> u32 {
    0
}

/// A refused runtime directory. Under the shared temp directory (no `XDG_RUNTIME_DIR`), the
/// way out is a runtime directory of the user's own, never another name there: ssh_config
/// names the runtime directory's files, so it must stay where it is.
fn runtime_refused(e: FileError) -> Error {
    let fallback = std::env::var_os("XDG_RUNTIME_DIR")
        .is_none_or(|dir| !std::path::Path::new(&dir).is_absolute());
    match &e {
        FileError::UnsafeDir { path, .. } if fallback => Error::config_with_hint(
            format!("{e}; refusing to keep SSH keys in it"),
            format!(
                "XDG_RUNTIME_DIR is not set, so zt used {} under the shared temp directory, and someone else could reach it. Set XDG_RUNTIME_DIR to a directory only you can use (e.g. `export XDG_RUNTIME_DIR=/run/user/$(id -u)`, or `mkdir -m 700 ~/.zt-run` and point it there); if {} is yours, remove it and run zt again",
                path.display(),
                path.display()
            ),
        ),
        _ => Error::File(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_cannot_escape() {
        for bad in ["", "..", "a/b", "../x", "a b", "x\n", &"a".repeat(65)] {
            assert!(check_profile(bad).is_err(), "{bad:?}");
        }
        for good in ["default", "prod-eu_1"] {
            assert!(check_profile(good).is_ok());
        }
    }
}
