//! Building and signing OpenSSH user and host certificates. Every field is
//! checked before ssh-key's builder sees it, so an invalid request (no
//! principals, an empty validity window, serial 0, an unknown extension, a
//! key zt does not certify) fails here instead of producing a certificate.

use super::values::{
    check_force_command, check_principal, check_source_address, is_known_user_extension,
};
use super::{CaError, CaKey, check_subject_key, key_id::MAX_KEY_ID_LEN};
use rand_core::CryptoRngCore;
use ssh_key::certificate::{Builder, CertType};
use ssh_key::{Certificate, PublicKey};
use std::collections::{BTreeSet, HashSet};

/// Nonce length. PROTOCOL.certkeys asks for a random nonce to make chosen-prefix
/// hash collisions impractical; 32 bytes is what OpenSSH itself uses.
const NONCE_LEN: usize = 32;

/// Largest timestamp an OpenSSH certificate can carry (the field is a u64 but
/// ssh-key, like OpenSSH, treats it as a signed time).
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Everything that goes into a user certificate besides the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCertSpec {
    /// Unique per CA; 0 is refused (it is what an unset serial looks like).
    pub serial: u64,
    /// See [`super::key_id`].
    pub key_id: String,
    /// Login names; never empty (an empty list means "any principal").
    pub principals: Vec<String>,
    pub valid_after: u64,
    pub valid_before: u64,
    /// Names from [`super::USER_EXTENSIONS`].
    pub extensions: BTreeSet<String>,
    /// `force-command` critical option, only written when set.
    pub force_command: Option<String>,
    /// `source-address` critical option, only written when set.
    pub source_address: Option<String>,
    /// The value of the non-critical `posture@zt.dev` extension ([`crate::proto::POSTURE_EXTENSION`]):
    /// the device, the posture report's digest and the requirements passed. Written when set.
    pub posture: Option<String>,
}

/// Everything that goes into a host certificate besides the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCertSpec {
    pub serial: u64,
    pub key_id: String,
    /// Host names the certificate is valid for; never empty.
    pub principals: Vec<String>,
    pub valid_after: u64,
    pub valid_before: u64,
}

/// Signs a user certificate for `subject` with `ca`. `rng` supplies the nonce.
///
/// Refuses (before signing) an empty principal list, a bad principal,
/// `valid_before <= valid_after`, serial 0, a key ID over 1024 bytes or with a
/// control character, an extension not in [`super::USER_EXTENSIONS`], a
/// malformed critical option, and a subject key that
/// [`check_subject_key`] refuses (including the CA's own key).
pub fn sign_user_certificate(
    ca: &CaKey,
    subject: &PublicKey,
    spec: &UserCertSpec,
    rng: &mut impl CryptoRngCore,
) -> Result<Certificate, CaError> {
    let common = Common {
        serial: spec.serial,
        key_id: &spec.key_id,
        principals: &spec.principals,
        valid_after: spec.valid_after,
        valid_before: spec.valid_before,
    };
    common.check(ca, subject)?;
    if let Some(unknown) = spec.extensions.iter().find(|e| !is_known_user_extension(e)) {
        return Err(CaError::UnknownExtension(
            unknown.escape_debug().to_string(),
        ));
    }
    if let Some(command) = &spec.force_command {
        check_force_command(command).map_err(CaError::BadForceCommand)?;
    }
    if let Some(list) = &spec.source_address {
        check_source_address(list).map_err(CaError::BadSourceAddress)?;
    }

    let mut builder = common.builder(CertType::User, subject, rng)?;
    // Critical options and extensions are written in name order by ssh-key's
    // map, which is what PROTOCOL.certkeys requires.
    if let Some(command) = &spec.force_command {
        builder
            .critical_option("force-command", command.as_str())
            .map_err(CaError::Signing)?;
    }
    if let Some(list) = &spec.source_address {
        builder
            .critical_option("source-address", list.as_str())
            .map_err(CaError::Signing)?;
    }
    for extension in &spec.extensions {
        builder
            .extension(extension.as_str(), "")
            .map_err(CaError::Signing)?;
    }
    if let Some(posture) = &spec.posture {
        if posture.len() > 1024 || posture.chars().any(char::is_control) {
            return Err(CaError::UnknownExtension(
                posture.escape_debug().to_string(),
            ));
        }
        builder
            .extension(crate::proto::POSTURE_EXTENSION, posture.as_str())
            .map_err(CaError::Signing)?;
    }
    builder.sign(ca).map_err(CaError::Signing)
}

/// Signs a host certificate for `subject` with `ca`. Same checks as
/// [`sign_user_certificate`] where they apply; host certificates carry no
/// extensions or critical options.
pub fn sign_host_certificate(
    ca: &CaKey,
    subject: &PublicKey,
    spec: &HostCertSpec,
    rng: &mut impl CryptoRngCore,
) -> Result<Certificate, CaError> {
    let common = Common {
        serial: spec.serial,
        key_id: &spec.key_id,
        principals: &spec.principals,
        valid_after: spec.valid_after,
        valid_before: spec.valid_before,
    };
    common.check(ca, subject)?;
    let builder = common.builder(CertType::Host, subject, rng)?;
    builder.sign(ca).map_err(CaError::Signing)
}

/// The fields user and host certificates share.
struct Common<'a> {
    serial: u64,
    key_id: &'a str,
    principals: &'a [String],
    valid_after: u64,
    valid_before: u64,
}

impl Common<'_> {
    fn check(&self, ca: &CaKey, subject: &PublicKey) -> Result<(), CaError> {
        if self.serial == 0 {
            return Err(CaError::ZeroSerial);
        }
        if self.valid_before <= self.valid_after {
            return Err(CaError::EmptyValidity {
                valid_after: self.valid_after,
                valid_before: self.valid_before,
            });
        }
        if self.valid_before > MAX_TIMESTAMP {
            return Err(CaError::ValidityOutOfRange {
                valid_before: self.valid_before,
            });
        }
        if self.key_id.is_empty() || self.key_id.len() > MAX_KEY_ID_LEN {
            return Err(CaError::BadKeyId("it must be 1 to 1024 bytes long"));
        }
        if self.key_id.chars().any(char::is_control) {
            return Err(CaError::BadKeyId("it contains a control character"));
        }
        if self.principals.is_empty() {
            return Err(CaError::NoPrincipals);
        }
        let mut seen = HashSet::new();
        for principal in self.principals {
            check_principal(principal).map_err(|reason| CaError::BadPrincipal {
                principal: principal.escape_debug().to_string(),
                reason,
            })?;
            if !seen.insert(principal.as_str()) {
                return Err(CaError::DuplicatePrincipal(principal.clone()));
            }
        }
        // The broker also checks against every CA key it holds; this catches
        // the one case it could forget: certifying the signing key itself.
        check_subject_key(subject, std::slice::from_ref(ca.public_key()))?;
        Ok(())
    }

    fn builder(
        &self,
        cert_type: CertType,
        subject: &PublicKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Builder, CaError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut builder = Builder::new(
            nonce,
            subject.key_data().clone(),
            self.valid_after,
            self.valid_before,
        )
        .map_err(CaError::Signing)?;
        builder.cert_type(cert_type).map_err(CaError::Signing)?;
        builder.serial(self.serial).map_err(CaError::Signing)?;
        builder.key_id(self.key_id).map_err(CaError::Signing)?;
        for principal in self.principals {
            builder
                .valid_principal(principal.as_str())
                .map_err(CaError::Signing)?;
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests;
