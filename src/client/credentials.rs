//! Where zt keeps its two secrets per profile — the IdP refresh token and
//! the device (DPoP) key: the OS keyring when one works, else a 0600 file
//! in zt's private state directory (`…/zt/<profile>/secrets`, each directory
//! checked: see [`zt_os::private_dir`]), said once to the user.
//!
//! `ZT_CREDENTIAL_STORE=keyring|file` forces a backend (CI, tests).

use std::path::Path;
use std::sync::Arc;

use super::error::Error;
use zt_os::private_dir::Location;

pub const REFRESH_TOKEN: &str = "refresh-token";
pub const DEVICE_KEY: &str = "device-key";

pub enum Secrets {
    Keyring {
        service: String,
    },
    /// `…/zt/<profile>/secrets`: the last three directories are zt's own.
    File {
        dir: Location,
    },
}

/// The notice that secrets are in files, once per state directory.
const FILE_NOTICE: &str = ".file-secrets-notice";

impl Secrets {
    /// Pick a backend for the profile whose state lives in `state_dir`.
    pub fn open(state_dir: &Path, profile: &str) -> Result<Self, Error> {
        // The keyring is shared by every zt state directory of this user
        // (tests, several HOMEs); the service name keeps them apart.
        let digest = zt_core::jose::sha256_b64(state_dir.to_string_lossy().as_bytes());
        let service = format!("zt:{profile}:{}", &digest[..16]);
        let choice = std::env::var("ZT_CREDENTIAL_STORE").unwrap_or_default();
        let file = Secrets::File {
            dir: Location::split(&state_dir.join("secrets"), 3)?,
        };
        match choice.as_str() {
            "file" => return Ok(file),
            "keyring" => {
                keyring_ready().map_err(|e| {
                    Error::config(format!(
                        "ZT_CREDENTIAL_STORE=keyring, but no keyring works: {e}"
                    ))
                })?;
                return Ok(Secrets::Keyring { service });
            }
            "" => {}
            other => {
                return Err(Error::config(format!(
                    "ZT_CREDENTIAL_STORE={other:?}: use keyring or file"
                )));
            }
        }
        match keyring_ready() {
            Ok(()) => Ok(Secrets::Keyring { service }),
            Err(why) => {
                let state = Location::split(state_dir, 2)?.create()?;
                if !state.is_file(FILE_NOTICE) {
                    eprintln!(
                        "zt: no OS keyring is available ({why}); keeping zt's secrets in {} (0600) instead",
                        state_dir.join("secrets").display()
                    );
                    let _ = state.write_private(FILE_NOTICE, b"told\n");
                }
                Ok(file)
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Secrets::Keyring { .. } => "OS keyring".into(),
            Secrets::File { dir } => format!("file {}", dir.path().display()),
        }
    }

    pub fn get(&self, name: &str) -> Result<Option<String>, Error> {
        match self {
            Secrets::Keyring { service } => match entry(service, name)?.get_password() {
                Ok(v) => Ok(Some(v)),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(keyring_error("read", e)),
            },
            Secrets::File { dir } => {
                let Some(dir) = dir.open()? else {
                    return Ok(None);
                };
                let bytes = dir.read_secret(name)?;
                Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
            }
        }
    }

    pub fn set(&self, name: &str, value: &str) -> Result<(), Error> {
        match self {
            Secrets::Keyring { service } => entry(service, name)?
                .set_password(value)
                .map_err(|e| keyring_error("write", e)),
            Secrets::File { dir } => Ok(dir.create()?.write_private(name, value.as_bytes())?),
        }
    }

    pub fn delete(&self, name: &str) -> Result<(), Error> {
        match self {
            Secrets::Keyring { service } => match entry(service, name)?.delete_credential() {
                Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
                Err(e) => Err(keyring_error("delete", e)),
            },
            Secrets::File { dir } => match dir.open()? {
                Some(dir) => Ok(dir.remove(name)?),
                None => Ok(()),
            },
        }
    }
}

fn entry(service: &str, name: &str) -> Result<keyring_core::Entry, Error> {
    keyring_core::Entry::new(service, name).map_err(|e| keyring_error("entry", e))
}

fn keyring_error(operation: &'static str, e: keyring_core::Error) -> Error {
    Error::Keyring {
        operation,
        reason: e.to_string(),
    }
}

/// Install the platform store once and prove it can round-trip a value.
fn keyring_ready() -> Result<(), String> {
    static READY: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    READY
        .get_or_init(|| {
            install_store()?;
            let entry =
                keyring_core::Entry::new(PROBE_SERVICE, PROBE_USER).map_err(|e| e.to_string())?;
            probe(&entry)
        })
        .clone()
}

/// The probe's one entry. A fixed name, not a random one: should a probe ever fail to remove
/// its entry, the next probe overwrites that same entry instead of adding another.
const PROBE_SERVICE: &str = "zt:probe";
const PROBE_USER: &str = "probe";
const PROBE_VALUE: &str = "zt keyring probe";

/// What the probe needs from a credential backend.
trait Probe {
    fn set(&self, value: &str) -> Result<(), String>;
    fn get(&self) -> Result<String, String>;
    fn delete(&self) -> Result<(), String>;
}

impl Probe for keyring_core::Entry {
    fn set(&self, value: &str) -> Result<(), String> {
        self.set_password(value).map_err(|e| e.to_string())
    }
    fn get(&self) -> Result<String, String> {
        self.get_password().map_err(|e| e.to_string())
    }
    fn delete(&self) -> Result<(), String> {
        self.delete_credential().map_err(|e| e.to_string())
    }
}

/// Write, read back, and always remove the probe entry, whatever failed first: a write can
/// fail after the key was added (the kernel keyring adds it to the session keyring, then
/// refuses to link it to the persistent one), and that key must not stay behind.
fn probe(target: &impl Probe) -> Result<(), String> {
    let read = target.set(PROBE_VALUE).and_then(|()| target.get());
    let removed = target.delete();
    match (read, removed) {
        (Ok(value), Ok(())) if value == PROBE_VALUE => Ok(()),
        (Ok(_), Ok(())) => Err("the keyring returned another value".into()),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(format!("the keyring cannot delete: {e}")),
    }
}

#[cfg(target_os = "linux")]
fn install_store() -> Result<(), String> {
    let store = linux_keyutils_keyring_store::Store::new().map_err(|e| e.to_string())?;
    let store: Arc<keyring_core::CredentialStore> = store;
    keyring_core::set_default_store(store);
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn install_store() -> Result<(), String> {
    let _ = Arc::<()>::new(());
    Err("no keyring backend is built for this platform yet".into())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// A kernel keyring as it behaves where reads are denied: `add_key` puts the key in the
    /// session keyring, then linking it to the persistent keyring fails; reads fail; removal
    /// works (it needs only search and invalidate).
    #[derive(Default)]
    struct DenyingKeyring {
        keys: RefCell<Vec<String>>,
        delete_fails: bool,
    }

    impl Probe for DenyingKeyring {
        fn set(&self, _value: &str) -> Result<(), String> {
            let mut keys = self.keys.borrow_mut();
            // Same description in the same keyring: the kernel updates the key in place.
            let description = format!("{PROBE_USER}@{PROBE_SERVICE}");
            if !keys.contains(&description) {
                keys.push(description);
            }
            Err("Couldn't access platform storage: AccessDenied".into())
        }
        fn get(&self) -> Result<String, String> {
            Err("AccessDenied".into())
        }
        fn delete(&self) -> Result<(), String> {
            if self.delete_fails {
                return Err("AccessDenied".into());
            }
            self.keys.borrow_mut().clear();
            Ok(())
        }
    }

    /// Issue 12: the `secrets` directory is a link to someone else's directory. zt neither
    /// reads the refresh token planted there nor writes or deletes its own.
    #[cfg(unix)]
    #[test]
    fn file_secrets_refuse_a_symlinked_secrets_directory() {
        let dir = tempfile::tempdir().unwrap();
        let state = Location::new(dir.path().join("state"), &["zt", "default"])
            .create()
            .unwrap();
        let planted = dir.path().join("planted");
        zt_os::files::write_private(&planted.join(REFRESH_TOKEN), b"theirs").unwrap();
        std::os::unix::fs::symlink(&planted, state.path().join("secrets")).unwrap();
        let secrets = Secrets::File {
            dir: Location::split(&state.path().join("secrets"), 3).unwrap(),
        };

        assert!(matches!(secrets.get(REFRESH_TOKEN), Err(Error::File(_))));
        assert!(secrets.set(REFRESH_TOKEN, "mine").is_err());
        assert!(secrets.delete(REFRESH_TOKEN).is_err());
        assert_eq!(
            std::fs::read(planted.join(REFRESH_TOKEN)).unwrap(),
            b"theirs"
        );
    }

    #[test]
    fn a_failed_probe_leaves_no_key_behind() {
        let keyring = DenyingKeyring::default();
        for _ in 0..5 {
            assert!(probe(&keyring).is_err());
        }
        assert_eq!(
            keyring.keys.borrow().len(),
            0,
            "{:?}",
            keyring.keys.borrow()
        );
    }

    #[test]
    fn a_probe_that_cannot_delete_leaves_at_most_its_one_entry() {
        let keyring = DenyingKeyring {
            delete_fails: true,
            ..Default::default()
        };
        for _ in 0..5 {
            assert!(probe(&keyring).is_err());
        }
        assert_eq!(keyring.keys.borrow().len(), 1);
    }
}
