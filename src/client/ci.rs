//! A CI job's session: the workload token its platform issues, exchanged at the broker for a
//! broker token bound to a device key that lives in memory only, and certificates whose keys
//! go to a private directory that is removed when zt exits. Nothing is stored: no refresh
//! token, no keyring entry, no session file, no agent entry, and no prompt ever.

use std::path::PathBuf;

use ssh_key::{Algorithm, Certificate, LineEnding, PrivateKey};

use super::broker::BrokerClient;
use super::error::Error;
use super::paths::{CERTIFICATE, KEY, KNOWN_HOSTS, PUBLIC_KEY};
use super::session::{CertificateInfo, check_certificate, write_known_hosts};
use super::ssh_args::Identity;
use super::workload::{self, CiOptions, KUBERNETES_TOKEN_PATH, Source};
use crate::posture::{self, RealMachine, Scope};
use zt_core::jose::{self, SigningKey};
use zt_core::proto::{BrokerConfiguration, TokenExchangeResponse};
use zt_core::text::Printable;
use zt_os::private_dir::{Location, PrivateDir};

/// A job logged in at the broker.
pub struct CiLogin {
    broker: BrokerClient,
    pub config: BrokerConfiguration,
    /// The DPoP key: generated for this run, never written anywhere.
    device: SigningKey,
    access_token: String,
    /// Where the workload token came from, in human terms.
    pub source: String,
}

impl std::fmt::Debug for CiLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CiLogin")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Log the job in: find its workload token, ask for one minted for the broker's workload
/// audience, exchange it.
pub async fn login(broker_url: &str, options: &CiOptions) -> Result<CiLogin, Error> {
    let http = super::http::client()?;
    let broker = BrokerClient::new(http.clone(), broker_url)?;
    let config = broker.configuration().await?;
    if config.workload_audience.is_empty() {
        return Err(Error::config_with_hint(
            format!(
                "the broker at {} trusts no workload issuer, so CI jobs cannot log in there",
                Printable(broker_url)
            ),
            "an admin lists the CI system's issuer under [[workload_issuers]] in zt-broker.toml",
        ));
    }
    let source: Source = workload::detect(
        options,
        &workload::process_env,
        std::path::Path::new(KUBERNETES_TOKEN_PATH),
        &config.identity_provider.issuer,
    )?;
    let token = workload::fetch(&http, &source, &config.workload_audience).await?;
    let device = SigningKey::generate()
        .map_err(|e| Error::internal(format!("cannot generate a device key: {e}")))?;
    let access_token = broker
        .exchange_workload(&config, &device, &token.token)
        .await?;
    Ok(CiLogin {
        broker,
        config,
        device,
        access_token,
        source: source.describe(),
    })
}

impl CiLogin {
    /// The job's identity as the broker token says (the broker signed it; zt only reads it
    /// to tell the user who the job is).
    pub fn identity(&self) -> serde_json::Value {
        jose::decode_compact_payload(&self.access_token)
            .map(|claims| {
                serde_json::json!({
                    "issuer": claims.get("idp_iss"),
                    "subject": claims.get("idp_sub"),
                    "claims": claims.get("zt_workload"),
                })
            })
            .unwrap_or(serde_json::Value::Null)
    }

    /// A certificate for a fresh key, installed in `dir` (key, certificate, known_hosts).
    pub async fn certificate(&self, dir: &CiDir) -> Result<CertificateInfo, Error> {
        let key = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519)
            .map_err(|e| Error::internal(format!("cannot generate an SSH key: {e}")))?;
        let report = posture::collect(&RealMachine::this(), &Scope::all());
        let response = self
            .broker
            .certificate(
                &self.config,
                &self.device,
                &self.access_token,
                &key,
                Some(&report),
            )
            .await?;
        let cert = Certificate::from_openssh(&response.certificate).map_err(|e| {
            Error::Protocol(format!(
                "the broker sent an unreadable certificate: {}",
                Printable(&e.to_string())
            ))
        })?;
        check_certificate(&cert, &key, &self.config)?;
        let private = key
            .to_openssh(LineEnding::LF)
            .map_err(|e| Error::internal(e.to_string()))?;
        dir.dir.write_private(KEY, private.as_bytes())?;
        dir.dir.write_private(
            CERTIFICATE,
            format!("{}\n", response.certificate.trim()).as_bytes(),
        )?;
        write_known_hosts(&dir.dir, &self.config)?;
        Ok(CertificateInfo {
            serial: response.serial,
            key_id: response.key_id,
            principals: response.principals,
            valid_after: response.valid_after,
            valid_before: response.valid_before,
            rule: response.rule,
            in_agent: false,
            posture: response.posture,
        })
    }

    /// A short-lived token for another service (`zt token --audience`).
    pub async fn token_for_audience(&self, audience: &str) -> Result<TokenExchangeResponse, Error> {
        self.broker
            .token_for_audience(&self.config, &self.device, &self.access_token, audience)
            .await
    }
}

/// A 0700 directory of the job's own for one run's key and certificate, in
/// `$XDG_RUNTIME_DIR` (a tmpfs) when there is one, else in the temporary directory, under a
/// random name. Dropping it removes its files and itself. (A zt killed outright leaves it
/// behind, holding a certificate that expires within minutes.)
pub struct CiDir {
    dir: PrivateDir,
    path: PathBuf,
}

impl CiDir {
    pub fn create() -> Result<Self, Error> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let mut random = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
        let name = format!("zt-ci-{}", jose::b64(random));
        let location = Location::new(&base, &[name.as_str()]);
        let dir = location.create()?;
        Ok(CiDir {
            path: location.path(),
            dir,
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// `base` with this directory as its runtime directory: where key, certificate and
    /// known_hosts are for ssh and the permission checks.
    pub fn paths(&self, base: &super::paths::Paths) -> super::paths::Paths {
        super::paths::Paths {
            runtime_dir: self.path.clone(),
            ..base.clone()
        }
    }

    /// The identity options ssh gets for this directory's key and certificate.
    pub fn identity(&self) -> Identity {
        Identity::File {
            key: self.path.join(KEY),
            certificate: self.path.join(CERTIFICATE),
            known_hosts: self.path.join(KNOWN_HOSTS),
        }
    }
}

impl Drop for CiDir {
    fn drop(&mut self) {
        for name in [KEY, PUBLIC_KEY, CERTIFICATE, KNOWN_HOSTS] {
            let _ = self.dir.remove(name);
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ci_directory_is_private_and_gone_after_use() {
        let dir = CiDir::create().unwrap();
        let path = dir.path().to_owned();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        dir.dir.write_private(KEY, b"key").unwrap();
        dir.dir.write_private(CERTIFICATE, b"cert").unwrap();
        let Identity::File { key, .. } = dir.identity() else {
            panic!("a CI identity is always files");
        };
        assert_eq!(key, path.join(KEY));
        drop(dir);
        assert!(!path.exists(), "{} is still there", path.display());
    }
}
