//! Small file systems the test mounts itself, to make a broker's disk fill
//! up or turn read-only under it: a tmpfs with a size limit, and an ext4
//! image on a loop device whose `trigger_fs_error` knob makes the kernel
//! remount it read-only exactly as it does on a real disk error
//! (`errors=remount-ro`). Needs root (or CAP_SYS_ADMIN); see
//! [`super::Peer::Mounts`]. Each mount is undone (lazily, so a process
//! still holding files cannot keep it) when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::process::run_ok;

/// A mounted file system on a fresh temporary directory.
pub struct Mount {
    dir: tempfile::TempDir,
    /// The ext4 image and its loop device, for [`Mount::fail_read_only`].
    image: Option<(PathBuf, String)>,
}

impl Mount {
    /// A tmpfs of `size` (e.g. `"2m"`).
    pub fn tmpfs(size: &str) -> Result<Mount, String> {
        let dir = super::tempdir();
        mount(
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ],
            dir.path(),
        )?;
        Ok(Mount { dir, image: None })
    }

    /// An ext4 file system of `megabytes` on a loop device, mounted with
    /// `errors=remount-ro`.
    pub fn ext4(megabytes: u64) -> Result<Mount, String> {
        let dir = super::tempdir();
        let image = dir.path().with_extension("ext4");
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(megabytes << 20))
            .map_err(|e| format!("create {}: {e}", image.display()))?;
        let out = Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(&image)
            .output()
            .map_err(|e| format!("mkfs.ext4: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mkfs.ext4: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let image_text = image.to_string_lossy().into_owned();
        mount(&["-o", "loop,errors=remount-ro", &image_text], dir.path())?;
        let device = String::from_utf8_lossy(
            &run_ok(
                Command::new("findmnt")
                    .args(["-no", "SOURCE"])
                    .arg(dir.path()),
            )
            .stdout,
        )
        .trim()
        .to_owned();
        Ok(Mount {
            dir,
            image: Some((image, device)),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fill the file system with a file named `name` until it is full.
    pub fn fill(&self, name: &str) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.path().join(name)).expect("create the filler");
        let chunk = vec![0u8; 64 << 10];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling {}: {e}", self.path().display()),
            }
        }
        // Whatever is buffered in the kernel is already accounted for.
        let _ = file.sync_all();
    }

    /// ext4 only: make the kernel detect a file-system error and remount
    /// the file system read-only (what `errors=remount-ro` does on a real
    /// disk error).
    pub fn fail_read_only(&self) {
        let (_, device) = self.image.as_ref().expect("an ext4 mount");
        let name = Path::new(device).file_name().unwrap().to_string_lossy();
        std::fs::write(format!("/sys/fs/ext4/{name}/trigger_fs_error"), "zt test")
            .expect("trigger an ext4 error");
    }

    /// ext4 only: unmount, repair with e2fsck and mount again read-write
    /// (what an administrator does after a disk error). Nothing may hold
    /// files on it.
    pub fn repair(&mut self) {
        let (image, _) = self.image.clone().expect("an ext4 mount");
        run_ok(Command::new("umount").arg(self.path()));
        // Exit 1 means "errors corrected".
        let status = Command::new("e2fsck")
            .args(["-f", "-y"])
            .arg(&image)
            .output()
            .expect("run e2fsck")
            .status;
        assert!(matches!(status.code(), Some(0 | 1)), "e2fsck: {status}");
        let image_text = image.to_string_lossy().into_owned();
        mount(&["-o", "loop,errors=remount-ro", &image_text], self.path())
            .expect("mount the repaired image");
        let device = String::from_utf8_lossy(
            &run_ok(
                Command::new("findmnt")
                    .args(["-no", "SOURCE"])
                    .arg(self.path()),
            )
            .stdout,
        )
        .trim()
        .to_owned();
        self.image = Some((image, device));
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).output();
        if let Some((image, _)) = &self.image {
            let _ = std::fs::remove_file(image);
        }
    }
}

fn mount(args: &[&str], target: &Path) -> Result<(), String> {
    let out = Command::new("mount")
        .args(args)
        .arg(target)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mount {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Why mounting is impossible here, if it is (checked once per process).
pub fn unavailable() -> Option<String> {
    static CHECK: OnceLock<Option<String>> = OnceLock::new();
    CHECK
        .get_or_init(|| {
            let tmpfs = Mount::tmpfs("1m").err();
            let ext4 = Mount::ext4(4).err();
            tmpfs.or(ext4).map(|why| {
                format!("cannot mount test file systems (needs root, tmpfs and ext4 on loop devices): {why}")
            })
        })
        .clone()
}
