//! Not Unix (Windows): no directory descriptors, owners or modes to check, so the same
//! operations by path. zt's own directories are still refused when they are links (std's
//! `symlink_metadata` sees reparse-point links), and secret files when they are links.
//! Windows keeps a user's profile private through its ACLs, which zt leaves as they are.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::files::{DirProblem, FileError, io_err};

pub(crate) struct Dir {
    path: PathBuf,
}

impl Dir {
    pub(crate) fn open_followed(path: &Path) -> Result<Dir, FileError> {
        let meta = fs::metadata(path).map_err(io_err(path))?;
        if !meta.is_dir() {
            return Err(io_err(path)(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            )));
        }
        Ok(Dir {
            path: path.to_owned(),
        })
    }

    pub(crate) fn open_base(path: &Path, create: bool) -> Result<Option<Dir>, FileError> {
        if create {
            fs::create_dir_all(path).map_err(io_err(path))?;
        }
        match Dir::open_followed(path) {
            Ok(dir) => Ok(Some(dir)),
            Err(FileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) fn open_own(
        &self,
        name: &OsStr,
        path: &Path,
        create: bool,
    ) -> Result<Option<Dir>, FileError> {
        let full = self.path.join(name);
        match fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => Err(FileError::UnsafeDir {
                path: path.to_owned(),
                problem: DirProblem::Symlink,
            }),
            Ok(meta) if !meta.is_dir() => Err(FileError::UnsafeDir {
                path: path.to_owned(),
                problem: DirProblem::NotADirectory,
            }),
            Ok(_) => Ok(Some(Dir { path: full })),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                match fs::create_dir(&full) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(path)(e)),
                }
                self.open_own(name, path, false)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(path)(e)),
        }
    }

    pub(crate) fn read(
        &self,
        name: &OsStr,
        path: &Path,
        _forbidden: u32,
    ) -> Result<Option<Vec<u8>>, FileError> {
        let full = self.path.join(name);
        match fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => Err(FileError::Symlink(path.to_owned())),
            Ok(meta) if !meta.is_file() => Err(FileError::NotAFile(path.to_owned())),
            Ok(_) => fs::read(&full).map(Some).map_err(io_err(path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(path)(e)),
        }
    }

    pub(crate) fn write(
        &self,
        name: &OsStr,
        path: &Path,
        bytes: &[u8],
        _mode: u32,
        replace: bool,
    ) -> Result<(), FileError> {
        let full = self.path.join(name);
        if !replace && fs::symlink_metadata(&full).is_ok() {
            return Err(FileError::Exists(path.to_owned()));
        }
        let tmp = self.path.join(super::temp_name(name));
        let result = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, &full)
        })();
        result.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(path)(e)
        })
    }

    pub(crate) fn remove(&self, name: &OsStr, path: &Path) -> Result<(), FileError> {
        match fs::remove_file(self.path.join(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(path)(e)),
        }
    }

    pub(crate) fn is_file(&self, name: &OsStr) -> bool {
        fs::symlink_metadata(self.path.join(name)).is_ok_and(|m| m.is_file())
    }

    /// Symlinks need a privilege on Windows; ssh there reads the files themselves.
    pub(crate) fn replace_symlink(
        &self,
        _name: &OsStr,
        _path: &Path,
        _target: &str,
    ) -> Result<(), FileError> {
        Ok(())
    }

    pub(crate) fn read_link(&self, name: &OsStr) -> Option<PathBuf> {
        fs::read_link(self.path.join(name)).ok()
    }

    pub(crate) fn lock_file(&self, name: &OsStr, path: &Path) -> Result<File, FileError> {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path.join(name))
            .map_err(io_err(path))
    }
}
