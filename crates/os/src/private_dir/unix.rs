//! Unix: every operation is relative to a directory descriptor that was opened with
//! `O_NOFOLLOW | O_DIRECTORY` and checked with `fstat`, and every file is opened with
//! `O_NOFOLLOW` and checked with `fstat` on its own descriptor. Nothing is looked up by path
//! twice, so nothing can be swapped in between a check and the use.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::files::{DirProblem, FileError, current_uid, io_err};

/// An open directory.
pub(crate) struct Dir {
    fd: OwnedFd,
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// The permission bits of `st` (`st_mode` is 16 bits on some systems, 32 on others).
#[allow(clippy::unnecessary_cast)]
fn permissions(st: &Stat) -> u32 {
    (st.st_mode as u32) & 0o7777
}

fn io(path: &Path, e: Errno) -> FileError {
    io_err(path)(e.into())
}

impl Dir {
    /// A directory the caller chose, following links (the base of a [`super::Location`], the
    /// directory of a path given to [`crate::files`]).
    pub(crate) fn open_followed(path: &Path) -> Result<Dir, FileError> {
        let fd = rustix::fs::open(path, dir_flags(), Mode::empty()).map_err(|e| io(path, e))?;
        Ok(Dir { fd })
    }

    /// The base of a location: followed if it is a link (the user's own choice, like a
    /// symlinked HOME), created 0700 with its parents when `create`, and refused only when
    /// someone else could replace zt's directory in it: owned by another user than you or
    /// root, or writable by everyone without the sticky bit (`/tmp` has it).
    pub(crate) fn open_base(path: &Path, create: bool) -> Result<Option<Dir>, FileError> {
        if create {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(io_err(path))?;
        }
        let fd = match rustix::fs::open(path, dir_flags(), Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::NOTDIR) => return Err(unsafe_dir(path, DirProblem::NotADirectory)),
            Err(e) => return Err(io(path, e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| io(path, e))?;
        let me = current_uid();
        if st.st_uid != me && st.st_uid != 0 {
            let owner = st.st_uid;
            return Err(unsafe_dir(path, DirProblem::BaseOwner { owner, me }));
        }
        let mode = permissions(&st);
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            return Err(unsafe_dir(path, DirProblem::BaseWorldWritable(mode)));
        }
        Ok(Some(Dir { fd }))
    }

