//! zt's keyring probe leaves nothing behind in the real kernel keyring (issue 10: where the
//! keyring denied reads, every run left one more `…@zt:probe` key). Each zt run here is inside
//! a fresh session keyring of its own (`keyctl session`), and the test counts the live probe
//! keys the run can see, before and after.

use super::fixture::{User, ZT};
use zt_testkit::{Peer, require_peers};

/// Run `zt logout` (which opens the credential store, so the probe runs) inside a new
/// session keyring whose permissions are `perm` (or the default), and count the live
/// `zt:probe` keys visible in `/proc/keys` before and after it.
fn probe_keys_around_a_run(user: &User, perm: Option<&str>) -> (usize, usize, String) {
    let setperm = perm.map_or(String::new(), |p| {
        format!("keyctl setperm @s {p} >/dev/null; ")
    });
    // Live (not invalidated: flag I) keys whose description names the probe.
    let live = "awk '$2 !~ /I/ && /zt:probe/' /proc/keys | wc -l";
    let script = format!(
        "{setperm}before=$({live}); \"$ZT\" logout >/dev/null 2>&1; after=$({live}); \
         echo \"$before $after\""
    );
    let mut command = user.command("keyctl");
    command
        .args(["session", "-", "sh", "-c", &script])
        .env("ZT", ZT)
        .env_remove("ZT_CREDENTIAL_STORE");
    let out = command.output().expect("run keyctl session");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = text.lines().last().unwrap_or_default().to_owned();
    let mut counts = last
        .split_whitespace()
        .map(|n| n.parse::<usize>().unwrap_or(usize::MAX));
    (
        counts.next().unwrap_or(usize::MAX),
        counts.next().unwrap_or(usize::MAX),
        format!("{text}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn the_keyring_probe_leaves_no_key_in_the_kernel_keyring() {
    if !require_peers(&[Peer::Keyring]) {
        return;
    }
    let user = User::new();
    // A working keyring, and one whose session keyring refuses searches (so the probe's key
    // is added but can be neither read nor found again by name).
    for perm in [None, Some("0x37370000")] {
        for _ in 0..3 {
            let (before, after, out) = probe_keys_around_a_run(&user, perm);
            assert_ne!(before, usize::MAX, "{perm:?}: {out}");
            assert_eq!(
                after, before,
                "{perm:?}: a probe key was left behind: {out}"
            );
        }
    }
}
