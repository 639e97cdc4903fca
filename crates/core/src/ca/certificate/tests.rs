//! Tests for certificate building: field-by-field checks with ssh-key's own
//! validator, refusals, and an interoperability check with the real `ssh-keygen`.

use super::*;
use crate::ca::{KeyIdFields, PrincipalError, SubjectKeyError, fingerprint, key_id, validity};
use rand_core::{CryptoRng, RngCore};
use ssh_key::private::Ed25519Keypair;
use ssh_key::{Fingerprint, HashAlg, PrivateKey};
use std::time::Duration;

/// Deterministic RNG (xorshift64*) so the nonce, and with an Ed25519 CA the
/// whole certificate, is reproducible. Test-only: not cryptographically secure.
struct FixedRng(u64);

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for FixedRng {}

const NOW: u64 = 1_700_000_000;

fn key(seed: u8) -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
}

fn ca() -> CaKey {
    CaKey::new(key(0xCA))
}

fn ca_fp() -> Fingerprint {
    ca().public_key().fingerprint(HashAlg::Sha256)
}

fn user_spec() -> UserCertSpec {
    let (valid_after, valid_before) = validity(NOW, Duration::from_secs(3600));
    UserCertSpec {
        serial: 42,
        key_id: key_id(&KeyIdFields {
            issuer: "https://idp.example",
            subject: "248289761001",
            email: Some("alice@example.com"),
            device: "laptop-1",
            request_id: "req-1",
        }),
        principals: vec!["ops".into(), "deploy".into()],
        valid_after,
        valid_before,
        extensions: ["permit-pty", "permit-port-forwarding"]
            .into_iter()
            .map(String::from)
            .collect(),
        force_command: Some("/usr/local/bin/deploy --env prod".into()),
        source_address: Some("10.0.0.0/8,192.0.2.1".into()),
        posture: None,
    }
}

fn host_spec() -> HostCertSpec {
    HostCertSpec {
        serial: 7,
        key_id: "zt-host:web-1".into(),
        principals: vec!["web-1.example.com".into(), "web-1".into()],
        valid_after: NOW - 60,
        valid_before: NOW + 30 * 86_400,
    }
}

fn sign_user(spec: &UserCertSpec) -> Result<Certificate, CaError> {
    sign_user_certificate(&ca(), key(1).public_key(), spec, &mut FixedRng(7))
}

#[test]
fn user_certificate_has_every_field() {
    let spec = user_spec();
    let cert = sign_user(&spec).unwrap();

    cert.validate_at(NOW, [&ca_fp()]).unwrap();
    assert_eq!(cert.cert_type(), CertType::User);
    assert_eq!(cert.serial(), 42);
    assert_eq!(cert.key_id(), spec.key_id);
    assert_eq!(cert.valid_principals(), ["ops", "deploy"]);
    assert_eq!(cert.valid_after(), NOW - 60);
    assert_eq!(cert.valid_before(), NOW + 3600);
    assert_eq!(cert.public_key(), key(1).public_key().key_data());
    assert_eq!(cert.signature_key(), ca().public_key().key_data());
    assert_eq!(cert.nonce().len(), NONCE_LEN);

    let extensions: Vec<(&str, &str)> = cert
        .extensions()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        extensions,
        [("permit-port-forwarding", ""), ("permit-pty", "")]
    );
    let critical: Vec<(&str, &str)> = cert
        .critical_options()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        critical,
        [
            ("force-command", "/usr/local/bin/deploy --env prod"),
            ("source-address", "10.0.0.0/8,192.0.2.1"),
        ]
    );
}

#[test]
fn validity_bounds_and_trust_are_enforced() {
    let cert = sign_user(&user_spec()).unwrap();
    assert!(cert.validate_at(NOW - 60, [&ca_fp()]).is_ok());
    assert!(cert.validate_at(NOW - 61, [&ca_fp()]).is_err());
    assert!(cert.validate_at(NOW + 3599, [&ca_fp()]).is_ok());
    assert!(cert.validate_at(NOW + 3600, [&ca_fp()]).is_err());
    let stranger = key(0xEE).public_key().fingerprint(HashAlg::Sha256);
    assert!(cert.validate_at(NOW, [&stranger]).is_err());
}

