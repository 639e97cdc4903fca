//! A profile's login session: what zt remembers between runs (non-secret
//! facts in `session.json`; secrets in [`super::credentials`]) and the one
//! routine that gets a fresh certificate — used by login and by silent
//! renewal alike.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use ssh_key::{Algorithm, Certificate, LineEnding, PrivateKey};

use super::broker::BrokerClient;
use super::credentials::{DEVICE_KEY, REFRESH_TOKEN, Secrets};
use super::error::Error;
use super::oidc::{Idp, Tokens};
use super::paths::{CERTIFICATE, KEY, KNOWN_HOSTS, PUBLIC_KEY, Paths, SESSION};
use crate::posture::{self, RealMachine, Scope};
use zt_core::jose::{self, SigningKey};
use zt_core::proto::{BrokerConfiguration, ErrorCode, PostureOutcome};
use zt_core::text::Printable;
use zt_os::clock::unix_now;
use zt_os::private_dir::PrivateDir;

/// `zt ssh` renews when less than this is left on the certificate.
pub const RENEW_MARGIN_SECS: u64 = 120;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub broker: String,
    pub issuer: String,
    pub client_id: String,
    pub subject: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub certificate: Option<CertificateInfo>,
    /// The device ID: the thumbprint of the key that signs this profile's DPoP proofs, as the
    /// broker's device registry knows it.
    #[serde(default)]
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateInfo {
    /// A decimal string in session.json (a number in files written before that).
    #[serde(with = "zt_core::proto::decimal")]
    pub serial: u64,
    pub key_id: String,
    pub principals: Vec<String>,
    pub valid_after: u64,
    pub valid_before: u64,
    pub rule: String,
    /// The private key lives in ssh-agent (else in the runtime dir).
    pub in_agent: bool,
    /// The posture requirements the certificate was issued under, re-checked locally before
    /// each connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posture: Option<PostureOutcome>,
}

impl Session {
    pub fn load(paths: &Paths) -> Result<Option<Self>, Error> {
        let Some(state) = paths.existing_state()? else {
            return Ok(None);
        };
        let Some(bytes) = state.read_secret(SESSION)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::config_with_hint(
                format!(
                    "{} is damaged ({})",
                    paths.session_file().display(),
                    Printable(&e.to_string())
                ),
                "run `zt logout` then `zt login`",
            )
        })
    }

    pub fn save(&self, paths: &Paths) -> Result<(), Error> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::internal(e.to_string()))?;
        Ok(paths.state()?.write_private(SESSION, &text)?)
    }

    /// A certificate usable for at least `margin` more seconds, judged
    /// from local files only (no network). A runtime directory zt refuses
    /// holds no usable certificate (renewal then says why).
    pub fn usable_certificate(
        &self,
        paths: &Paths,
        now: u64,
        margin: u64,
    ) -> Option<&CertificateInfo> {
        let cert = self.certificate.as_ref()?;
        let runtime = paths.existing_runtime().ok().flatten()?;
        let fresh = cert.valid_before >= now + margin;
        let key_ok = cert.in_agent || runtime.is_file(KEY);
        (fresh && key_ok && runtime.is_file(CERTIFICATE)).then_some(cert)
    }
}

/// Delete the key and certificate files of a certificate that has expired
/// (when they are files, not agent entries). zt has no daemon, so this runs
/// whenever zt does; `$XDG_RUNTIME_DIR` is a tmpfs that also ends with the
/// login session. Best effort: a failure here never stops the command.
pub fn remove_expired_files(paths: &Paths, now: u64) {
    let Ok(Some(session)) = Session::load(paths) else {
        return;
    };
    let Some(cert) = session.certificate.as_ref() else {
        return;
    };
    if cert.in_agent || cert.valid_before > now {
        return;
    }
    let Ok(Some(runtime)) = paths.existing_runtime() else {
        return;
    };
    for name in [KEY, CERTIFICATE] {
        let _ = runtime.remove(name);
    }
}

/// The certificate zt installed in the runtime directory, if it is there and readable.
pub fn installed_certificate(runtime: &PrivateDir) -> Option<Certificate> {
    let bytes = runtime.read_secret(CERTIFICATE).ok()??;
    Certificate::from_openssh(String::from_utf8_lossy(&bytes).trim()).ok()
}

