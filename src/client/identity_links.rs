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
//! The links are relative, inside zt's 0700 directory, and replaced
//! atomically (new link, then rename). zt itself never reads through them.

use std::path::Path;

use super::paths::Paths;
use zt_os::files::{self, FileError};

/// Point the links at the current key material.
pub fn update(paths: &Paths, in_agent: bool) -> Result<(), FileError> {
    let (identity, certificate) = targets(in_agent);
    replace_link(&paths.ssh_identity_link(), identity)?;
    match certificate {
        Some(target) => replace_link(&paths.ssh_certificate_link(), target),
        None => files::remove(&paths.ssh_certificate_link()),
    }
}

/// Whether the links already say what [`update`] would write.
pub fn current(paths: &Paths, in_agent: bool) -> bool {
    let (identity, certificate) = targets(in_agent);
    let points = |link: &Path| std::fs::read_link(link).ok();
    points(&paths.ssh_identity_link()).as_deref() == Some(Path::new(identity))
        && points(&paths.ssh_certificate_link()).as_deref() == certificate.map(Path::new)
}

/// Remove both links (logout).
pub fn remove(paths: &Paths) -> Result<(), FileError> {
    files::remove(&paths.ssh_identity_link())?;
    files::remove(&paths.ssh_certificate_link())
}

fn targets(in_agent: bool) -> (&'static str, Option<&'static str>) {
    if in_agent {
        ("id_ed25519-cert.pub", None)
    } else {
        ("id_ed25519", Some("id_ed25519-cert.pub"))
    }
}

#[cfg(unix)]
fn replace_link(link: &Path, target: &str) -> Result<(), FileError> {
    let io = |source| FileError::Io {
        path: link.to_owned(),
        source,
    };
    if let Some(parent) = link.parent() {
        files::private_dir(parent)?;
    }
    let tmp = link.with_file_name(format!(
        ".{}.tmp-{}-{}",
        link.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id(),
        zt_core::jose::random_id()
    ));
    std::os::unix::fs::symlink(target, &tmp).map_err(io)?;
    std::fs::rename(&tmp, link).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

#[cfg(not(unix))]
fn replace_link(_link: &Path, _target: &str) -> Result<(), FileError> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn links_follow_the_key_location() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_file: dir.path().join("c"),
            state_dir: dir.path().join("s"),
            runtime_dir: dir.path().join("r"),
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
