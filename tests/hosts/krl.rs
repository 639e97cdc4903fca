//! zt's KRL encoder against the real `ssh-keygen -Q`: certificates made by
//! the real `ssh-keygen -s`, revoked by serial, key ID and key fingerprint in
//! a KRL that only zt wrote.

use std::path::Path;
use std::process::Command;

use zt_core::krl::Krl;
use zt_core::revocation::{Revocation, RevocationList, build_krl};

use zt_testkit::process::run_ok;
use zt_testkit::{Peer, require_peers, tempdir};

fn keygen(dir: &Path, name: &str) {
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(dir.join(name)),
    );
}

fn sign(dir: &Path, ca: &str, key: &str, serial: u64, key_id: &str) {
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-s"])
            .arg(dir.join(ca))
            .args(["-I", key_id, "-n", "ops", "-z", &serial.to_string()])
            .arg(dir.join(format!("{key}.pub"))),
    );
}

fn public_blob(dir: &Path, name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    ssh_key::PublicKey::from_openssh(text.trim())
        .unwrap()
        .to_bytes()
        .unwrap()
}

/// `ssh-keygen -Q`: true when the KRL revokes `file`.
pub fn revoked_by(krl: &Path, file: &Path) -> bool {
    let out = Command::new("ssh-keygen")
        .arg("-Q")
        .arg("-f")
        .arg(krl)
        .arg(file)
        .output()
        .expect("run ssh-keygen -Q");
    let stdout = String::from_utf8_lossy(&out.stdout);
    match out.status.code() {
        Some(0) if stdout.contains(": ok") => false,
        Some(1) if stdout.contains("REVOKED") => true,
        _ => panic!(
            "ssh-keygen -Q could not read the KRL: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn ssh_keygen_reads_zts_krl_and_finds_exactly_what_it_revokes() {
    if !require_peers(&[Peer::Sshd]) {
        return;
    }
    let tmp = tempdir();
    let dir = tmp.path();
    keygen(dir, "ca");
    for name in ["a", "b", "c", "d", "plain", "other"] {
        keygen(dir, name);
    }
    sign(dir, "ca", "a", 7, "id-a");
    sign(dir, "ca", "b", 1 << 62, "id-b");
    sign(dir, "ca", "c", 12, "id-c");
    sign(dir, "ca", "d", 13, "id-d");
    let plain_fp = ssh_key::PublicKey::from_openssh(
        std::fs::read_to_string(dir.join("plain.pub"))
            .unwrap()
            .trim(),
    )
    .unwrap()
    .fingerprint(ssh_key::HashAlg::Sha256)
    .to_string();
    let list = RevocationList {
        version: 4,
        updated_at: 1_700_000_000,
        entries: vec![
            Revocation::serial(1 << 62).unwrap(),
            Revocation::key_id("id-c").unwrap(),
            Revocation::key(&plain_fp).unwrap(),
            Revocation::serial(9_999).unwrap(),
        ],
        user_serials: vec![7, 3, 7],
    };
    let krl_path = dir.join("krl");
    std::fs::write(
        &krl_path,
        build_krl(&public_blob(dir, "ca"), &list).encode(),
    )
    .unwrap();

    let cert = |name: &str| dir.join(format!("{name}-cert.pub"));
    assert!(revoked_by(&krl_path, &cert("a")), "a user's serial");
    assert!(revoked_by(&krl_path, &cert("b")), "a large serial");
    assert!(revoked_by(&krl_path, &cert("c")), "a key ID");
    assert!(!revoked_by(&krl_path, &cert("d")), "d is not revoked");
    assert!(
        revoked_by(&krl_path, &dir.join("plain.pub")),
        "a key by fingerprint"
    );
    assert!(!revoked_by(&krl_path, &dir.join("other.pub")), "other key");

    // Another CA's certificate with a revoked serial is not revoked.
    keygen(dir, "ca2");
    keygen(dir, "e");
    sign(dir, "ca2", "e", 7, "id-a");
    assert!(!revoked_by(&krl_path, &cert("e")), "serials are per CA");

    // An empty KRL revokes nothing and is still a KRL.
    std::fs::write(&krl_path, Krl::default().encode()).unwrap();
    assert!(!revoked_by(&krl_path, &cert("a")));
}
