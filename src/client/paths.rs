//! zt's directories (XDG on Linux): config `~/.config/zt/`, state
//! `~/.local/state/zt/<profile>/`, runtime `$XDG_RUNTIME_DIR/zt/<profile>/`
//! (tmpfs; falls back to a private directory under the system temp dir).
//! Profile names become directory names, so they are restricted.

use std::path::PathBuf;

use etcetera::BaseStrategy;

use super::error::Error;

#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
    pub state_dir: PathBuf,
    pub runtime_dir: PathBuf,
}

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
            None => {
                let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
                std::env::temp_dir().join(format!("zt-{}", user.replace(['/', '.'], "_")))
            }
        };
        Ok(Paths {
            config_file: base.config_dir().join("zt").join("config.toml"),
            state_dir: state_root.join(profile),
            runtime_dir: runtime_root.join(profile),
        })
    }

    pub fn session_file(&self) -> PathBuf {
        self.state_dir.join("session.json")
    }
    pub fn key_file(&self) -> PathBuf {
        self.runtime_dir.join("id_ed25519")
    }
    pub fn public_key_file(&self) -> PathBuf {
        self.runtime_dir.join("id_ed25519.pub")
    }
    pub fn certificate_file(&self) -> PathBuf {
        self.runtime_dir.join("id_ed25519-cert.pub")
    }
    pub fn known_hosts_file(&self) -> PathBuf {
        self.runtime_dir.join("known_hosts")
    }
    /// What ssh_config's `IdentityFile` names: a link to the private key
    /// file, or to the certificate when the key is in the agent.
    pub fn ssh_identity_link(&self) -> PathBuf {
        self.runtime_dir.join("ssh-identity")
    }
    /// What ssh_config's `CertificateFile` names: a link to the certificate
    /// when the key is a file; absent with the agent (see identity_links).
    pub fn ssh_certificate_link(&self) -> PathBuf {
        self.runtime_dir.join("ssh-certificate")
    }
    /// Held while renewing, so parallel `ssh` runs renew once.
    pub fn renew_lock_file(&self) -> PathBuf {
        self.state_dir.join("renew.lock")
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
