//! `zt-broker sign-host`: sign a target's host key with the host CA, so
//! clients verify it through `@cert-authority` instead of trusting on
//! first use. A local admin command; the issue is audited like any other.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use ssh_key::PublicKey;

use crate::keys::BrokerKeys;
use crate::store::Write;
use zt_core::audit::{AuditRecord, CertificateFacts, EventKind, Outcome, Subject};
use zt_core::ca::{self, HostCertSpec};
use zt_os::exit::Failure;
use zt_os::files;

#[derive(Debug, Args)]
pub struct SignHostArgs {
    /// Path of zt-broker.toml
    #[arg(long, env = "ZT_BROKER_CONFIG")]
    pub config: PathBuf,
    /// The host's public key file (e.g. /etc/ssh/ssh_host_ed25519_key.pub)
    pub host_key: PathBuf,
    /// Host names and addresses the certificate is valid for, comma-separated
    #[arg(long, value_delimiter = ',', required = true)]
    pub principals: Vec<String>,
    /// Lifetime (e.g. 30d, 12h)
    #[arg(long, default_value = "30d")]
    pub ttl: String,
    /// Where to write the certificate [default: <host_key without .pub>-cert.pub]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: SignHostArgs) -> Result<(), Failure> {
    let config = super::load_config(&args.config)?;
    let keys = BrokerKeys::load(&config.keys).map_err(|e| Failure::config(e.to_string()))?;
    let ttl = zt_core::policy::parse_duration(&args.ttl)
        .map_err(|e| Failure::config(format!("--ttl: {e}")))?;
    let text = std::fs::read_to_string(&args.host_key)
        .map_err(|e| Failure::config(format!("{}: {e}", args.host_key.display())))?;
    let host_key = PublicKey::from_openssh(text.trim()).map_err(|e| {
        Failure::config(format!(
            "{}: not an OpenSSH public key: {e}",
            args.host_key.display()
        ))
    })?;
    ca::check_subject_key(&host_key, &[keys.user_ca_public(), keys.host_ca_public()])
        .map_err(|e| Failure::config(format!("{}: {e}", args.host_key.display())))?;
    for p in &args.principals {
        if p.is_empty() || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Failure::config(format!(
                "--principals: {p:?} is not a host name"
            )));
        }
    }
    let now = zt_os::clock::unix_now();
    let (valid_after, valid_before) = ca::validity(now, ttl);
    let request_id = zt_core::jose::random_id();
    let spec = HostCertSpec {
        serial: crate::service::random_serial(),
        key_id: format!("zt-host:{}:req={request_id}", args.principals.join(",")),
        principals: args.principals.clone(),
        valid_after,
        valid_before,
    };
    let cert = ca::sign_host_certificate(&keys.host_ca, &host_key, &spec, &mut rand_core::OsRng)
        .map_err(|e| Failure::unexpected(format!("signing failed: {e}")))?;
    let store = Arc::new(super::serve::open_store(&config)?);
    let write = Write {
        once: vec![],
        serial: Some(spec.serial),
        unless_revoked: None,
        changes: vec![],
        device: None,
        audit: AuditRecord {
            time: now,
            kind: EventKind::HostCertificateIssued,
            request_id,
            identity: Some(Subject {
                issuer: "zt-broker".into(),
                subject: "local-admin".into(),
                email: None,
            }),
            client_addr: None,
            device: None,
            rule: None,
            certificate: Some(CertificateFacts {
                serial: spec.serial,
                key_id: spec.key_id.clone(),
                principals: spec.principals.clone(),
                valid_after,
                valid_before,
                key_fingerprint: ca::fingerprint(&host_key),
            }),
            outcome: Some(Outcome::success()),
            revocation: None,
            enrolment: None,
            posture: None,
            audience: None,
            workload: None,
        },
    };
    super::runtime()?
        .block_on(store.commit(write))
        .map_err(|e| {
            Failure::config(format!("could not record the issue; nothing written: {e}"))
                .hint("check the database file named in [store] (space, permissions)")
        })?;
    let out = args.out.unwrap_or_else(|| {
        let name = args.host_key.to_string_lossy();
        PathBuf::from(format!(
            "{}-cert.pub",
            name.strip_suffix(".pub").unwrap_or(&name)
        ))
    });
    let line = cert
        .to_openssh()
        .map_err(|e| Failure::unexpected(e.to_string()))?;
    files::write_public(&out, format!("{line}\n").as_bytes())?;
    zt_os::stdout::println(&out.display().to_string())?;
    eprintln!(
        "Signed host certificate serial {} for {} (valid until {}). In sshd_config: HostCertificate {}",
        spec.serial,
        zt_core::time::rfc3339(valid_before),
        args.principals.join(","),
        out.display()
    );
    Ok(())
}
