//! `zt ssh [ssh options] -- DESTINATION [command…]`: the argument after `--` is always the
//! destination. With a valid certificate in place, so that zt would go on to run ssh, a
//! "destination" that is an ssh option is refused before ssh starts; without `--` the same
//! argument is an option, as plain ssh reads it, and zt warns.

use std::os::unix::fs::PermissionsExt;

use super::fixture::{Broker, POLICY, User};
use zt_testkit::idp::{ALICE, IdpOptions, TestIdp};
use zt_testkit::{Peer, require_peers};

#[test]
fn an_option_after_double_dash_is_refused_and_ssh_never_runs() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    user.login_as(&broker, &idp, ALICE);

    // The real ssh, behind a script that records that it was started, and with what.
    let dir = user.home.path();
    let started = dir.join("ssh-started");
    let ssh = dir.join("recording-ssh");
    std::fs::write(
        &ssh,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nexec ssh \"$@\"\n",
            started.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o700)).unwrap();
    let ran = dir.join("proxy-command-ran");
    let hostile = format!("-oProxyCommand=touch {}", ran.display());
    let zt_ssh = |args: &[&str]| {
        user.zt()
            .env("ZT_SSH_PROGRAM", &ssh)
            .arg("ssh")
            .args(args)
            .output()
            .unwrap()
    };

    // `zt ssh -- "$HOST" true`, HOST a ProxyCommand: a usage error, and nothing runs.
    let refused = zt_ssh(&["--", &hostile, "true"]);
    assert!(!ran.exists(), "ssh ran the ProxyCommand: {refused:?}");
    assert!(
        !started.exists(),
        "ssh was started with:\n{}",
        std::fs::read_to_string(&started).unwrap_or_default()
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        stderr.contains("starts with '-' (ssh would read it as an option)"),
        "{stderr}"
    );
    // The same after other options: `zt ssh -F /dev/null -- "$HOST" true`.
    let refused = zt_ssh(&["-F", "/dev/null", "--", &hostile, "true"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(!started.exists() && !ran.exists());

    // Control: without `--` the argument is an option, as plain ssh reads it. zt warns, and
    // the real ssh does run the command (the check above would have seen it).
    let option = zt_ssh(&["-F", "/dev/null", "-o", "BatchMode=yes", &hostile, "true"]);
    let stderr = String::from_utf8_lossy(&option.stderr);
    assert!(
        stderr.contains(&format!(
            "zt: warning: ssh option \"{hostile}\" runs a program on this machine"
        )),
        "{option:?}"
    );
    assert_eq!(
        stderr.matches("zt: warning:").count(),
        1,
        "one line per option: {stderr}"
    );
    let argv = std::fs::read_to_string(&started).unwrap();
    assert!(argv.ends_with(&format!("{hostile}\n--\ntrue\n")), "{argv}");
    assert!(ran.exists(), "ssh did not run the ProxyCommand: {option:?}");
}
