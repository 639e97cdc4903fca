//! Private directories: where zt keeps secrets (the session, the refresh token, the device
//! key, SSH keys, `known_hosts`), checked from a trusted base down, and files inside opened
//! relative to the checked directory.
//!
//! # Where trust starts
//!
//! A [`Location`] is a **base** directory and **zt's own directories** below it, e.g.
//! `$XDG_STATE_HOME` + `zt/<profile>`, `$XDG_RUNTIME_DIR` + `zt/<profile>`, `$TMPDIR` +
//! `zt-<user>/<profile>`, `$XDG_CONFIG_HOME` + `zt`.
//!
//! - The base is the user's own choice, so it is followed if it is a symlink (a symlinked
//!   HOME or XDG directory is legitimate) and created 0700 if missing. It is refused only if
//!   someone else could swap zt's directory inside it: when it belongs to another user than
//!   the current one or root, or is writable by everyone without the sticky bit.
//! - Each of zt's own directories must be a real directory (opened with `O_NOFOLLOW`), owned
//!   by the effective uid, with no group or other access. A missing one is created 0700. One
//!   that is a symlink, someone else's, or open to others is refused with
//!   [`FileError::UnsafeDir`]; zt never chmods or chowns it to make it fit, because a
//!   directory zt did not create may already hold what someone planted.
//! - Files are opened with `openat(…, O_NOFOLLOW)` relative to the last checked directory's
//!   descriptor and checked with `fstat` on their own descriptor; writes are a temporary
//!   file and a `renameat` inside that descriptor. A name swapped after the check is never
//!   reached.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::files::FileError;

#[cfg(unix)]
#[path = "private_dir/unix.rs"]
pub(crate) mod sys;
#[cfg(not(unix))]
#[path = "private_dir/fallback.rs"]
pub(crate) mod sys;

/// A base directory and zt's own directories below it (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    base: PathBuf,
    own: Vec<OsString>,
}

impl Location {
    /// `base` (trusted as the user's) and zt's directories `own` below it, outermost first.
    pub fn new<S: AsRef<OsStr>>(base: impl Into<PathBuf>, own: &[S]) -> Location {
        Location {
            base: base.into(),
            own: own.iter().map(|s| s.as_ref().to_owned()).collect(),
        }
    }

    /// `dir`, whose last `own` components are zt's own directories (`…/zt/<profile>`: 2).
    pub fn split(dir: &Path, own: usize) -> Result<Location, FileError> {
        let mut base = dir;
        let mut names = Vec::with_capacity(own);
        for _ in 0..own {
            let name = match base.components().next_back() {
                Some(Component::Normal(name)) => name,
                _ => {
                    return Err(FileError::Io {
                        path: dir.to_owned(),
                        source: io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("zt's directory must end in {own} plain names"),
                        ),
                    });
                }
            };
            names.push(name.to_owned());
            base = base.parent().unwrap_or(Path::new(""));
        }
        names.reverse();
        let base = if base.as_os_str().is_empty() {
            Path::new(".")
        } else {
            base
        };
        Ok(Location {
            base: base.to_owned(),
            own: names,
        })
    }

    /// The directory as a path (for messages and for programs that take paths, like ssh).
    pub fn path(&self) -> PathBuf {
        let mut path = self.base.clone();
        path.extend(&self.own);
        path
    }

    /// The directory, checked all the way down; `None` while it (or a directory above it)
    /// does not exist. Creates nothing: for reading.
    pub fn open(&self) -> Result<Option<PrivateDir>, FileError> {
        self.walk(false)
    }

    /// The directory, checked all the way down, creating what is missing (0700).
    pub fn create(&self) -> Result<PrivateDir, FileError> {
        self.walk(true)?.ok_or_else(|| FileError::Io {
            path: self.path(),
            source: io::Error::new(io::ErrorKind::NotFound, "vanished while being created"),
        })
    }

    fn walk(&self, create: bool) -> Result<Option<PrivateDir>, FileError> {
        let Some(mut dir) = sys::Dir::open_base(&self.base, create)? else {
            return Ok(None);
        };
        let mut path = self.base.clone();
        for name in &self.own {
            path.push(name);
            dir = match dir.open_own(name, &path, create)? {
                Some(next) => next,
                None => return Ok(None),
            };
        }
        Ok(Some(PrivateDir { path, dir }))
    }
}