#[test]
fn same_seed_same_certificate() {
    let a = sign_user(&user_spec()).unwrap();
    let b = sign_user(&user_spec()).unwrap();
    assert_eq!(a.to_bytes().unwrap(), b.to_bytes().unwrap());
    let c =
        sign_user_certificate(&ca(), key(1).public_key(), &user_spec(), &mut FixedRng(8)).unwrap();
    assert_ne!(a.nonce(), c.nonce());
}

#[test]
fn the_posture_extension_is_written_when_set_and_checked() {
    let spec = UserCertSpec {
        posture: Some("v=1 dev=abc digest=xyz passed=disk_encryption".into()),
        ..user_spec()
    };
    let cert = sign_user(&spec).unwrap();
    assert_eq!(
        cert.extensions()
            .get(crate::proto::POSTURE_EXTENSION)
            .map(String::as_str),
        Some("v=1 dev=abc digest=xyz passed=disk_encryption")
    );
    assert!(cert.extensions().contains_key("permit-pty"));
    let bad = UserCertSpec {
        posture: Some("line\nbreak".into()),
        ..user_spec()
    };
    assert!(sign_user(&bad).is_err());
}

#[test]
fn critical_options_only_when_set() {
    let spec = UserCertSpec {
        force_command: None,
        source_address: None,
        extensions: BTreeSet::new(),
        ..user_spec()
    };
    let cert = sign_user(&spec).unwrap();
    assert!(cert.critical_options().is_empty());
    assert!(cert.extensions().is_empty());
}

/// Whether an error is the expected variant.
type ErrorCheck = fn(&CaError) -> bool;

#[test]
fn refusals() {
    let cases: Vec<(UserCertSpec, ErrorCheck)> = vec![
        (
            UserCertSpec {
                principals: vec![],
                ..user_spec()
            },
            |e| matches!(e, CaError::NoPrincipals),
        ),
        (
            UserCertSpec {
                serial: 0,
                ..user_spec()
            },
            |e| matches!(e, CaError::ZeroSerial),
        ),
        (
            UserCertSpec {
                valid_before: NOW - 60,
                ..user_spec()
            },
            |e| matches!(e, CaError::EmptyValidity { .. }),
        ),
        (
            UserCertSpec {
                valid_before: NOW - 100,
                ..user_spec()
            },
            |e| matches!(e, CaError::EmptyValidity { .. }),
        ),
        (
            UserCertSpec {
                valid_before: u64::MAX,
                ..user_spec()
            },
            |e| matches!(e, CaError::ValidityOutOfRange { .. }),
        ),
        (
            UserCertSpec {
                principals: vec!["ops".into(), "root,admin".into()],
                ..user_spec()
            },
            |e| {
                matches!(
                    e,
                    CaError::BadPrincipal {
                        reason: PrincipalError::Comma,
                        ..
                    }
                )
            },
        ),
        (
            UserCertSpec {
                principals: vec!["ops".into(), "ops".into()],
                ..user_spec()
            },
            |e| matches!(e, CaError::DuplicatePrincipal(p) if p == "ops"),
        ),
        (
            UserCertSpec {
                extensions: ["no-touch-required".to_string()].into(),
                ..user_spec()
            },
            |e| matches!(e, CaError::UnknownExtension(x) if x == "no-touch-required"),
        ),
        (
            UserCertSpec {
                force_command: Some("a\nb".into()),
                ..user_spec()
            },
            |e| matches!(e, CaError::BadForceCommand(_)),
        ),
        (
            UserCertSpec {
                source_address: Some("10.0.0.1/8".into()),
                ..user_spec()
            },
            |e| matches!(e, CaError::BadSourceAddress(_)),
        ),
        (
            UserCertSpec {
                key_id: String::new(),
                ..user_spec()
            },
            |e| matches!(e, CaError::BadKeyId(_)),
        ),
        (
            UserCertSpec {
                key_id: "a\nb".into(),
                ..user_spec()
            },
            |e| matches!(e, CaError::BadKeyId(_)),
        ),
        (
            UserCertSpec {
                key_id: "k".repeat(1025),
                ..user_spec()
            },
            |e| matches!(e, CaError::BadKeyId(_)),
        ),
    ];
    for (spec, expected) in cases {
        let err = sign_user(&spec).expect_err("must be refused");
        assert!(expected(&err), "{spec:?} gave {err:?}");
    }
}

