//! Two symlinks in the runtime directory that let one static ssh_config
//! work whether the key is in ssh-agent or in a file (measured against
//! OpenSSH 9.2; see docs/decisions.md):
//!
//! - key in a file: `ssh-identity` → `id_ed25519`, `ssh-certificate` →
//!   `id_ed25519-cert.pub` (ssh loads the key and pairs the certificate);
//! - key in the agent: `ssh-identity` → `id_ed25519-cert.pub` and no
//!   `ssh-certificate` (ssh asks the agent to sign with that certificate
//!   entry; a `CertificateFile` would make ssh look for a private key file
//!   first and print "Load key … invalid format").
//!
//! The links are relative, inside zt's checked 0700 runtime directory, and
//! replaced atomically (new link, then rename, relative to the directory's
//! descriptor). zt itself never reads through them.

use std::path::Path;

use super::error::Error;
use super::paths::{CERTIFICATE, KEY, Paths, SSH_CERTIFICATE, SSH_IDENTITY};
use zt_os::private_dir::PrivateDir;

/// Point the links at the current key material.
pub fn update(paths: &Paths, in_agent: bool) -> Result<(), Error> {
    update_in(&paths.runtime()?, in_agent)
}

/// [`update`] in a runtime directory already open.
pub fn update_in(runtime: &PrivateDir, in_agent: bool) -> Result<(), Error> {
    let (identity, certificate) = targets(in_agent);
    runtime.replace_symlink(SSH_IDENTITY, identity)?;
    match certificate {
        Some(target) => runtime.replace_symlink(SSH_CERTIFICATE, target)?,
        None => runtime.remove(SSH_CERTIFICATE)?,
    }
    Ok(())
}

/// Whether the links already say what [`update`] would write.
pub fn current(paths: &Paths, in_agent: bool) -> bool {
    let Ok(Some(runtime)) = paths.existing_runtime() else {
        return false;
    };
    let (identity, certificate) = targets(in_agent);
    runtime.read_link(SSH_IDENTITY).as_deref() == Some(Path::new(identity))
        && runtime.read_link(SSH_CERTIFICATE).as_deref() == certificate.map(Path::new)
}

/// Remove both links (logout).
pub fn remove(paths: &Paths) -> Result<(), Error> {
    if let Some(runtime) = paths.existing_runtime()? {
        runtime.remove(SSH_IDENTITY)?;
        runtime.remove(SSH_CERTIFICATE)?;
    }
    Ok(())
}

fn targets(in_agent: bool) -> (&'static str, Option<&'static str>) {
    if in_agent {
        (CERTIFICATE, None)
    } else {
        (KEY, Some(CERTIFICATE))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn links_follow_the_key_location() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_file: dir.path().join("config/zt/config.toml"),
            state_dir: dir.path().join("state/zt/default"),
            runtime_dir: dir.path().join("run/zt/default"),
        };
        assert!(!current(&paths, false));
        update(&paths, false).unwrap();
        assert!(current(&paths, false) && !current(&paths, true));
        assert_eq!(
            std::fs::read_link(paths.ssh_certificate_link()).unwrap(),
            Path::new("id_ed25519-cert.pub")
        );
        update(&paths, true).unwrap();
        assert!(current(&paths, true));
        assert!(std::fs::symlink_metadata(paths.ssh_certificate_link()).is_err());
        remove(&paths).unwrap();
        assert!(std::fs::symlink_metadata(paths.ssh_identity_link()).is_err());
    }
}
