//! The broker's private keys on disk: the user CA, the host CA (OpenSSH
//! private keys), the token-signing key and the audit checkpoint key
//! (PKCS#8 PEM). All are created once by `zt-broker init`, 0600, and never
//! overwritten; the audit key is also created on the first start of a
//! broker initialised before audit checkpoints existed.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ssh_key::{Algorithm, LineEnding, PrivateKey, PublicKey};

use super::config::KeyPaths;
use zt_core::ca::CaKey;
use zt_core::jose::{EcPublicJwk, SigningKey};
use zt_os::files::{self, FileError};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0} is missing; run `zt-broker init` first")]
    Missing(String),
    #[error("{path} is not a valid {what}")]
    Invalid { path: String, what: &'static str },
    #[error("could not generate a key: {0}")]
    Generate(String),
}

pub struct BrokerKeys {
    pub user_ca: CaKey,
    pub host_ca: CaKey,
    pub token: SigningKey,
    /// The token key before the last rotation (`zt-broker token-key rotate`), still published
    /// at `/v1/jwks` and still accepted on access tokens, so tokens it signed live out their
    /// minutes.
    pub previous_token: Option<SigningKey>,
    /// Other host CAs published during a rotation (public keys only).
    pub additional_host_cas: Vec<PublicKey>,
}

impl BrokerKeys {
    pub fn load(paths: &KeyPaths) -> Result<Self, KeyError> {
        Ok(BrokerKeys {
            user_ca: load_ca(&paths.user_ca)?.into(),
            host_ca: load_ca(&paths.host_ca)?.into(),
            token: load_token_key(&paths.token_signing)?,
            previous_token: match load_token_key(&previous_token_path(&paths.token_signing)) {
                Err(KeyError::Missing(_)) => None,
                other => Some(other?),
            },
            additional_host_cas: paths
                .additional_host_ca_keys
                .iter()
                .map(|p| load_public(p))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Create all four keys; fails without touching anything if any exists.
    pub fn create(paths: &KeyPaths) -> Result<Self, KeyError> {
        for p in [
            &paths.user_ca,
            &paths.host_ca,
            &paths.token_signing,
            &paths.audit_signing,
        ] {
            if std::fs::symlink_metadata(p).is_ok() {
                return Err(FileError::Exists(p.clone()).into());
            }
        }
        let user_ca = new_ca(&paths.user_ca)?;
        let host_ca = new_ca(&paths.host_ca)?;
        let token = SigningKey::generate().map_err(|e| KeyError::Generate(e.to_string()))?;
        files::create_private(
            &paths.token_signing,
            pem("PRIVATE KEY", token.pkcs8()).as_bytes(),
        )?;
        create_audit_key(&paths.audit_signing)?;
        Ok(BrokerKeys {
            user_ca: user_ca.into(),
            host_ca: host_ca.into(),
            token,
            previous_token: None,
            additional_host_cas: Vec::new(),
        })
    }

    /// The public token keys, current first: what `/v1/jwks` publishes.
    pub fn token_publics(&self) -> impl Iterator<Item = &EcPublicJwk> {
        std::iter::once(self.token.public_jwk())
            .chain(self.previous_token.as_ref().map(SigningKey::public_jwk))
    }

    pub fn user_ca_public(&self) -> PublicKey {
        self.user_ca.public_key().clone()
    }

    pub fn host_ca_public(&self) -> PublicKey {
        self.host_ca.public_key().clone()
    }

    /// Every host CA clients should trust: this broker's, then the others.
    pub fn host_ca_publics(&self) -> Vec<PublicKey> {
        let mut all = vec![self.host_ca_public()];
        all.extend(self.additional_host_cas.iter().cloned());
        all
    }
}

fn load_public(path: &Path) -> Result<PublicKey, KeyError> {
    let text =
        std::fs::read_to_string(path).map_err(|_| KeyError::Missing(path.display().to_string()))?;
    PublicKey::from_openssh(text.trim()).map_err(|_| KeyError::Invalid {
        path: path.display().to_string(),
        what: "OpenSSH public key (additional host CA)",
    })
}

fn new_ca(path: &Path) -> Result<PrivateKey, KeyError> {
    let mut key = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    key.set_comment(format!("zt-broker {name}"));
    let text = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    files::create_private(path, text.as_bytes())?;
    files::write_public(
        &path.with_extension("pub"),
        format!("{}\n", openssh_public(key.public_key())).as_bytes(),
    )?;
    Ok(key)
}

fn load_ca(path: &Path) -> Result<PrivateKey, KeyError> {
    let bytes =
        files::read_secret(path)?.ok_or_else(|| KeyError::Missing(path.display().to_string()))?;
    let invalid = || KeyError::Invalid {
        path: path.display().to_string(),
        what: "OpenSSH Ed25519 private key",
    };
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let key = PrivateKey::from_openssh(text).map_err(|_| invalid())?;
    if key.algorithm() != Algorithm::Ed25519 || key.is_encrypted() {
        return Err(invalid());
    }
    Ok(key)
}

fn create_es256(path: &Path) -> Result<SigningKey, KeyError> {
    let key = SigningKey::generate().map_err(|e| KeyError::Generate(e.to_string()))?;
    files::create_private(path, pem("PRIVATE KEY", key.pkcs8()).as_bytes())?;
    Ok(key)
}

/// Where the token key before the last rotation is kept, next to the current one.
pub fn previous_token_path(current: &Path) -> std::path::PathBuf {
    current.with_extension("previous.pem")
}

/// Rotate the token key: the current key becomes the previous one (replacing an older
/// previous key) and a new key takes its place. In that order, so a crash in between leaves
/// the current key in both places and nothing lost. Returns the new key's thumbprint.
pub fn rotate_token_key(current: &Path) -> Result<(String, String), KeyError> {
    let old = load_token_key(current)?;
    let new = SigningKey::generate().map_err(|e| KeyError::Generate(e.to_string()))?;
    files::write_private(
        &previous_token_path(current),
        pem("PRIVATE KEY", old.pkcs8()).as_bytes(),
    )?;
    files::write_private(current, pem("PRIVATE KEY", new.pkcs8()).as_bytes())?;
    Ok((old.thumbprint(), new.thumbprint()))
}

/// The audit checkpoint key, and its public JWK next to it (0644, for
/// verifying a copied log elsewhere without the private key).
fn create_audit_key(path: &Path) -> Result<SigningKey, KeyError> {
    let key = create_es256(path)?;
    let public = serde_json::to_string(key.public_jwk()).expect("a JWK serialises");
    files::write_public(&audit_public_path(path), format!("{public}\n").as_bytes())?;
    Ok(key)
}

/// Where the public half of the audit key at `private` is written.
pub fn audit_public_path(private: &Path) -> std::path::PathBuf {
    private.with_extension("pub.json")
}

/// The audit checkpoint key.
pub fn load_audit_key(path: &Path) -> Result<SigningKey, KeyError> {
    load_token_key(path)
}

/// A public audit key (a P-256 JWK, as `zt-broker init` writes it).
pub fn load_audit_public_key(path: &Path) -> Result<EcPublicJwk, KeyError> {
    let invalid = || KeyError::Invalid {
        path: path.display().to_string(),
        what: "P-256 public JWK",
    };
    let text = std::fs::read_to_string(path).map_err(|source| {
        KeyError::File(FileError::Io {
            path: path.to_owned(),
            source,
        })
    })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|_| invalid())?;
    EcPublicJwk::from_value(&value).map_err(|_| invalid())
}

/// The audit checkpoint key, created (0600) if there is none yet; `true`
/// when it was created.
pub fn load_or_create_audit_key(path: &Path) -> Result<(SigningKey, bool), KeyError> {
    match load_audit_key(path) {
        Err(KeyError::Missing(_)) => Ok((create_audit_key(path)?, true)),
        other => other.map(|k| (k, false)),
    }
}

fn load_token_key(path: &Path) -> Result<SigningKey, KeyError> {
    let bytes =
        files::read_secret(path)?.ok_or_else(|| KeyError::Missing(path.display().to_string()))?;
    let invalid = || KeyError::Invalid {
        path: path.display().to_string(),
        what: "PKCS#8 P-256 private key",
    };
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body.trim()).map_err(|_| invalid())?;
    SigningKey::from_pkcs8(&der).map_err(|_| invalid())
}

/// `ssh-ed25519 AAAA… comment` without a trailing newline.
pub fn openssh_public(key: &PublicKey) -> String {
    key.to_openssh().expect("public keys always encode")
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_keys_load_back_and_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let paths = KeyPaths {
            user_ca: dir.path().join("user_ca"),
            host_ca: dir.path().join("host_ca"),
            token_signing: dir.path().join("token_key.pem"),
            audit_signing: dir.path().join("audit_key.pem"),
            additional_host_ca_keys: Vec::new(),
        };
        let made = BrokerKeys::create(&paths).unwrap();
        let loaded = BrokerKeys::load(&paths).unwrap();
        assert_eq!(made.user_ca_public(), loaded.user_ca_public());
        assert_eq!(made.token.thumbprint(), loaded.token.thumbprint());
        assert_ne!(made.user_ca_public(), made.host_ca_public());
        assert!(BrokerKeys::create(&paths).is_err());
        assert_eq!(
            BrokerKeys::load(&paths).unwrap().user_ca_public(),
            made.user_ca_public()
        );
        let (audit, created) = load_or_create_audit_key(&paths.audit_signing).unwrap();
        assert!(!created);
        assert_eq!(
            audit.thumbprint(),
            load_audit_key(&paths.audit_signing).unwrap().thumbprint()
        );
    }

