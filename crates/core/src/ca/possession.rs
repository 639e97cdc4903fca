//! Proof that the client holds the private half of the key it asks zt to
//! certify: an SSHSIG signature (the format of `ssh-keygen -Y sign`) over a
//! message that binds the request's DPoP `jti` to the exact public key text.
//! Because the `jti` is single-use, a captured proof cannot be replayed.

use super::CaError;
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// SSHSIG namespace for possession proofs. A signature made for any other
/// purpose (git commits, file signing) carries another namespace and is refused.
pub const POSSESSION_NAMESPACE: &str = "zt-possession@zt.dev";

/// Versioned tag at the start of every message, so the format can change
/// without an old signature ever verifying under the new meaning.
const MESSAGE_TAG: &[u8] = b"zt-possession-v1";

/// What the client signs: the tag, the DPoP proof's `jti` and the public key
/// exactly as sent (OpenSSH text), each as an SSH `string` (4-byte big-endian
/// length, then the bytes). Length prefixes make the encoding unambiguous: no
/// choice of `jti` can shift bytes into the key field.
///
/// The key text is not normalised; the broker must pass the very string from
/// the request.
pub fn possession_message(dpop_jti: &str, public_key_openssh: &str) -> Vec<u8> {
    let mut message =
        Vec::with_capacity(12 + MESSAGE_TAG.len() + dpop_jti.len() + public_key_openssh.len());
    for field in [
        MESSAGE_TAG,
        dpop_jti.as_bytes(),
        public_key_openssh.as_bytes(),
    ] {
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        message.extend_from_slice(&len.to_be_bytes());
        message.extend_from_slice(field);
    }
    message
}

/// The context a host signs in place of a DPoP `jti` when it asks for a
/// host certificate: the endpoint (so a proof made for one broker means
/// nothing to another), a single-use nonce and the time it was made. The
/// `zt-host-v1` prefix keeps it apart from any DPoP `jti` a client picks.
pub fn host_possession_context(endpoint: &str, nonce: &str, issued_at: u64) -> String {
    format!("zt-host-v1 {endpoint} {nonce} {issued_at}")
}

/// Signs `message` with `key` under [`POSSESSION_NAMESPACE`] and returns the
/// armored `-----BEGIN SSH SIGNATURE-----` text. SHA-512, as `ssh-keygen -Y sign`.
pub fn sign_possession(key: &PrivateKey, message: &[u8]) -> Result<String, CaError> {
    let signature = key
        .sign(POSSESSION_NAMESPACE, HashAlg::Sha512, message)
        .map_err(CaError::Signing)?;
    signature.to_pem(LineEnding::LF).map_err(CaError::Signing)
}

/// Verifies an armored SSHSIG made by `key` over `message` in
/// [`POSSESSION_NAMESPACE`]. Each failure has its own error so a client bug
/// (wrong key, wrong namespace) is told apart from a forged proof.
pub fn verify_possession(
    key: &PublicKey,
    message: &[u8],
    armored_sig: &str,
) -> Result<(), CaError> {
    let signature = SshSig::from_pem(armored_sig.trim()).map_err(CaError::PossessionEncoding)?;
    if signature.namespace() != POSSESSION_NAMESPACE {
        return Err(CaError::PossessionNamespace {
            found: signature.namespace().escape_debug().to_string(),
        });
    }
    if signature.public_key() != key.key_data() {
        return Err(CaError::PossessionWrongKey);
    }
    key.verify(POSSESSION_NAMESPACE, message, &signature)
        .map_err(|_| CaError::PossessionInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::private::Ed25519Keypair;

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
    }

    fn message_for(key: &PrivateKey, jti: &str) -> Vec<u8> {
        possession_message(jti, &key.public_key().to_openssh().unwrap())
    }

    #[test]
    fn message_layout_is_length_prefixed() {
        let m = possession_message("j", "ssh-ed25519 AAAA");
        let mut expected = Vec::new();
        expected.extend_from_slice(&16u32.to_be_bytes());
        expected.extend_from_slice(b"zt-possession-v1");
        expected.extend_from_slice(&1u32.to_be_bytes());
        expected.extend_from_slice(b"j");
        expected.extend_from_slice(&16u32.to_be_bytes());
        expected.extend_from_slice(b"ssh-ed25519 AAAA");
        assert_eq!(m, expected);
        // Moving bytes between fields changes the message.
        assert_ne!(possession_message("ab", "c"), possession_message("a", "bc"));
    }

    #[test]
    fn signature_verifies() {
        let k = key(1);
        let msg = message_for(&k, "jti-1");
        let armored = sign_possession(&k, &msg).unwrap();
        assert!(
            armored.starts_with("-----BEGIN SSH SIGNATURE-----\n"),
            "{armored}"
        );
        verify_possession(k.public_key(), &msg, &armored).unwrap();
    }

    #[test]
    fn wrong_message_is_refused() {
        let k = key(1);
        let armored = sign_possession(&k, &message_for(&k, "jti-1")).unwrap();
        let err = verify_possession(k.public_key(), &message_for(&k, "jti-2"), &armored);
        assert!(matches!(err, Err(CaError::PossessionInvalid)), "{err:?}");
    }

    #[test]
    fn signature_from_another_key_is_refused() {
        let (k, other) = (key(1), key(2));
        let msg = message_for(&k, "jti-1");
        let armored = sign_possession(&other, &msg).unwrap();
        let err = verify_possession(k.public_key(), &msg, &armored);
        assert!(matches!(err, Err(CaError::PossessionWrongKey)), "{err:?}");
    }

    #[test]
    fn wrong_namespace_is_refused() {
        let k = key(1);
        let msg = message_for(&k, "jti-1");
        let git_sig = k.sign("git", HashAlg::Sha512, &msg).unwrap();
        let armored = git_sig.to_pem(LineEnding::LF).unwrap();
        let err = verify_possession(k.public_key(), &msg, &armored);
        match err {
            Err(CaError::PossessionNamespace { found }) => assert_eq!(found, "git"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_an_encoding_error() {
        let k = key(1);
        let err = verify_possession(k.public_key(), b"m", "not a signature");
        assert!(
            matches!(err, Err(CaError::PossessionEncoding(_))),
            "{err:?}"
        );
    }
}
