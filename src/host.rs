//! A target's side of zt: the files `zt host` owns on it, the sshd drop-in
//! that points sshd at them, and the two broker calls (host certificate,
//! KRL). The text builders are pure; the calls and writes are at the end.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ssh_key::{Certificate, PrivateKey};
use zt_core::host_layout as layout;

use crate::client::error::{BrokerRefusal, Error, Peer};
use zt_core::proto::{self, HostCertificateRequest, HostCertificateResponse};
use zt_core::text::Printable;

/// Where `zt host` keeps what it writes on a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostState {
    /// The broker the host enrolled with.
    pub broker: String,
    /// The host private key (its certificate is `<host_key>-cert.pub`).
    pub host_key: PathBuf,
}

/// The files under zt's directory (default `/etc/ssh/zt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    pub dir: PathBuf,
}

impl HostPaths {
    pub fn state(&self) -> PathBuf {
        self.dir.join(layout::STATE)
    }
    pub fn user_ca_keys(&self) -> PathBuf {
        self.dir.join(layout::USER_CA_KEYS)
    }
    pub fn revoked_keys(&self) -> PathBuf {
        self.dir.join(layout::REVOKED_KEYS)
    }
    pub fn revoked_keys_etag(&self) -> PathBuf {
        self.dir.join(format!("{}.etag", layout::REVOKED_KEYS))
    }
    pub fn principals_dir(&self) -> PathBuf {
        self.dir.join(layout::PRINCIPALS_DIR)
    }
}

/// `<host_key>-cert.pub`, where sshd and ssh-keygen expect it.
pub fn certificate_path(host_key: &Path) -> PathBuf {
    let mut name = host_key.as_os_str().to_owned();
    name.push("-cert.pub");
    PathBuf::from(name)
}

/// The sshd settings zt owns, as one drop-in file.
pub fn sshd_drop_in(paths: &HostPaths, host_key: &Path) -> String {
    format!(
        "# Written by `zt host enroll`; zt rewrites this file, edit elsewhere.\n\
         # Host certificate from the broker's host CA: clients need no trust on first use.\n\
         HostCertificate {cert}\n\
         # Users log in only with certificates from the broker's user CA ...\n\
         TrustedUserCAKeys {ca}\n\
         # ... for the principals listed, one per line, in {principals}/<login>.\n\
         AuthorizedPrincipalsFile {principals}/%u\n\
         # Revoked certificates and keys: the broker's KRL, refreshed by `zt host krl-sync`.\n\
         RevokedKeys {krl}\n",
        cert = certificate_path(host_key).display(),
        ca = paths.user_ca_keys().display(),
        principals = paths.principals_dir().display(),
        krl = paths.revoked_keys().display(),
    )
}

/// Whether a host certificate valid from `valid_after` to `valid_before` is
/// due for renewal at `now`: when less than a third of its life is left.
pub fn renewal_due(valid_after: u64, valid_before: u64, now: u64) -> bool {
    let life = valid_before.saturating_sub(valid_after);
    valid_before.saturating_sub(now) < life / 3
}

/// A KRL starts with this; anything else from the network is refused.
pub fn looks_like_krl(bytes: &[u8]) -> bool {
    bytes.starts_with(zt_core::krl::MAGIC)
}

/// How a host authenticates a certificate request.
pub enum HostAuth<'a> {
    Token(&'a str),
    Certificate(&'a str),
}

/// `POST /v1/hosts/certificates`, proving possession of `host_key`.
pub async fn request_certificate(
    http: &reqwest::Client,
    broker: &str,
    host_key: &PrivateKey,
    auth: HostAuth<'_>,
    principals: Option<Vec<String>>,
) -> Result<HostCertificateResponse, Error> {
    let endpoint = format!("{broker}{}", proto::HOST_CERTIFICATE_PATH);
    let public_key = host_key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::internal(e.to_string()))?;
    let nonce = zt_core::jose::random_id();
    let issued_at = zt_os::clock::unix_now();
    let context = zt_core::ca::host_possession_context(&endpoint, &nonce, issued_at);
    let proof = zt_core::ca::sign_possession(
        host_key,
        &zt_core::ca::possession_message(&context, &public_key),
    )
    .map_err(|e| Error::internal(format!("cannot sign the possession proof: {e}")))?;
    let mut body = HostCertificateRequest {
        public_key,
        possession_proof: proof,
        nonce,
        issued_at,
        principals,
        certificate: None,
    };
    let mut request = http.post(&endpoint);
    match auth {
        HostAuth::Token(token) => request = request.bearer_auth(token),
        HostAuth::Certificate(cert) => body.certificate = Some(cert.to_owned()),
    }
    let response = request
        .json(&body)
        .send()
        .await
        .map_err(|e| Error::unreachable(Peer::Broker, &e))?;
    let answer: HostCertificateResponse = crate::client::broker::read(response).await?;
    // Never install a certificate for another key.
    let cert = Certificate::from_openssh(answer.certificate.trim()).map_err(|e| {
        Error::Protocol(format!(
            "the broker sent a bad certificate: {}",
            Printable(&e.to_string())
        ))
    })?;
    if cert.public_key() != host_key.public_key().key_data() || !cert.cert_type().is_host() {
        return Err(Error::Protocol(
            "the broker sent a certificate that is not a host certificate for this key".into(),
        ));
    }
    for ca in &answer.user_ca_keys {
        crate::client::broker::ca_key(ca).map_err(|e| {
            Error::Protocol(format!(
                "the broker sent a bad user CA key: {}",
                Printable(&e.to_string())
            ))
        })?;
    }
    Ok(answer)
}

/// The KRL, or `None` when it still has ETag `etag` (304).
pub async fn fetch_krl(
    http: &reqwest::Client,
    broker: &str,
    etag: Option<&str>,
) -> Result<Option<(Vec<u8>, Option<String>)>, Error> {
    let url = format!("{broker}{}", proto::KRL_PATH);
    let mut request = http.get(&url);
    if let Some(etag) = etag {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    let response = request
        .send()
        .await
        .map_err(|e| Error::unreachable(Peer::Broker, &e))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    let etag = response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned);
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Error::unreachable(Peer::Broker, &e))?;
    if !status.is_success() {
        return Err(BrokerRefusal::from_answer(status.as_u16(), &bytes).into());
    }
    if !looks_like_krl(&bytes) {
        return Err(Error::Protocol(
            "the broker's answer is not a KRL; RevokedKeys left unchanged".into(),
        ));
    }
    Ok(Some((bytes.to_vec(), etag)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drop_in_names_every_file_zt_owns() {
        let paths = HostPaths {
            dir: "/etc/ssh/zt".into(),
        };
        let text = sshd_drop_in(&paths, Path::new("/etc/ssh/ssh_host_ed25519_key"));
        for line in [
            "HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub",
            "TrustedUserCAKeys /etc/ssh/zt/user_ca_keys.pub",
            "AuthorizedPrincipalsFile /etc/ssh/zt/principals/%u",
            "RevokedKeys /etc/ssh/zt/revoked_keys",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
    }

    #[test]
    fn renewal_is_due_with_a_third_left() {
        assert!(!renewal_due(0, 300, 100));
        assert!(!renewal_due(0, 300, 199));
        assert!(renewal_due(0, 300, 201));
        assert!(renewal_due(0, 300, 400));
    }

    #[test]
    fn only_krls_are_accepted() {
        assert!(looks_like_krl(&zt_core::krl::Krl::default().encode()));
        assert!(!looks_like_krl(b"<html>"));
    }
}