/// Remove the profile's files (logout): key, certificate, known_hosts, session. Directories
/// zt refuses are reported, not entered.
pub fn remove_files(paths: &Paths) -> Result<(), Error> {
    if let Some(runtime) = paths.existing_runtime()? {
        for name in [KEY, PUBLIC_KEY, CERTIFICATE, KNOWN_HOSTS] {
            runtime.remove(name)?;
        }
    }
    if let Some(state) = paths.existing_state()? {
        state.remove(SESSION)?;
    }
    Ok(())
}

/// What every zt run does first, cheaply: delete expired key files and
/// remove stale zt entries of this profile from the agent (when there is
/// one). Best effort: a failure here never stops the command.
pub fn tidy(paths: &Paths, now: u64) {
    remove_expired_files(paths, now);
    let _ = super::agent::prune(paths, now);
}

/// The device key that DPoP proofs are signed with: created once per
/// profile, kept in the credential store.
pub fn device_key(secrets: &Secrets) -> Result<SigningKey, Error> {
    if let Some(text) = secrets.get(DEVICE_KEY)? {
        if let Some(key) =
            jose::b64_decode(text.trim()).and_then(|der| SigningKey::from_pkcs8(&der).ok())
        {
            return Ok(key);
        }
        eprintln!("zt: the stored device key is unreadable; creating a new one");
    }
    let key = SigningKey::generate()
        .map_err(|e| Error::internal(format!("cannot generate a device key: {e}")))?;
    secrets.set(DEVICE_KEY, &jose::b64(key.pkcs8()))?;
    Ok(key)
}

/// Drop the profile's device key, so that the next [`device_key`] makes a new one.
pub fn forget_device_key(secrets: &Secrets) -> Result<(), Error> {
    secrets.delete(DEVICE_KEY)
}

/// Exchange `id_token` at the broker, then certify a fresh Ed25519 key and
/// install key + certificate (agent, or 0600 files). Returns the facts.
pub async fn obtain_certificate(
    broker: &BrokerClient,
    config: &BrokerConfiguration,
    device: &SigningKey,
    id_token: &str,
    paths: &Paths,
    previous: Option<&CertificateInfo>,
) -> Result<CertificateInfo, Error> {
    // Before the broker issues anything: a runtime directory zt refuses is refused now.
    let runtime = paths.runtime()?;
    let access_token = broker.exchange(config, device, id_token).await?;
    let key = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519)
        .map_err(|e| Error::internal(format!("cannot generate an SSH key: {e}")))?;
    // Collected now, just before the request, so the broker judges the device as it is.
    let report = posture::collect(&RealMachine::this(), &Scope::all());
    let response = broker
        .certificate(config, device, &access_token, &key, Some(&report))
        .await?;
    let cert = Certificate::from_openssh(&response.certificate).map_err(|e| {
        // ssh-key names an unknown algorithm as the certificate spells it.
        Error::Protocol(format!(
            "the broker sent an unreadable certificate: {}",
            Printable(&e.to_string())
        ))
    })?;
    check_certificate(&cert, &key, config)?;
    if previous.is_some_and(|p| p.in_agent) {
        if let Some(old) = installed_certificate(&runtime) {
            let _ = super::agent::remove(&old);
        }
    }
    let in_agent = install(&key, &cert, &response.certificate, paths, &runtime)?;
    write_known_hosts(&runtime, config)?;
    Ok(CertificateInfo {
        serial: response.serial,
        key_id: response.key_id,
        principals: response.principals,
        valid_after: response.valid_after,
        valid_before: response.valid_before,
        rule: response.rule,
        in_agent,
        posture: response.posture,
    })
}

/// Remove the session's certificate: its agent entry, its key and certificate files, and
/// its record in session.json.
pub fn discard_certificate(paths: &Paths, session: &mut Session) -> Result<(), Error> {
    if let Some(runtime) = paths.existing_runtime()? {
        if session.certificate.as_ref().is_some_and(|c| c.in_agent) {
            if let Some(cert) = installed_certificate(&runtime) {
                let _ = super::agent::remove(&cert);
            }
        }
        for name in [KEY, PUBLIC_KEY, CERTIFICATE] {
            runtime.remove(name)?;
        }
    }
    session.certificate = None;
    session.save(paths)
}

