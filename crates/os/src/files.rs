//! Private files: every file zt or zt-broker writes is 0600 in a 0700
//! directory, written atomically (temporary file, fsync, rename inside the
//! directory's descriptor), and a secret file that is a symlink, that
//! others can read or write, or that another user owns, is refused.
//!
//! These functions take plain paths, for files whose directory is the
//! caller's choice (the broker's key directory, `~/.ssh/zt`). zt's own
//! state and runtime directories go through [`crate::private_dir`], which
//! also checks every directory zt owns between the user's base directory
//! and the file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

use crate::private_dir::sys::Dir;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0} is a symlink; zt does not follow links for secret files. Remove it and try again")]
    Symlink(PathBuf),
    #[error("{path} is open to other users (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
    /// A secret file that another user owns: they could have written it, or can read it.
    #[error("{path} belongs to uid {owner}, not to you (uid {me}); zt does not use it")]
    NotYours { path: PathBuf, owner: u32, me: u32 },
    /// A secret that is not a regular file (a directory, a FIFO, a device).
    #[error("{0} is not a regular file; zt does not use it")]
    NotAFile(PathBuf),
    #[error("{0} already exists; refusing to overwrite it")]
    Exists(PathBuf),
    /// One of the directories a private file lives in cannot be trusted with it.
    #[error("{path} {problem}; zt keeps its files only in directories it created itself")]
    UnsafeDir { path: PathBuf, problem: DirProblem },
}

/// Why a directory on the way to a private file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirProblem {
    /// zt's own directory is a symlink (it may point anywhere, e.g. into another user's).
    Symlink,
    /// Something other than a directory is in the way.
    NotADirectory,
    /// zt's own directory belongs to another user.
    Owner { owner: u32, me: u32 },
    /// zt's own directory is open to the group or to others.
    Mode(u32),
    /// The base directory (e.g. `$XDG_RUNTIME_DIR`) belongs to neither you nor root.
    BaseOwner { owner: u32, me: u32 },
    /// The base directory is writable by every user and not sticky, so anyone could
    /// replace zt's directory in it.
    BaseWorldWritable(u32),
}

impl std::fmt::Display for DirProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirProblem::Symlink => f.write_str("is a symlink"),
            DirProblem::NotADirectory => f.write_str("is not a directory"),
            DirProblem::Owner { owner, me } | DirProblem::BaseOwner { owner, me } => {
                write!(f, "belongs to uid {owner}, not to you (uid {me})")
            }
            DirProblem::Mode(mode) => {
                write!(f, "is open to other users (mode {mode:o}, must be 700)")
            }
            DirProblem::BaseWorldWritable(mode) => write!(
                f,
                "is writable by every user without the sticky bit (mode {mode:o})"
            ),
        }
    }
}

impl FileError {
    /// What the user can do about it, for the `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            FileError::Io { .. } => {
                Some("check that the directory exists, is yours and has space".into())
            }
            FileError::Exists(_) => {
                Some("move the file away first, or choose another directory".into())
            }
            // The message already says what to run.
            FileError::Symlink(_) | FileError::TooOpen { .. } => None,
            FileError::NotYours { path, .. } | FileError::NotAFile(path) => Some(format!(
                "zt did not write {}: someone may have planted it. Remove it (or ask an administrator to), then run `zt login`",
                path.display()
            )),
            FileError::UnsafeDir { path, problem } => Some(dir_hint(path, problem)),
        }
    }
}

