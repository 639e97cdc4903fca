//! Shared support for the integration tests: the real peers (test IdP, sshd), the gate
//! that skips tests when a peer cannot run here, and small process/HTTP helpers.
//!
//! Every helper panics with a message that names the peer and its log on failure: these
//! are test fixtures, and a panic is the clearest report a test can give.

// Not every test uses every helper; later test modules pick what they need.
#![allow(dead_code)]

pub mod agent;
pub mod api;
pub mod bins;
pub mod broker_client;
pub mod dev_idp;
pub mod haproxy;
pub mod hostile_idp;
pub mod http;
pub mod idp;
pub mod kube;
pub mod mounts;
pub mod postgres;
pub mod process;
pub mod rng;
pub mod ssh;
pub mod sshd;
pub mod tls;
pub mod web;
pub mod workload_api;
pub mod workload_issuer;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;

/// The real programs a test needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// panva's oidc-provider under Node (`tests/idp/`); needs `node`, `npm` and, on first
    /// use, `npm ci` to succeed.
    Idp,
    /// Debian's OpenSSH server plus the `ssh` and `ssh-keygen` clients.
    Sshd,
    /// Mounting small file systems (tmpfs, ext4 on a loop device): root or
    /// CAP_SYS_ADMIN, `mount`, `mkfs.ext4`.
    Mounts,
    /// The Linux kernel keyring and its `keyctl` tool (Debian: keyutils).
    Keyring,
    /// A headless browser: Debian's `chromium`.
    Chromium,
    /// Debian's HAProxy, run in the foreground with the project's configuration.
    Haproxy,
    /// Debian's PostgreSQL server programs (`initdb`, `postgres`), run privately per test.
    Postgres,
}

/// Environment variable that turns a missing peer from a skip into a failure (CI sets it).
pub const REQUIRE_PEERS_ENV: &str = "ZT_REQUIRE_PEERS";

/// Checks that `peers` can run here. Returns `true` if the test should go on.
///
/// When a peer is missing it prints `SKIPPED <test>: <why>` to stderr and returns
/// `false`, so the test returns early; with `ZT_REQUIRE_PEERS=1` it panics instead.
///
/// ```ignore
/// if !require_peers(&[Peer::Idp]) { return; }
/// ```
pub fn require_peers(peers: &[Peer]) -> bool {
    let missing: Vec<String> = peers
        .iter()
        .filter_map(|peer| peer_unavailable(*peer))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    let why = missing.join("; ");
    if std::env::var(REQUIRE_PEERS_ENV).is_ok_and(|v| v == "1") {
        panic!("{test}: {why} (and {REQUIRE_PEERS_ENV}=1 forbids skipping)");
    }
    // Straight to the stderr handle: libtest captures `eprintln!` of passing tests, and
    // a skip must stay visible in the plain `cargo test` output.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    false
}

fn peer_unavailable(peer: Peer) -> Option<String> {
    match peer {
        Peer::Idp => {
            let missing: Vec<&str> = ["node", "npm"]
                .into_iter()
                .filter(|p| find_in_path(p).is_none())
                .collect();
            if !missing.is_empty() {
                return Some(format!("{} not found in PATH", missing.join(" and ")));
            }
            idp::ensure_node_modules().err()
        }
        Peer::Sshd => {
            let mut missing: Vec<&str> = ["ssh", "ssh-keygen"]
                .into_iter()
                .filter(|p| find_in_path(p).is_none())
                .collect();
            if !Path::new(sshd::SSHD).is_file() {
                missing.push(sshd::SSHD);
            }
            (!missing.is_empty()).then(|| {
                format!(
                    "{} not found (Debian: apt-get install openssh-server openssh-client)",
                    missing.join(", ")
                )
            })
        }
        Peer::Mounts => mounts::unavailable(),
        Peer::Chromium => find_in_path("chromium")
            .is_none()
            .then(|| "chromium not found (Debian: apt-get install chromium)".to_owned()),
        Peer::Postgres => postgres::unavailable(),
        Peer::Haproxy => haproxy::unavailable(),
        Peer::Keyring => find_in_path("keyctl")
            .is_none()
            .then(|| "keyctl not found (Debian: apt-get install keyutils)".to_owned()),
    }
}

/// The first `name` in `$PATH`, if any.
pub fn find_in_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// Another process may take it before the caller binds it; peers that start on it
/// retry with a new port when the bind fails.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A fresh temporary directory under the system temp dir, removed on drop.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("zt-test-")
        .tempdir()
        .expect("create a temporary directory")
}

/// A serial from zt's JSON: it must be a decimal string (serials exceed 2^53, which JSON
/// numbers cannot carry exactly); panics on a number or anything else.
pub fn serial(value: &serde_json::Value) -> u64 {
    value
        .as_str()
        .and_then(zt_core::proto::decimal::parse)
        .unwrap_or_else(|| panic!("a serial must be a decimal string, got {value}"))
}
