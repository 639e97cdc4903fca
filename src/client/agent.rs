//! ssh-agent: zt adds each certificate with its private key and a lifetime
//! equal to the certificate's remaining validity, so the key never touches
//! disk and the agent drops it when the certificate expires; the previous
//! zt entry of the profile is removed when a new one is added.

use std::path::PathBuf;

use ssh_agent_lib::blocking::Client;
use ssh_agent_lib::proto::{
    AddIdentity, AddIdentityConstrained, KeyConstraint, PrivateCredential, PrivateKeyData,
    PublicCredential, RemoveIdentity,
};
use ssh_key::{Certificate, PrivateKey, PublicKey};

use super::paths::Paths;

/// The comment zt gives its agent entries: `zt:<profile>:<hash of the
/// state directory>`, so entries of one profile and one HOME are told
/// apart from everything else in a shared agent.
pub fn comment(paths: &Paths) -> String {
    let profile = paths
        .state_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let digest = zt_core::jose::sha256_b64(paths.state_dir.to_string_lossy().as_bytes());
    format!("zt:{profile}:{}", &digest[..8])
}

/// The comment of entries added by zt versions before [`comment`].
const LEGACY_COMMENT: &str = "zt";

/// Which certificate entries to remove: this profile's entries that have
/// expired or are not `current`, and legacy zt entries that have expired.
/// Everything else in the agent is left alone. Pure.
pub fn stale<'a>(
    entries: &'a [(Certificate, String)],
    ours: &str,
    current: Option<&Certificate>,
    now: u64,
) -> Vec<&'a Certificate> {
    entries
        .iter()
        .filter(|(cert, comment)| {
            let expired = cert.valid_before() <= now;
            if comment == ours {
                expired || current != Some(cert)
            } else {
                comment == LEGACY_COMMENT && expired
            }
        })
        .map(|(cert, _)| cert)
        .collect()
}

/// Remove stale zt entries of this profile (see [`stale`]); returns how
/// many. Agents that honour the lifetime constraint drop expired entries
/// themselves; this covers those that do not, and entries orphaned when a
/// session ended without `zt logout`. Does nothing without an agent.
pub fn prune(paths: &Paths, now: u64) -> Result<usize, String> {
    if socket().is_none() {
        return Ok(0);
    }
    let entries = list_certificates()?;
    let current = std::fs::read_to_string(paths.certificate_file())
        .ok()
        .and_then(|t| Certificate::from_openssh(t.trim()).ok());
    let stale = stale(&entries, &comment(paths), current.as_ref(), now);
    let count = stale.len();
    for cert in stale {
        remove(cert)?;
    }
    Ok(count)
}

/// The certificate entries in the agent, with their comments.
#[cfg(unix)]
fn list_certificates() -> Result<Vec<(Certificate, String)>, String> {
    let mut client = connect()?;
    let identities = client
        .request_identities()
        .map_err(|e| format!("cannot list the agent's keys: {e}"))?;
    Ok(identities
        .into_iter()
        .filter_map(|id| match id.credential {
            PublicCredential::Cert(cert) => Some((*cert, id.comment)),
            PublicCredential::Key(_) => None,
        })
        .collect())
}

#[cfg(not(unix))]
fn list_certificates() -> Result<Vec<(Certificate, String)>, String> {
    Ok(Vec::new())
}

