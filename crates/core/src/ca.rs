//! The SSH certificate authority, as pure functions: which subject keys are
//! acceptable, the proof that a client holds its key, the canonical key ID,
//! the validity window, and building and signing user and host certificates.
//!
//! Nothing here reads the clock, the disk or a global RNG: `now` and the RNG
//! are parameters, and the CA private key is handed in by the caller.

mod ca_key;
mod certificate;
mod key_id;
mod possession;
mod subject_key;
mod values;

pub use ca_key::CaKey;
pub use certificate::{HostCertSpec, UserCertSpec, sign_host_certificate, sign_user_certificate};
pub use key_id::{KeyIdFields, MAX_KEY_ID_LEN, key_id};
pub use possession::{
    POSSESSION_NAMESPACE, host_possession_context, possession_message, sign_possession,
    verify_possession,
};
pub use subject_key::{MAX_RSA_BITS, MIN_RSA_BITS, SubjectKeyError, check_subject_key};
pub use values::{
    ForceCommandError, MAX_PRINCIPAL_LEN, PrincipalError, SourceAddressError, SourceAddressProblem,
    USER_EXTENSIONS, check_force_command, check_principal, check_source_address,
    is_known_user_extension,
};

use ssh_key::{HashAlg, PublicKey};
use std::time::Duration;

/// How far back `valid_after` is set, so a target whose clock runs a little
/// behind the broker's still accepts a fresh certificate.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Errors from building, signing or proving possession. Each message says
/// what was wrong with the request; none echoes raw control characters.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("certificate serial 0 is reserved; allocate a serial from the store first")]
    ZeroSerial,
    #[error(
        "certificate would never be valid: valid_before ({valid_before}) must be after valid_after ({valid_after})"
    )]
    EmptyValidity { valid_after: u64, valid_before: u64 },
    #[error(
        "certificate valid_before ({valid_before}) is beyond the largest time OpenSSH can represent"
    )]
    ValidityOutOfRange { valid_before: u64 },
    #[error("certificate key ID refused: {0}; build it with ca::key_id")]
    BadKeyId(&'static str),
    #[error(
        "certificate has no principals; zt never issues one because OpenSSH would accept it for every login"
    )]
    NoPrincipals,
    #[error("principal \"{principal}\" refused: {reason}")]
    BadPrincipal {
        principal: String,
        reason: PrincipalError,
    },
    #[error("principal \"{}\" is listed twice", .0.escape_debug())]
    DuplicatePrincipal(String),
    #[error("extension \"{0}\" is not one zt issues; allowed: {allowed}", allowed = USER_EXTENSIONS.join(", "))]
    UnknownExtension(String),
    #[error("force-command refused: {0}")]
    BadForceCommand(ForceCommandError),
    #[error("source-address refused: {0}")]
    BadSourceAddress(SourceAddressError),
    #[error("subject key refused: {0}")]
    SubjectKey(#[from] SubjectKeyError),
    #[error(
        "proof of possession is not an armored SSH signature (-----BEGIN SSH SIGNATURE-----): {0}"
    )]
    PossessionEncoding(#[source] ssh_key::Error),
    #[error(
        "proof of possession was signed for namespace \"{found}\", not \"{POSSESSION_NAMESPACE}\"; sign with -n {POSSESSION_NAMESPACE}"
    )]
    PossessionNamespace { found: String },
    #[error("proof of possession was made with a different key than the one to be certified")]
    PossessionWrongKey,
    #[error("proof of possession does not verify: the signature does not match this request")]
    PossessionInvalid,
    #[error("SSH signing or encoding failed: {0}")]
    Signing(#[source] ssh_key::Error),
}

/// The key's SHA-256 fingerprint as `ssh-keygen -l` prints it: `SHA256:` then
/// unpadded base64.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The certificate validity window for a certificate issued at `now_unix`
/// (seconds): `valid_after = now − 60 s` (clock skew), `valid_before = now + ttl`
/// (whole seconds; a fraction is dropped). Saturates rather than wrapping.
pub fn validity(now_unix: u64, ttl: Duration) -> (u64, u64) {
    (
        now_unix.saturating_sub(CLOCK_SKEW.as_secs()),
        now_unix.saturating_add(ttl.as_secs()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::private::{Ed25519Keypair, PrivateKey};

    #[test]
    fn validity_window() {
        assert_eq!(
            validity(1_700_000_000, Duration::from_secs(3600)),
            (1_699_999_940, 1_700_003_600)
        );
        assert_eq!(validity(30, Duration::from_millis(90_500)), (0, 120));
        assert_eq!(
            validity(u64::MAX - 1, Duration::from_secs(10)),
            (u64::MAX - 61, u64::MAX)
        );
    }

    #[test]
    fn fingerprint_matches_ssh_keygen_format() {
        let key = PrivateKey::from(Ed25519Keypair::from_seed(&[9; 32]));
        let fp = fingerprint(key.public_key());
        assert!(fp.starts_with("SHA256:"), "{fp}");
        assert_eq!(fp.len(), "SHA256:".len() + 43);
        assert!(!fp.ends_with('='));
    }
}
