//! A CA's private key ready to sign: the OpenSSH key as loaded, and for Ed25519 the signing
//! key in the form the curve arithmetic wants, derived once.
//!
//! ssh-key signs with an `Ed25519Keypair` by turning its seed into an
//! `ed25519_dalek::SigningKey` on every signature: a SHA-512 of the seed and a base-point
//! multiplication (about a third of the signature's cost) that give the same key each time.
//! [`CaKey`] does that once, when the key is loaded, and signs with the result.

use ssh_key::{Algorithm, PrivateKey, PublicKey, Signature, public::KeyData};

/// A CA key to sign certificates with; see the module documentation.
#[derive(Clone)]
pub struct CaKey {
    private: PrivateKey,
    /// The Ed25519 signing key derived from the seed, when the CA is an Ed25519 key.
    ed25519: Option<ed25519_dalek::SigningKey>,
}

impl CaKey {
    /// The key as loaded, and its expanded Ed25519 form when it is one.
    pub fn new(private: PrivateKey) -> CaKey {
        let ed25519 = private
            .key_data()
            .ed25519()
            .map(|pair| ed25519_dalek::SigningKey::from_bytes(&pair.private.to_bytes()));
        CaKey { private, ed25519 }
    }

    pub fn private(&self) -> &PrivateKey {
        &self.private
    }

    pub fn public_key(&self) -> &PublicKey {
        self.private.public_key()
    }
}

impl From<PrivateKey> for CaKey {
    fn from(private: PrivateKey) -> CaKey {
        CaKey::new(private)
    }
}

impl std::fmt::Debug for CaKey {
    /// The public half only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaKey")
            .field("public", &self.public_key().algorithm())
            .field("fingerprint", &super::fingerprint(self.public_key()))
            .finish()
    }
}

impl signature::Signer<Signature> for CaKey {
    fn try_sign(&self, message: &[u8]) -> signature::Result<Signature> {
        match &self.ed25519 {
            Some(key) => Signature::new(Algorithm::Ed25519, key.sign(message).to_bytes().to_vec())
                .map_err(|_| signature::Error::new()),
            None => self.private.try_sign(message),
        }
    }
}

/// What ssh-key's certificate builder writes as the signature key.
impl From<&CaKey> for KeyData {
    fn from(key: &CaKey) -> KeyData {
        key.public_key().key_data().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signature::{Signer, Verifier};
    use ssh_key::private::{Ed25519Keypair, KeypairData};

    #[test]
    fn the_cached_ed25519_key_signs_exactly_as_ssh_key_does() {
        let private = PrivateKey::from(Ed25519Keypair::from_seed(&[7; 32]));
        let ca = CaKey::new(private.clone());
        assert!(ca.ed25519.is_some());
        for message in [&b""[..], b"certificate", &[0xff; 1000]] {
            let ours: Signature = ca.try_sign(message).unwrap();
            let theirs: Signature = private.try_sign(message).unwrap();
            // Ed25519 is deterministic: the same key signs the same bytes the same way.
            assert_eq!(ours, theirs);
            ca.public_key().key_data().verify(message, &ours).unwrap();
        }
        let other = PrivateKey::from(Ed25519Keypair::from_seed(&[8; 32]));
        let signature: Signature = ca.try_sign(b"m").unwrap();
        assert!(
            other
                .public_key()
                .key_data()
                .verify(b"m", &signature)
                .is_err()
        );
    }

    #[test]
    fn a_key_of_another_algorithm_signs_through_ssh_key() {
        let private = PrivateKey::random(
            &mut rand_core::OsRng,
            Algorithm::new("ecdsa-sha2-nistp256").unwrap(),
        )
        .unwrap();
        assert!(matches!(private.key_data(), KeypairData::Ecdsa(_)));
        let ca = CaKey::new(private);
        assert!(ca.ed25519.is_none());
        let signature: Signature = ca.try_sign(b"m").unwrap();
        ca.public_key().key_data().verify(b"m", &signature).unwrap();
    }
}