#[test]
fn ca_key_is_never_certified() {
    let err = sign_user_certificate(&ca(), ca().public_key(), &user_spec(), &mut FixedRng(1))
        .unwrap_err();
    assert!(
        matches!(err, CaError::SubjectKey(SubjectKeyError::IsCaKey)),
        "{err:?}"
    );
    let err = sign_host_certificate(&ca(), ca().public_key(), &host_spec(), &mut FixedRng(1))
        .unwrap_err();
    assert!(
        matches!(err, CaError::SubjectKey(SubjectKeyError::IsCaKey)),
        "{err:?}"
    );
}

#[test]
fn host_certificate() {
    let spec = host_spec();
    let cert = sign_host_certificate(&ca(), key(2).public_key(), &spec, &mut FixedRng(3)).unwrap();
    cert.validate_at(NOW, [&ca_fp()]).unwrap();
    assert_eq!(cert.cert_type(), CertType::Host);
    assert_eq!(cert.serial(), 7);
    assert_eq!(cert.key_id(), "zt-host:web-1");
    assert_eq!(cert.valid_principals(), ["web-1.example.com", "web-1"]);
    assert_eq!(cert.valid_after(), NOW - 60);
    assert_eq!(cert.valid_before(), NOW + 30 * 86_400);
    assert!(cert.extensions().is_empty());
    assert!(cert.critical_options().is_empty());

    let empty = HostCertSpec {
        principals: vec![],
        ..host_spec()
    };
    let err = sign_host_certificate(&ca(), key(2).public_key(), &empty, &mut FixedRng(3));
    assert!(matches!(err, Err(CaError::NoPrincipals)), "{err:?}");
}

/// Runs `ssh-keygen -L` on a certificate zt signed: the real OpenSSH parser
/// must accept it and list the fields we put in. Skipped without ssh-keygen.
#[test]
fn ssh_keygen_lists_the_certificate() {
    let Ok(probe) = std::process::Command::new("ssh-keygen").arg("-?").output() else {
        eprintln!("skipping ssh_keygen_lists_the_certificate: ssh-keygen not found");
        return;
    };
    drop(probe);

    let dir = tempfile::Builder::new()
        .prefix("zt-ca-test-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    let spec = user_spec();
    let cert = sign_user(&spec).unwrap();
    let cert_path = dir.path().join("id-cert.pub");
    let ca_path = dir.path().join("ca.pub");
    std::fs::write(&cert_path, cert.to_openssh().unwrap()).unwrap();
    std::fs::write(&ca_path, ca().public_key().to_openssh().unwrap()).unwrap();

    let output = std::process::Command::new("ssh-keygen")
        .arg("-L")
        .arg("-f")
        .arg(&cert_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );

    assert!(
        text.contains("ssh-ed25519-cert-v01@openssh.com user certificate"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Key ID: \"{}\"", spec.key_id)),
        "{text}"
    );
    assert!(text.contains("Serial: 42"), "{text}");
    assert!(
        text.contains(&format!(
            "Signing CA: ED25519 {}",
            fingerprint(ca().public_key())
        )),
        "{text}"
    );
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for expected in [
        "ops",
        "deploy",
        "permit-pty",
        "permit-port-forwarding",
        "force-command /usr/local/bin/deploy --env prod",
        "source-address 10.0.0.0/8,192.0.2.1",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
    }
    assert!(!lines.contains(&"permit-X11-forwarding"), "{text}");

    // The CA public key we wrote is the one ssh-keygen reports as signer.
    let ca_fp = std::process::Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(&ca_path)
        .output()
        .unwrap();
    let ca_line = String::from_utf8_lossy(&ca_fp.stdout);
    assert!(
        ca_line.contains(&fingerprint(ca().public_key())),
        "{ca_line}"
    );
    dir.close().unwrap();
}
