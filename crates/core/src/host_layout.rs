//! The files zt owns on a target, named once. `zt host enroll|renew|krl-sync` writes them, the
//! sshd drop-in points at them, and every message that mentions one (`zt-broker init`,
//! `zt-broker dev`, the README) prints these same paths.

/// zt's directory on a target (`--zt-dir`).
pub const DIR: &str = "/etc/ssh/zt";
/// The broker's user CA keys: what sshd's `TrustedUserCAKeys` names.
pub const USER_CA_KEYS: &str = "user_ca_keys.pub";
/// The broker's KRL: what sshd's `RevokedKeys` names.
pub const REVOKED_KEYS: &str = "revoked_keys";
/// One file per login listing the principals it accepts (`AuthorizedPrincipalsFile`).
pub const PRINCIPALS_DIR: &str = "principals";
/// The broker URL and host key, for `renew` and `krl-sync`.
pub const STATE: &str = "host.json";
/// The host key enrolment certifies by default (`--host-key`).
pub const HOST_KEY: &str = "/etc/ssh/ssh_host_ed25519_key";
/// Where the sshd drop-in goes (`--sshd-config-dir`), and its name.
pub const SSHD_CONFIG_DIR: &str = "/etc/ssh/sshd_config.d";
pub const DROP_IN: &str = "50-zt.conf";

/// `DIR/USER_CA_KEYS`: the one path to print for `TrustedUserCAKeys`.
pub fn user_ca_keys_path() -> String {
    format!("{DIR}/{USER_CA_KEYS}")
}