/// An open, checked directory of zt's. Files are named by plain names (no `/`, `.`, `..`).
pub struct PrivateDir {
    path: PathBuf,
    dir: sys::Dir,
}

impl std::fmt::Debug for PrivateDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateDir")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl PrivateDir {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// zt's own directory `name` in this one, checked like the others; `None` when absent.
    pub fn open_child(&self, name: &str) -> Result<Option<PrivateDir>, FileError> {
        self.child(name, false)
    }

    /// zt's own directory `name` in this one, checked, created 0700 when missing.
    pub fn create_child(&self, name: &str) -> Result<PrivateDir, FileError> {
        self.child(name, true)?.ok_or_else(|| FileError::Io {
            path: self.path.join(name),
            source: io::Error::new(io::ErrorKind::NotFound, "vanished while being created"),
        })
    }

    fn child(&self, name: &str, create: bool) -> Result<Option<PrivateDir>, FileError> {
        let (name, path) = self.name(name)?;
        Ok(self
            .dir
            .open_own(name, &path, create)?
            .map(|dir| PrivateDir { path, dir }))
    }

    /// Read the secret file `name`: refused when it is a symlink or not a regular file,
    /// another user's, or open to group or others (checked on the open descriptor).
    pub fn read_secret(&self, name: &str) -> Result<Option<Vec<u8>>, FileError> {
        let (name, path) = self.name(name)?;
        self.dir.read(name, &path, 0o077)
    }

    /// Read `name`, a file that is not secret but that only the current user may change
    /// (a configuration): refused when it is a symlink or not a regular file, another
    /// user's, or writable by group or others.
    pub fn read_owned(&self, name: &str) -> Result<Option<Vec<u8>>, FileError> {
        let (name, path) = self.name(name)?;
        self.dir.read(name, &path, 0o022)
    }

    /// Replace `name` atomically with a 0600 file holding `bytes`.
    pub fn write_private(&self, name: &str, bytes: &[u8]) -> Result<(), FileError> {
        let (name, path) = self.name(name)?;
        self.dir.write(name, &path, bytes, 0o600, true)
    }

    /// Like [`PrivateDir::write_private`], but [`FileError::Exists`] if `name` exists.
    pub fn create_private(&self, name: &str, bytes: &[u8]) -> Result<(), FileError> {
        let (name, path) = self.name(name)?;
        self.dir.write(name, &path, bytes, 0o600, false)
    }

    /// Remove `name` if it exists (a symlink itself, never what it points to).
    pub fn remove(&self, name: &str) -> Result<(), FileError> {
        let (name, path) = self.name(name)?;
        self.dir.remove(name, &path)
    }

    /// Whether `name` is a regular file (a symlink is not).
    pub fn is_file(&self, name: &str) -> bool {
        self.name(name)
            .is_ok_and(|(name, _)| self.dir.is_file(name))
    }

    /// Make `name` a symlink to `target` (relative, inside this directory), atomically.
    pub fn replace_symlink(&self, name: &str, target: &str) -> Result<(), FileError> {
        let (name, path) = self.name(name)?;
        self.dir.replace_symlink(name, &path, target)
    }

    /// Where the symlink `name` points, if it is one.
    pub fn read_link(&self, name: &str) -> Option<PathBuf> {
        let (name, _) = self.name(name).ok()?;
        self.dir.read_link(name)
    }

    /// `name` opened for writing, created 0600 when missing and never truncated, checked
    /// like a secret: a lock file.
    pub fn lock_file(&self, name: &str) -> Result<File, FileError> {
        let (name, path) = self.name(name)?;
        self.dir.lock_file(name, &path)
    }

    /// `name` as one plain path component, and its full path for messages.
    fn name<'a>(&self, name: &'a str) -> Result<(&'a OsStr, PathBuf), FileError> {
        let plain =
            !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
        if plain {
            Ok((OsStr::new(name), self.path.join(name)))
        } else {
            Err(FileError::Io {
                path: self.path.join(name),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a plain file name"),
            })
        }
    }
}

/// `.NAME.tmp-PID-RANDOM`: 64 random bits, so nobody can create it ahead.
pub(crate) fn temp_name(name: &OsStr) -> OsString {
    use rand_core::RngCore as _;
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(
        ".tmp-{}-{:016x}",
        std::process::id(),
        rand_core::OsRng.next_u64()
    ));
    tmp
}

#[cfg(all(test, unix))]
pub(crate) mod tests;