fn dir_hint(path: &Path, problem: &DirProblem) -> String {
    let path = path.display();
    match problem {
        DirProblem::Mode(_) => format!(
            "if the directory is yours and holds nothing of anyone else, run `chmod 700 {path}`; zt never changes it on its own"
        ),
        DirProblem::Symlink | DirProblem::NotADirectory => format!(
            "zt does not follow links for its own directories; if you did not make {path}, someone may be trying to read or plant zt's keys. Remove it (`rm {path}`) and run zt again"
        ),
        DirProblem::Owner { .. } => format!(
            "someone else made {path}, perhaps to read or plant zt's keys: do not use it. Ask an administrator to remove it, or point zt elsewhere (XDG_STATE_HOME, XDG_RUNTIME_DIR, XDG_CONFIG_HOME)"
        ),
        DirProblem::BaseOwner { .. } | DirProblem::BaseWorldWritable(_) => format!(
            "point zt at a directory of your own instead of {path} (XDG_STATE_HOME, XDG_RUNTIME_DIR, XDG_CONFIG_HOME)"
        ),
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Create `dir` (and parents) with mode 0700 for the last component, and
/// tighten it to 0700 if it already exists and we own it. For directories
/// the caller chose (the broker's); zt's own go through
/// [`crate::private_dir::Location`], which refuses instead of tightening.
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

/// `path`'s directory (opened, following links: the caller chose it) and file name.
fn parent_and_name(path: &Path) -> Result<(Dir, &std::ffi::OsStr), FileError> {
    let name = path.file_name().ok_or_else(|| FileError::Io {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((Dir::open_followed(parent)?, name))
}

/// Write `bytes` to `path` atomically with mode 0600: nothing half-written
/// is ever visible under `path`, and a crash leaves the old content.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_dir(parent)?;
    }
    let (dir, name) = parent_and_name(path)?;
    dir.write(name, path, bytes, 0o600, true)
}

/// Like [`write_private`] but refuses to replace an existing file (CA keys),
/// atomically: of two writers, one gets [`FileError::Exists`].
pub fn create_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_dir(parent)?;
    }
    let (dir, name) = parent_and_name(path)?;
    dir.write(name, path, bytes, 0o600, false)
}

/// Write a non-secret file atomically (0644): public keys, configs that
/// other programs such as sshd must read.
pub fn write_public(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_dir(parent)?;
    }
    let (dir, name) = parent_and_name(path)?;
    dir.write(name, path, bytes, 0o644, true)
}

/// Replace `path` atomically with a file of `mode` (e.g. 0644 for files
/// sshd reads) in a directory that must already exist and whose mode is
/// left alone (unlike [`write_public`], which makes its parent private):
/// for system files such as `/etc/ssh/…`. Readers see the old file or the
/// new one, never a half-written one.
pub fn replace_system_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    let (dir, name) = parent_and_name(path)?;
    dir.write(name, path, bytes, mode, true)
}

/// Read a secret file, refusing symlinks, anything but a regular file, files
/// that group or others can read or write, and files another user owns.
/// The checks are made with `fstat` on the opened descriptor, so the file
/// checked is the file read. `Ok(None)` when absent.
pub fn read_secret(path: &Path) -> Result<Option<Vec<u8>>, FileError> {
    let (dir, name) = match parent_and_name(path) {
        Ok(found) => found,
        Err(FileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    dir.read(name, path, 0o077)
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

/// The effective user id: the owner every private file and directory must have.
#[cfg(unix)]
pub fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
        assert!(
            read_secret(&dir.path().join("absent/deeper"))
                .unwrap()
                .is_none()
        );
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
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }

    #[test]
    fn public_and_system_files_get_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let public = dir.path().join("ca.pub");
        write_public(&public, b"k").unwrap();
        assert_eq!(
            fs::metadata(&public).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let system = dir.path().join("krl");
        replace_system_file(&system, b"k", 0o640).unwrap();
        assert_eq!(
            fs::metadata(&system).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    /// The issue-12 regression: `read_secret` said it refused files another user owns, and
    /// did not check.
    #[test]
    fn a_secret_another_user_owns_is_refused() {
        let Some(other) = crate::private_dir::tests::other_uid() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refresh-token");
        write_private(&path, b"planted").unwrap();
        std::os::unix::fs::chown(&path, Some(other), None).unwrap();
        match read_secret(&path) {
            Err(FileError::NotYours { owner, .. }) => assert_eq!(owner, other),
            other => panic!("a planted secret was accepted: {other:?}"),
        }
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            eprintln!("skipped: mkfifo is not available");
            return;
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(read_secret(&path), Err(FileError::NotAFile(_))));
    }
}
