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