/// The broker is trusted to sign, not to sign *anything*: the certificate
/// must be for our key, from the advertised user CA, and a user cert.
pub(crate) fn check_certificate(
    cert: &Certificate,
    key: &PrivateKey,
    config: &BrokerConfiguration,
) -> Result<(), Error> {
    let bad = |why: &str| Error::Protocol(format!("the broker's certificate is unusable: {why}"));
    if cert.public_key() != key.public_key().key_data() {
        return Err(bad("it certifies a different key"));
    }
    if cert.cert_type() != ssh_key::certificate::CertType::User {
        return Err(bad("it is not a user certificate"));
    }
    let ca = ssh_key::PublicKey::from(cert.signature_key().clone())
        .to_openssh()
        .unwrap_or_default();
    if !config.user_ca_keys.iter().any(|k| same_key(k, &ca)) {
        return Err(bad("it is not signed by the broker's advertised user CA"));
    }
    Ok(())
}

fn same_key(a: &str, b: &str) -> bool {
    a.split_whitespace()
        .take(2)
        .eq(b.split_whitespace().take(2))
}

/// Put key and certificate where ssh will find them. Returns whether the
/// private key went to the agent (and so never touched the disk).
fn install(
    key: &PrivateKey,
    cert: &Certificate,
    cert_text: &str,
    paths: &Paths,
    runtime: &PrivateDir,
) -> Result<bool, Error> {
    let lifetime = cert
        .valid_before()
        .saturating_sub(unix_now())
        .min(u64::from(u32::MAX)) as u32;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::internal(e.to_string()))?;
    runtime.write_private(PUBLIC_KEY, format!("{public}\n").as_bytes())?;
    runtime.write_private(CERTIFICATE, format!("{}\n", cert_text.trim()).as_bytes())?;
    let in_agent = super::agent::socket().is_some()
        && super::agent::add(key, cert, lifetime, &super::agent::comment(paths)).is_ok();
    if in_agent {
        runtime.remove(KEY)?;
    } else {
        let text = key
            .to_openssh(LineEnding::LF)
            .map_err(|e| Error::internal(e.to_string()))?;
        runtime.write_private(KEY, text.as_bytes())?;
    }
    super::identity_links::update_in(runtime, in_agent)?;
    Ok(in_agent)
}

pub(crate) fn write_known_hosts(
    runtime: &PrivateDir,
    config: &BrokerConfiguration,
) -> Result<(), Error> {
    let mut text =
        String::from("# Written by zt: hosts are trusted only through the broker's host CA.\n");
    for key in &config.host_ca_keys {
        // Checked by `check_configuration`; re-encoded so nothing but the
        // key itself can reach the file.
        let key = super::broker::ca_key(key).map_err(|e| {
            Error::Protocol(format!(
                "the broker sent a bad host CA key: {}",
                Printable(&e.to_string())
            ))
        })?;
        text.push_str(&format!("@cert-authority * {key}\n"));
    }
    Ok(runtime.write_private(KNOWN_HOSTS, text.as_bytes())?)
}

/// Renew without a prompt: refresh token → ID token → exchange → cert.
pub async fn renew(paths: &Paths, secrets: &Secrets, session: &mut Session) -> Result<(), Error> {
    // Refused before the network, not after the refresh token was spent.
    paths.prepare()?;
    let (broker, config, idp) = connect(&session.broker).await?;
    let device = device_key(secrets)?;
    let previous = session.certificate.as_ref();
    let cert = with_fresh_id_token(&idp, secrets, async |id_token: &str| {
        obtain_certificate(&broker, &config, &device, id_token, paths, previous).await
    })
    .await?;
    session.certificate = Some(cert);
    session.save(paths)
}

/// The broker at `broker_url`, its configuration and its IdP.
pub async fn connect(broker_url: &str) -> Result<(BrokerClient, BrokerConfiguration, Idp), Error> {
    let http = super::http::client()?;
    let broker = BrokerClient::new(http.clone(), broker_url)?;
    let config = broker.configuration().await?;
    let idp = Idp::discover(
        http,
        &config.identity_provider.issuer,
        &config.identity_provider.client_id,
    )
    .await?;
    Ok((broker, config, idp))
}

