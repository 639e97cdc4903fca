//! Which public keys zt will certify. Only Ed25519, RSA (2048–4096 bits,
//! exponent ≥ 65537) and ECDSA P-256/P-384 are accepted; every other kind is
//! refused with its own reason so the client can tell the user what to change.

use ssh_key::public::{EcdsaPublicKey, KeyData, RsaPublicKey};
use ssh_key::{Algorithm, Mpint, PublicKey};

/// Smallest RSA modulus accepted (NIST SP 800-131A; OpenSSH's own floor is 1024).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted. The `rsa` crate behind ssh-key cannot verify
/// signatures from larger keys, so the possession proof could never succeed;
/// refusing here gives the user a clear reason instead.
pub const MAX_RSA_BITS: usize = 4096;
/// Bounds on the RSA public exponent: small exponents invite well-known
/// attacks, and the `rsa` crate refuses exponents of 2³³ or more.
const MIN_RSA_EXPONENT: u64 = 65537;
const MAX_RSA_EXPONENT: u64 = (1 << 33) - 1;

/// Why a key cannot be certified. Each variant's message says what to use instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectKeyError {
    #[error("DSA keys are not accepted (obsolete, 1024-bit); use an Ed25519 key")]
    Dsa,
    #[error(
        "RSA key has {bits} bits, fewer than the {MIN_RSA_BITS} required; use an Ed25519 key or RSA-3072"
    )]
    RsaTooSmall { bits: usize },
    #[error(
        "RSA key has {bits} bits, more than the {MAX_RSA_BITS} supported; use an Ed25519 key or RSA-3072"
    )]
    RsaTooLarge { bits: usize },
    #[error(
        "RSA public exponent must be odd, at least 65537 and below 2^33; generate a new key with ssh-keygen"
    )]
    RsaBadExponent,
    #[error("ECDSA curve {curve} is not accepted; use an Ed25519 key or ECDSA P-256/P-384")]
    EcdsaCurve { curve: String },
    #[error("ECDSA public key is not a valid point on its curve")]
    EcdsaInvalidPoint,
    #[error(
        "security-key ({algorithm}) keys are not accepted: the certificate is short-lived and held in memory, so use a plain Ed25519 key"
    )]
    SecurityKey { algorithm: String },
    #[error("a certificate was sent where a public key was expected; send the plain public key")]
    Certificate,
    #[error("key algorithm {algorithm} is not accepted; use an Ed25519 key")]
    UnsupportedAlgorithm { algorithm: String },
    #[error(
        "the key is a certificate authority key of this broker and can never be certified; generate a new key"
    )]
    IsCaKey,
}

/// Checks that `key` is a kind zt certifies and is not one of `ca_keys`
/// (comparing key material, not comments).
pub fn check_subject_key(key: &PublicKey, ca_keys: &[PublicKey]) -> Result<(), SubjectKeyError> {
    // First, so a CA key is always reported as such, whatever its algorithm.
    if ca_keys.iter().any(|ca| ca.key_data() == key.key_data()) {
        return Err(SubjectKeyError::IsCaKey);
    }
    match key.key_data() {
        KeyData::Ed25519(_) => Ok(()),
        KeyData::Rsa(rsa) => check_rsa(rsa),
        KeyData::Ecdsa(ecdsa) => check_ecdsa(ecdsa),
        KeyData::Dsa(_) => Err(SubjectKeyError::Dsa),
        KeyData::SkEcdsaSha2NistP256(_) | KeyData::SkEd25519(_) => {
            Err(SubjectKeyError::SecurityKey {
                algorithm: key.algorithm().as_str().to_owned(),
            })
        }
        // `KeyData` is non-exhaustive; opaque and future kinds land here.
        _ => Err(unsupported(&key.algorithm())),
    }
}

fn unsupported(algorithm: &Algorithm) -> SubjectKeyError {
    let name = algorithm.as_str();
    if name.ends_with("-cert-v01@openssh.com") {
        return SubjectKeyError::Certificate;
    }
    if name.starts_with("sk-") {
        return SubjectKeyError::SecurityKey {
            algorithm: name.to_owned(),
        };
    }
    SubjectKeyError::UnsupportedAlgorithm {
        // The name is attacker-chosen text; keep it printable.
        algorithm: name.escape_debug().to_string(),
    }
}

fn check_rsa(key: &RsaPublicKey) -> Result<(), SubjectKeyError> {
    let bits = positive_bits(&key.n).ok_or(SubjectKeyError::RsaTooSmall { bits: 0 })?;
    if bits < MIN_RSA_BITS {
        return Err(SubjectKeyError::RsaTooSmall { bits });
    }
    if bits > MAX_RSA_BITS {
        return Err(SubjectKeyError::RsaTooLarge { bits });
    }
    let e = small_positive(&key.e).ok_or(SubjectKeyError::RsaBadExponent)?;
    if e % 2 == 0 || !(MIN_RSA_EXPONENT..=MAX_RSA_EXPONENT).contains(&e) {
        return Err(SubjectKeyError::RsaBadExponent);
    }
    Ok(())
}

