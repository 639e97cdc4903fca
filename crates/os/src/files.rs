//! Private files: every file zt or zt-broker writes is 0600 in a 0700
//! directory, written atomically (temporary file, fsync, rename), and a
//! secret file that others can read, or that is a symlink, is refused.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0} is a symlink; zt does not follow links for secret files. Remove it and try again")]
    Symlink(PathBuf),
    #[error("{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{0} already exists; refusing to overwrite it")]
    Exists(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Create `dir` (and parents) with mode 0700 for the last component, and
/// tighten it to 0700 if it already exists and we own it.
pub fn private_dir(dir: &Path) -> Result<(), FileError> {
    #[cfg(unix)]
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(dir))?;
        let meta = fs::metadata(dir).map_err(io_err(dir))?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))?;
        }
    }
    #[cfg(not(unix))]
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    Ok(())
}

/// 64 random bits in hex: a temporary name nobody can guess ahead.
fn random_suffix() -> String {
    use rand_core::RngCore as _;
    format!("{:016x}", rand_core::OsRng.next_u64())
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        random_suffix()
    ))
}

/// Write `bytes` to `path` atomically with mode 0600: nothing half-written
/// is ever visible under `path`, and a crash leaves the old content.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_dir(parent)?;
    }
    let tmp = temp_path(path);
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(parent) = path.parent() {
            // Make the rename itself durable.
            if let Ok(dir) = File::open(parent) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    })();
    result.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        FileError::Io {
            path: path.to_owned(),
            source,
        }
    })
}

/// Like [`write_private`] but refuses to replace an existing file (CA keys).
pub fn create_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    if fs::symlink_metadata(path).is_ok() {
        return Err(FileError::Exists(path.to_owned()));
    }
    write_private(path, bytes)
}

/// Write a non-secret file atomically (0644): public keys, configs that
/// other programs such as sshd must read.
pub fn write_public(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_private(path, bytes)?;
    #[cfg(unix)]
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).map_err(io_err(path))?;
    Ok(())
}

/// Replace `path` atomically with a file of `mode` (e.g. 0644 for files
/// sshd reads) in a directory that must already exist and whose mode is
/// left alone (unlike [`write_public`], which makes its parent private):
/// for system files such as `/etc/ssh/…`. Readers see the old file or the
/// new one, never a half-written one.
pub fn replace_system_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(mode);
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(parent) = path.parent() {
            if let Ok(dir) = File::open(parent) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    })();
    #[cfg(not(unix))]
    let _ = mode;
    result.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        FileError::Io {
            path: path.to_owned(),
            source,
        }
    })
}

/// Read a secret file, refusing symlinks and files that group or others
/// can read or write, or that another user owns. `Ok(None)` when absent.
pub fn read_secret(path: &Path) -> Result<Option<Vec<u8>>, FileError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(FileError::Io {
                path: path.to_owned(),
                source: e,
            });
        }
    };
    if meta.file_type().is_symlink() {
        return Err(FileError::Symlink(path.to_owned()));
    }
    #[cfg(unix)]
    {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(FileError::TooOpen {
                path: path.to_owned(),
                mode,
            });
        }
    }
    fs::read(path).map(Some).map_err(io_err(path))
}

/// Remove a file if it exists.
pub fn remove(path: &Path) -> Result<(), FileError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FileError::Io {
            path: path.to_owned(),
            source: e,
        }),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn written_files_are_private_and_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/secret");
        write_private(&path, b"one").unwrap();
        write_private(&path, b"two").unwrap();
        assert_eq!(read_secret(&path).unwrap().unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }

    #[test]
    fn open_files_and_symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_private(&path, b"x").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(read_secret(&path), Err(FileError::TooOpen { .. })));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(matches!(read_secret(&link), Err(FileError::Symlink(_))));
        assert!(read_secret(&dir.path().join("absent")).unwrap().is_none());
    }

    #[test]
    fn create_private_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca");
        create_private(&path, b"first").unwrap();
        assert!(matches!(
            create_private(&path, b"second"),
            Err(FileError::Exists(_))
        ));
        assert_eq!(fs::read(&path).unwrap(), b"first");
    }
}