/// Get a new ID token with the saved refresh token (saving a rotated one)
/// and hand it to `use_token`, typically a broker exchange.
pub async fn with_fresh_id_token<T>(
    idp: &Idp,
    secrets: &Secrets,
    mut use_token: impl AsyncFnMut(&str) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut refresh_token = secrets.get(REFRESH_TOKEN)?.ok_or_else(|| {
        Error::NotLoggedIn("there is no saved session to get a fresh identity from".into())
    })?;
    let mut attempt = 0;
    loop {
        let tokens: Tokens = idp.refresh(&refresh_token).await?;
        if let Some(rotated) = &tokens.refresh_token {
            secrets.set(REFRESH_TOKEN, rotated)?;
            refresh_token = rotated.clone();
        }
        match use_token(&tokens.id_token).await {
            // An IdP may hand out a byte-identical ID token when asked twice
            // within one second (same claims, same iat, no jti), and the
            // broker accepts each ID token once. Ask again a second later.
            Err(e) if attempt == 0 && e.broker_code() == Some(ErrorCode::IdTokenReused) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(1100)).await;
            }
            other => return other,
        }
    }
}

/// A time span for humans: `59m`, `1h 5m`, `expired`.
pub fn remaining(secs: i64) -> String {
    if secs <= 0 {
        return "expired".into();
    }
    let d = Duration::from_secs(secs as u64);
    let (h, m, s) = (d.as_secs() / 3600, d.as_secs() / 60 % 60, d.as_secs() % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zt_os::files;

    fn paths(dir: &std::path::Path) -> Paths {
        Paths {
            config_file: dir.join("config/zt/config.toml"),
            state_dir: dir.join("state/zt/default"),
            runtime_dir: dir.join("run/zt/default"),
        }
    }

    fn session(valid_before: u64, in_agent: bool) -> Session {
        Session {
            broker: "http://127.0.0.1:1".into(),
            issuer: "http://127.0.0.1:2".into(),
            client_id: "zt".into(),
            subject: "s".into(),
            email: None,
            groups: vec![],
            certificate: Some(CertificateInfo {
                serial: 1,
                key_id: "k".into(),
                principals: vec!["ops".into()],
                valid_after: 0,
                valid_before,
                rule: "r".into(),
                in_agent,
                posture: None,
            }),
            device: None,
        }
    }

    fn setup(valid_before: u64, in_agent: bool) -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        session(valid_before, in_agent).save(&paths).unwrap();
        files::write_private(&paths.key_file(), b"key").unwrap();
        files::write_private(&paths.certificate_file(), b"cert").unwrap();
        (dir, paths)
    }

    #[test]
    fn expired_key_files_are_removed_and_live_ones_kept() {
        let (_dir, expired) = setup(100, false);
        remove_expired_files(&expired, 100);
        assert!(!expired.key_file().exists());
        assert!(!expired.certificate_file().exists());

        let (_dir, live) = setup(101, false);
        remove_expired_files(&live, 100);
        assert!(live.key_file().exists());
        assert!(live.certificate_file().exists());
    }

    /// Issue 12: `…/zt` in the state directory is a link to a directory someone else
    /// controls. zt neither reads the session planted there nor writes its own into it.
    #[cfg(unix)]
    #[test]
    fn a_symlinked_state_directory_is_neither_read_nor_written() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let planted = dir.path().join("planted");
        let text = serde_json::to_vec(&session(u64::MAX, false)).unwrap();
        files::write_private(&planted.join("default/session.json"), &text).unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        std::os::unix::fs::symlink(&planted, dir.path().join("state/zt")).unwrap();

        let loaded = Session::load(&paths);
        assert!(
            matches!(loaded, Err(Error::File(_))),
            "the planted session was read: {loaded:?}"
        );
        let mut mine = session(1, false);
        mine.subject = "mine".into();
        assert!(mine.save(&paths).is_err(), "saved through the link");
        let kept = std::fs::read(planted.join("default/session.json")).unwrap();
        assert_eq!(kept, text, "the planted session was replaced");
    }

    /// Issue 12: the runtime directory's `zt` is a link into a directory of the user's
    /// own keys (planted under a shared TMPDIR). Discarding the certificate must not delete
    /// the files it points at.
    #[cfg(unix)]
    #[test]
    fn discarding_a_certificate_never_deletes_through_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let mut session = session(u64::MAX, false);
        session.save(&paths).unwrap();
        let victim = dir.path().join("dot-ssh");
        files::write_private(&victim.join("default/id_ed25519"), b"the user's own key").unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("run/zt")).unwrap();

        let discarded = discard_certificate(&paths, &mut session);
        assert!(discarded.is_err(), "followed the link");
        assert!(
            victim.join("default/id_ed25519").exists(),
            "deleted through the link"
        );
    }
}