/// The agent socket from `SSH_AUTH_SOCK`, if set and non-empty.
pub fn socket() -> Option<PathBuf> {
    std::env::var_os("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

#[cfg(unix)]
fn connect() -> Result<Client<std::os::unix::net::UnixStream>, String> {
    let path = socket().ok_or("SSH_AUTH_SOCK is not set")?;
    let stream = std::os::unix::net::UnixStream::connect(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    Ok(Client::new(stream))
}

/// Add `key` with `cert`, expiring after `lifetime_secs`.
#[cfg(unix)]
pub fn add(
    key: &PrivateKey,
    cert: &Certificate,
    lifetime_secs: u32,
    comment: &str,
) -> Result<(), String> {
    let mut client = connect()?;
    let credential = PrivateCredential::Cert {
        algorithm: key.algorithm(),
        certificate: Box::new(cert.clone()),
        privkey: match key.key_data() {
            ssh_key::private::KeypairData::Ed25519(pair) => PrivateKeyData::Ed25519(pair.clone()),
            _ => return Err("zt only adds its own Ed25519 keys to the agent".into()),
        },
        comment: comment.to_owned(),
    };
    client
        .add_identity_constrained(AddIdentityConstrained {
            identity: AddIdentity { credential },
            constraints: vec![KeyConstraint::Lifetime(lifetime_secs.max(1))],
        })
        .map_err(|e| format!("the agent refused the key: {e}"))
}

/// Remove the certificate entry for `cert` (and a plain entry for its key).
#[cfg(unix)]
pub fn remove(cert: &Certificate) -> Result<(), String> {
    let mut client = connect()?;
    let _ = client.remove_identity(RemoveIdentity {
        credential: PublicCredential::Cert(Box::new(cert.clone())),
    });
    let key = PublicKey::from(cert.public_key().clone());
    let _ = client.remove_identity(RemoveIdentity {
        credential: PublicCredential::Key(key.key_data().clone()),
    });
    Ok(())
}

#[cfg(not(unix))]
pub fn add(_: &PrivateKey, _: &Certificate, _: u32, _: &str) -> Result<(), String> {
    Err("ssh-agent support is Unix-only for now".into())
}

#[cfg(not(unix))]
pub fn remove(_: &Certificate) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::certificate::Builder;

    fn cert(serial: u64, valid_before: u64) -> Certificate {
        let ca = PrivateKey::random(&mut rand_core::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
        let key = PrivateKey::random(&mut rand_core::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
        let mut builder = Builder::new(
            [0u8; 16],
            key.public_key().key_data().clone(),
            1,
            valid_before,
        )
        .unwrap();
        builder.serial(serial).unwrap();
        builder.valid_principal("ops").unwrap();
        builder.sign(&ca).unwrap()
    }

    #[test]
    fn only_this_profiles_expired_or_superseded_entries_are_stale() {
        let now = 1_000;
        let current = cert(1, 2_000);
        let entries = vec![
            (current.clone(), "zt:default:abc".to_string()),
            (cert(2, 2_000), "zt:default:abc".to_string()), // superseded
            (cert(3, 999), "zt:default:abc".to_string()),   // expired
            (cert(4, 999), "zt".to_string()),               // legacy, expired
            (cert(5, 2_000), "zt".to_string()),             // legacy, live: left alone
            (cert(6, 999), "zt:prod:def".to_string()),      // another profile
            (cert(7, 999), "alice@laptop".to_string()),     // not zt's
        ];
        let serials = |list: Vec<&Certificate>| list.iter().map(|c| c.serial()).collect::<Vec<_>>();
        assert_eq!(
            serials(stale(&entries, "zt:default:abc", Some(&current), now)),
            [2, 3, 4]
        );
        // No current certificate (logged out): every entry of the profile goes.
        assert_eq!(
            serials(stale(&entries, "zt:default:abc", None, now)),
            [1, 2, 3, 4]
        );
    }

    #[test]
    fn the_comment_names_the_profile_and_the_state_directory() {
        let paths = |state: &str| Paths {
            config_file: "/c".into(),
            state_dir: PathBuf::from(state),
            runtime_dir: "/r".into(),
        };
        let a = comment(&paths("/home/a/.local/state/zt/default"));
        let b = comment(&paths("/home/b/.local/state/zt/default"));
        assert!(a.starts_with("zt:default:") && a.len() == "zt:default:".len() + 8);
        assert_ne!(a, b);
    }
}