    /// zt's own directory `name` in this one: a real directory (not a link), owned by the
    /// current user, with no access for group or others. Created 0700 when missing and
    /// `create`; never changed when it exists.
    pub(crate) fn open_own(
        &self,
        name: &OsStr,
        path: &Path,
        create: bool,
    ) -> Result<Option<Dir>, FileError> {
        let mut made = false;
        loop {
            match rustix::fs::openat(
                &self.fd,
                name,
                dir_flags() | OFlags::NOFOLLOW,
                Mode::empty(),
            ) {
                Ok(fd) => {
                    check_own_dir(&fd, path)?;
                    return Ok(Some(Dir { fd }));
                }
                Err(Errno::NOENT) if create && !made => {
                    match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o700)) {
                        // Made by a parallel zt a moment ago: checked like any other.
                        Ok(()) | Err(Errno::EXIST) => made = true,
                        Err(e) => return Err(io(path, e)),
                    }
                }
                Err(Errno::NOENT) => return Ok(None),
                Err(e) => return Err(self.refused(name, path, e, true)),
            }
        }
    }

    /// Why opening `name` failed: a link or the wrong type of file (checked without
    /// following), else the error itself. O_NOFOLLOW fails with ELOOP on Linux, EMLINK on
    /// FreeBSD; asking is simpler than knowing every system.
    fn refused(&self, name: &OsStr, path: &Path, e: Errno, want_dir: bool) -> FileError {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                FileType::Symlink if want_dir => unsafe_dir(path, DirProblem::Symlink),
                FileType::Symlink => FileError::Symlink(path.to_owned()),
                FileType::Directory if want_dir => io(path, e),
                _ if want_dir => unsafe_dir(path, DirProblem::NotADirectory),
                FileType::RegularFile => io(path, e),
                _ => FileError::NotAFile(path.to_owned()),
            },
            Err(_) => io(path, e),
        }
    }

    /// The file `name`: not a link, a regular file, the current user's, with none of the
    /// `forbidden` permission bits (0o077 for a secret, 0o022 for a file only we may change);
    /// checked with `fstat` on the descriptor that is then read. `None` when absent.
    pub(crate) fn read(
        &self,
        name: &OsStr,
        path: &Path,
        forbidden: u32,
    ) -> Result<Option<Vec<u8>>, FileError> {
        // O_NONBLOCK: a FIFO planted under the name must not hang zt in open().
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(self.refused(name, path, e, false)),
        };
        check_file(&fd, path, forbidden)?;
        let mut bytes = Vec::new();
        File::from(fd)
            .read_to_end(&mut bytes)
            .map_err(io_err(path))?;
        Ok(Some(bytes))
    }

    /// Write `name` atomically: a new temporary file (`O_EXCL`, `mode`), fsync, then a rename
    /// (`replace`) or a link that fails if `name` exists (not `replace`), all inside this
    /// directory, then fsync the directory.
    pub(crate) fn write(
        &self,
        name: &OsStr,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        replace: bool,
    ) -> Result<(), FileError> {
        let tmp = super::temp_name(name);
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, &tmp, flags, Mode::from_raw_mode(0o600))
            .map_err(|e| io(path, e))?;
        let result = (|| -> Result<(), FileError> {
            // The exact mode, whatever the umask took away.
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode as _)).map_err(|e| io(path, e))?;
            let mut file = File::from(fd);
            file.write_all(bytes).map_err(io_err(path))?;
            file.sync_all().map_err(io_err(path))?;
            if replace {
                rustix::fs::renameat(&self.fd, &tmp, &self.fd, name).map_err(|e| io(path, e))?;
            } else {
                match rustix::fs::linkat(&self.fd, &tmp, &self.fd, name, AtFlags::empty()) {
                    Ok(()) => {}
                    Err(Errno::EXIST) => return Err(FileError::Exists(path.to_owned())),
                    Err(e) => return Err(io(path, e)),
                }
                let _ = rustix::fs::unlinkat(&self.fd, &tmp, AtFlags::empty());
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = rustix::fs::unlinkat(&self.fd, &tmp, AtFlags::empty());
        }
        result?;
        // Make the rename itself durable; best effort.
        let _ = rustix::fs::fsync(&self.fd);
        Ok(())
    }

    /// Remove `name` (not following a link: the link itself goes). Absent is fine.
    pub(crate) fn remove(&self, name: &OsStr, path: &Path) -> Result<(), FileError> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(io(path, e)),
        }
    }

    /// Whether `name` is a regular file (not following a link).
    pub(crate) fn is_file(&self, name: &OsStr) -> bool {
        rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
    }

    /// Point the symlink `name` at `target`, atomically (new link, then rename).
    pub(crate) fn replace_symlink(
        &self,
        name: &OsStr,
        path: &Path,
        target: &str,
    ) -> Result<(), FileError> {
        let tmp = super::temp_name(name);
        rustix::fs::symlinkat(target, &self.fd, &tmp).map_err(|e| io(path, e))?;
        rustix::fs::renameat(&self.fd, &tmp, &self.fd, name).map_err(|e| {
            let _ = rustix::fs::unlinkat(&self.fd, &tmp, AtFlags::empty());
            io(path, e)
        })
    }

    /// Where the symlink `name` points, if it is one.
    pub(crate) fn read_link(&self, name: &OsStr) -> Option<PathBuf> {
        let target = rustix::fs::readlinkat(&self.fd, name, Vec::new()).ok()?;
        Some(PathBuf::from(OsStr::from_bytes(target.as_bytes())))
    }

    /// `name` opened for writing (created 0600 when missing, never truncated) and checked
    /// like a secret: for lock files.
    pub(crate) fn lock_file(&self, name: &OsStr, path: &Path) -> Result<File, FileError> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o600))
            .map_err(|e| self.refused(name, path, e, false))?;
        check_file(&fd, path, 0o077)?;
        Ok(File::from(fd))
    }
}

fn unsafe_dir(path: &Path, problem: DirProblem) -> FileError {
    FileError::UnsafeDir {
        path: path.to_owned(),
        problem,
    }
}

fn check_own_dir(fd: &OwnedFd, path: &Path) -> Result<(), FileError> {
    let st = rustix::fs::fstat(fd).map_err(|e| io(path, e))?;
    let me = current_uid();
    if st.st_uid != me {
        let owner = st.st_uid;
        return Err(unsafe_dir(path, DirProblem::Owner { owner, me }));
    }
    let mode = permissions(&st);
    if mode & 0o077 != 0 {
        return Err(unsafe_dir(path, DirProblem::Mode(mode)));
    }
    Ok(())
}

fn check_file(fd: &OwnedFd, path: &Path, forbidden: u32) -> Result<(), FileError> {
    let st = rustix::fs::fstat(fd).map_err(|e| io(path, e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(FileError::NotAFile(path.to_owned()));
    }
    let me = current_uid();
    if st.st_uid != me {
        return Err(FileError::NotYours {
            path: path.to_owned(),
            owner: st.st_uid,
            me,
        });
    }
    let mode = permissions(&st);
    if mode & forbidden != 0 {
        return Err(FileError::TooOpen {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}