    #[test]
    fn a_rotated_token_key_stays_published_as_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let paths = KeyPaths {
            user_ca: dir.path().join("user_ca"),
            host_ca: dir.path().join("host_ca"),
            token_signing: dir.path().join("token_key.pem"),
            audit_signing: dir.path().join("audit_key.pem"),
            additional_host_ca_keys: Vec::new(),
        };
        let first = BrokerKeys::create(&paths).unwrap().token.thumbprint();
        assert_eq!(BrokerKeys::load(&paths).unwrap().token_publics().count(), 1);
        let (old, new) = rotate_token_key(&paths.token_signing).unwrap();
        assert_eq!(old, first);
        let loaded = BrokerKeys::load(&paths).unwrap();
        let published: Vec<String> = loaded.token_publics().map(|k| k.thumbprint()).collect();
        assert_eq!(published, [new.clone(), first]);
        let (older, newest) = rotate_token_key(&paths.token_signing).unwrap();
        assert_eq!(older, new);
        let published: Vec<String> = BrokerKeys::load(&paths)
            .unwrap()
            .token_publics()
            .map(|k| k.thumbprint())
            .collect();
        assert_eq!(published, [newest, new]);
    }

    #[test]
    fn a_missing_audit_key_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.pem");
        let (first, created) = load_or_create_audit_key(&path).unwrap();
        assert!(created);
        let (again, created) = load_or_create_audit_key(&path).unwrap();
        assert!(!created);
        assert_eq!(first.thumbprint(), again.thumbprint());
        let public = load_audit_public_key(&audit_public_path(&path)).unwrap();
        assert_eq!(&public, first.public_jwk());
    }
}