/// Magnitude bytes of a positive integer, without leading zeros; `None` if negative.
fn magnitude(n: &Mpint) -> Option<&[u8]> {
    let bytes = n.as_positive_bytes()?;
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    Some(&bytes[first..])
}

/// Bit length of a positive integer; `None` if negative or zero.
fn positive_bits(n: &Mpint) -> Option<usize> {
    let bytes = magnitude(n)?;
    let top = *bytes.first()?;
    Some((bytes.len() - 1) * 8 + (8 - top.leading_zeros() as usize))
}

/// The value if positive and it fits in a u64.
fn small_positive(n: &Mpint) -> Option<u64> {
    let bytes = magnitude(n)?;
    if bytes.len() > 8 {
        return None;
    }
    Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

fn check_ecdsa(key: &EcdsaPublicKey) -> Result<(), SubjectKeyError> {
    // ssh-key only checks the SEC1 encoding when parsing, not that the point
    // is on the curve; converting to a verifying key does that check.
    let on_curve = match key {
        EcdsaPublicKey::NistP256(_) => p256::ecdsa::VerifyingKey::try_from(key).is_ok(),
        EcdsaPublicKey::NistP384(_) => p384::ecdsa::VerifyingKey::try_from(key).is_ok(),
        EcdsaPublicKey::NistP521(_) => {
            return Err(SubjectKeyError::EcdsaCurve {
                curve: key.curve().as_str().to_owned(),
            });
        }
    };
    if on_curve {
        Ok(())
    } else {
        Err(SubjectKeyError::EcdsaInvalidPoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::private::{Ed25519Keypair, PrivateKey};
    use ssh_key::public::{Ed25519PublicKey, OpaquePublicKey, SkEd25519};
    use ssh_key::{AlgorithmName, EcdsaCurve};

    // Real `ssh-keygen` output (OpenSSH 9.2), generated once for these tests.
    const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDS3AU6yhcTNZMNNlEtRQk+8AqsUzdNLE3YQ/iOEyzzluMv7/zfLgsvzbJp7w9+iKUaekL5eJqVdq+zCmgEEcAmC1OSPzvAPhpe9kaIjJXndK/JJ8MnT8/gWjeJaDAfucQIXPgPQuWmcmKY1clTR4edqiE+Gl4PJsj4p0h+kso/Tw== test@zt";
    const RSA_2048: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDEizAcTcO0mXpQopalXRatMzQriib9kvJNhFCv7TwG896O7Va4sVAtFoOm2lf0mZ+HgnFFRYkVdNQ4CJvb7CoWk5ShRW2lNTTIohhqtoCOp2V5phFpSICsCAZyQaAkjTQxIdJMURBgFp7AHbSGoDAcHk3CZolV4LwEakSnBX0RaAUKzhYq8TUq81oTsQjfG/xlEWhSDcbBDLVY3o7cdMTL4oS4PJZ2MHV50uHiHh9GAWxHN3fPOzdbmFyG0Wdd4ScmotO8+hJ+nwrvc219wSbUFxRml2YiXiwKwq6PibYZax6G8ce8g7CiCF5iEJduNcFnthoPcbyOile6px9QsIID test@zt";
    const DSA: &str = "ssh-dss AAAAB3NzaC1kc3MAAACBALLa5QCcykcr0mZ5ogQPAqjVgRGxo9mcwnLi2M6c65o8mAfX9+1Bd5qiXPT1xhPToHPNqEKRtfMl5+OCQ/7Kyq5ST4kyz6jSPXiM3dnAj4CDLXjgQ/z3okDe6aN8UFiOH4IrNSLqzm3E44z6xfb2SjbDoF9RfssaU/Ti65I/yA/PAAAAFQCD1IWXRZpUeFkJfCt1+UKTM/sjdwAAAIEArZMwL3dTYfmRpwXdshyRA3+lWtvGn70/r2Y6geH0rgXPiJIFxaPfZSRQRDajkSju+Q5vCx9sz3JnhWeNYnViAcXah/c6T7a2kEPFGRKJG1bwtshEmthzMiwQNNV14PfzoMS60YtOHVeu91lwb2QiqtFXnh2BJyMwy0ZCFf0A1hgAAACACVlCrK8h4nLCFI3YQm+WmOG4IY8e3wuIKXDvYk2/9hTNgXCS18v0K0UlHNJCMKDY9Wgq7UraZdkAgeMa2LF2d5R1KXF/6IdAkSDAkQ7dDPOxA7KYCIYl0ZgLYNEozKb9KknM6OQ3BvVpy7z1ZOYjheGLKhu/L9M4NIuVDu/23ak= test@zt";
    const P521: &str = "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAFbBwRyOt/npHrfNSMnRnPmlBE12DlzsCyXUTnd2A/PM7/GwQYd91g+oRhPJaS/cJ/xuzJakG4BgtZ8QucMuQZEOwF4Wcnj9NULy5Mwuql5hRw+6v9zsWj7EsUPEi1vBQIEAgN1fC0SCNuuz4cGfn5+LY1M4LF2OCj1ocpBOURX/D04Ew== test@zt";
    const P256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMUBpGZDY4fYzScpgFMXCvD4RdXYzstNdihf6mHiAadivn3FDO+aMMYIZU6PVTj29AG3xYGzm1wMSrocB5Lwhgg= test@zt";

    fn parse(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).expect("fixture parses")
    }

    fn ed25519(seed: u8) -> PublicKey {
        PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
            .public_key()
            .clone()
    }

    fn check(key: &PublicKey) -> Result<(), SubjectKeyError> {
        check_subject_key(key, &[ed25519(0xCA)])
    }

    fn rsa_with(e: &[u8], n: &[u8]) -> PublicKey {
        let key = RsaPublicKey {
            e: Mpint::from_positive_bytes(e).unwrap(),
            n: Mpint::from_positive_bytes(n).unwrap(),
        };
        PublicKey::new(KeyData::Rsa(key), "")
    }

    #[test]
    fn accepted_kinds() {
        assert_eq!(check(&ed25519(1)), Ok(()));
        assert_eq!(check(&parse(RSA_2048)), Ok(()));
        assert_eq!(check(&parse(P256)), Ok(()));
        let p384 = PrivateKey::random(
            &mut rand_core::OsRng,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP384,
            },
        )
        .unwrap();
        assert_eq!(check(p384.public_key()), Ok(()));
    }

    #[test]
    fn dsa_is_refused() {
        assert_eq!(check(&parse(DSA)), Err(SubjectKeyError::Dsa));
    }

    #[test]
    fn small_rsa_is_refused() {
        assert_eq!(
            check(&parse(RSA_1024)),
            Err(SubjectKeyError::RsaTooSmall { bits: 1024 })
        );
        // 2047 bits: one short of the floor.
        let mut n = vec![0xFF; 256];
        n[0] = 0x7F;
        assert_eq!(
            check(&rsa_with(&[1, 0, 1], &n)),
            Err(SubjectKeyError::RsaTooSmall { bits: 2047 })
        );
    }

    #[test]
    fn huge_rsa_is_refused() {
        let n = vec![0xC5; 8192 / 8];
        assert_eq!(
            check(&rsa_with(&[1, 0, 1], &n)),
            Err(SubjectKeyError::RsaTooLarge { bits: 8192 })
        );
        assert_eq!(check(&rsa_with(&[1, 0, 1], &vec![0xC5; 512])), Ok(()));
    }

    #[test]
    fn bad_rsa_exponents_are_refused() {
        let n = vec![0xC5; 256];
        for e in [
            &[3u8][..],
            &[1, 0, 0],
            &[1, 0, 2],
            &[0xFF, 0xFF],
            &[2, 0, 0, 0, 1],
            &[1; 9],
        ] {
            assert_eq!(
                check(&rsa_with(e, &n)),
                Err(SubjectKeyError::RsaBadExponent),
                "{e:?}"
            );
        }
        assert_eq!(check(&rsa_with(&[1, 0, 0, 0, 1], &n)), Ok(()));
    }

    #[test]
    fn p521_is_refused() {
        assert_eq!(
            check(&parse(P521)),
            Err(SubjectKeyError::EcdsaCurve {
                curve: "nistp521".into()
            })
        );
    }

    #[test]
    fn off_curve_point_is_refused() {
        let mut blob = parse(P256).to_bytes().unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let key = PublicKey::from_bytes(&blob).expect("ssh-key does not check the curve itself");
        assert_eq!(check(&key), Err(SubjectKeyError::EcdsaInvalidPoint));
    }

    #[test]
    fn security_keys_are_refused() {
        let sk = KeyData::SkEd25519(SkEd25519::new(Ed25519PublicKey([7; 32]), "ssh:"));
        assert_eq!(
            check(&PublicKey::new(sk, "")),
            Err(SubjectKeyError::SecurityKey {
                algorithm: "sk-ssh-ed25519@openssh.com".into()
            })
        );
    }

    #[test]
    fn unknown_and_certificate_algorithms_are_refused() {
        let other = |name: &str| {
            let alg = Algorithm::Other(AlgorithmName::new(name).unwrap());
            PublicKey::new(KeyData::Other(OpaquePublicKey::new(vec![1, 2, 3], alg)), "")
        };
        assert_eq!(
            check(&other("ssh-ed25519-cert-v01@openssh.com")),
            Err(SubjectKeyError::Certificate)
        );
        assert_eq!(
            check(&other("ssh-mldsa@example.com")),
            Err(SubjectKeyError::UnsupportedAlgorithm {
                algorithm: "ssh-mldsa@example.com".into()
            })
        );
    }

    #[test]
    fn ca_key_is_refused_whatever_its_comment() {
        let mut ca = ed25519(0xCA);
        ca.set_comment("looks like a user key");
        assert_eq!(check(&ca), Err(SubjectKeyError::IsCaKey));
        let cas = [ed25519(1), ed25519(2)];
        assert_eq!(
            check_subject_key(&ed25519(2), &cas),
            Err(SubjectKeyError::IsCaKey)
        );
    }
}
