//! `zt ssh-config install`: plain `ssh`, `scp`, `rsync` and `git` against the
//! real sshd with nothing but the user's `~/.ssh/config` (plus the Include
//! zt adds), ControlMaster reuse without the broker, renewal inside
//! `Match exec`, and failing closed without a session.
//!
//! ssh reads `~` from the passwd entry, not `$HOME`, so every ssh here gets
//! `-F <the user's ~/.ssh/config>` explicitly; nothing else is passed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use super::certificates_issued;
use super::fixture::{Broker, POLICY, User};
use zt_testkit::agent::TestAgent;
use zt_testkit::idp::{ALICE, BOB, IdpOptions, TestIdp};
use zt_testkit::process::run_ok;
use zt_testkit::ssh::KeyPair;
use zt_testkit::sshd::{SshdBuilder, TestSshd, current_login};
use zt_testkit::{Peer, REQUIRE_PEERS_ENV, find_in_path, require_peers, tempdir};

const ALIAS: &str = "zt-target";

/// sshd as `super::target`, plus the SFTP subsystem that scp uses.
fn target(broker: &Broker, principals: &[&str]) -> TestSshd {
    let builder = SshdBuilder::new()
        .user_ca(&broker.user_ca())
        .principals(&current_login(), principals)
        .config_line("Subsystem sftp /usr/lib/openssh/sftp-server");
    let cert = broker.sign_host(&builder.host_public_key(), "127.0.0.1");
    builder.host_certificate(&cert).start()
}

/// What a user already has in `~/.ssh/config` (no final newline on purpose).
fn users_own_config(port: u16) -> String {
    format!(
        "# my settings\nHost {ALIAS}\n    HostName 127.0.0.1\n    Port {port}\n    User {}\n\nHost *\n    BatchMode yes\n    ConnectTimeout 10",
        current_login()
    )
}

fn ssh_config_path(user: &User) -> PathBuf {
    user.home.path().join(".ssh/config")
}

fn write_users_config(user: &User, text: &str) {
    let path = ssh_config_path(user);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
}

/// `program args…` with the user's environment, as a person would run it.
fn run(user: &User, program: &str, args: &[&str]) -> Output {
    user.command(program).args(args).output().unwrap()
}

fn ssh(user: &User, args: &[&str]) -> Output {
    let config = ssh_config_path(user);
    let mut full = vec!["-F", config.to_str().unwrap()];
    full.extend_from_slice(args);
    run(user, "ssh", &full)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn accepted_logins(sshd: &TestSshd) -> usize {
    sshd.log().matches("Accepted publickey").count()
}

#[test]
fn plain_ssh_scp_rsync_and_git_use_the_installed_config() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let missing: Vec<&str> = ["git", "rsync", "scp"]
        .into_iter()
        .filter(|tool| find_in_path(tool).is_none())
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "{} not found (apt-get install {0}; .ci/run installs them)",
            missing.join(" ")
        );
        assert!(
            std::env::var(REQUIRE_PEERS_ENV).as_deref() != Ok("1"),
            "{why}, and {REQUIRE_PEERS_ENV}=1 forbids skipping"
        );
        // Same form as zt_testkit::require_peers, so tests/run lists it.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED e2e::ssh_config::plain_ssh_scp_rsync_and_git_use_the_installed_config: {why}"
        );
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    // A runtime directory with a space and a `%`: the config must quote them.
    let scratch = tempdir();
    let runtime = scratch.path().join("run time 100%");
    let user = User::new().with_env("XDG_RUNTIME_DIR", runtime.to_str().unwrap());
    user.login_as(&broker, &idp, ALICE);
    let sshd = target(&broker, &["ops"]);
    let original = users_own_config(sshd.port);
    write_users_config(&user, &original);

    let install = user.run(&["ssh-config", "install", "--hosts", ALIAS, "--json"]);
    assert_eq!(install.code, Some(0), "{install:?}");
    assert_eq!(install.json_lines()[0]["include_added"], true);
    let installed = std::fs::read_to_string(ssh_config_path(&user)).unwrap();
    let zt_dir = user.home.path().join(".ssh/zt");
    let include = format!("Include \"{}/*.conf\"", zt_dir.display());
    assert_eq!(installed.matches("Include").count(), 1, "{installed}");
    assert!(
        installed.lines().nth(1) == Some(include.as_str()),
        "{installed}"
    );
    assert!(
        installed.ends_with(&original),
        "the user's text changed:\n{installed}"
    );
    // Idempotent: a second install (hosts remembered) changes nothing.
    let again = user.run(&["ssh-config", "install"]);
    assert_eq!(again.code, Some(0), "{again:?}");
    assert_eq!(
        std::fs::read_to_string(ssh_config_path(&user)).unwrap(),
        installed
    );

    // ssh
    let out = ssh(&user, &[ALIAS, "id", "-un"]);
    assert!(
        out.status.success(),
        "{}\nsshd:\n{}",
        text(&out.stderr),
        sshd.log()
    );
    assert_eq!(text(&out.stdout).trim(), current_login());
    let serial = zt_testkit::serial(&user.session()["certificate"]["serial"]);
    assert!(
        sshd.log().contains(&format!("serial {serial}")),
        "{}",
        sshd.log()
    );

    // scp, both ways (SFTP protocol, OpenSSH 9's default)
    let work = tempdir();
    let local = work.path().join("up.txt");
    std::fs::write(&local, "uploaded through zt\n").unwrap();
    let remote_dir = tempdir();
    let remote = remote_dir.path().join("remote.txt");
    let config = ssh_config_path(&user);
    let config = config.to_str().unwrap();
    let up = run(
        &user,
        "scp",
        &[
            "-F",
            config,
            local.to_str().unwrap(),
            &format!("{ALIAS}:{}", remote.display()),
        ],
    );
    assert!(up.status.success(), "scp up: {}", text(&up.stderr));
    assert_eq!(
        std::fs::read_to_string(&remote).unwrap(),
        "uploaded through zt\n"
    );
    std::fs::write(&remote, "downloaded through zt\n").unwrap();
    let back = work.path().join("down.txt");
    let down = run(
        &user,
        "scp",
        &[
            "-F",
            config,
            &format!("{ALIAS}:{}", remote.display()),
            back.to_str().unwrap(),
        ],
    );
    assert!(down.status.success(), "scp down: {}", text(&down.stderr));
    assert_eq!(
        std::fs::read_to_string(&back).unwrap(),
        "downloaded through zt\n"
    );

    // rsync -e ssh
    let tree = work.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/file"), "synced").unwrap();
    let dest = remote_dir.path().join("dest");
    let sync = run(
        &user,
        "rsync",
        &[
            "-a",
            "-e",
            &format!("ssh -F '{config}'"),
            &format!("{}/", tree.display()),
            &format!("{ALIAS}:{}/", dest.display()),
        ],
    );
    assert!(sync.status.success(), "rsync: {}", text(&sync.stderr));
    assert_eq!(
        std::fs::read_to_string(dest.join("sub/file")).unwrap(),
        "synced"
    );

    // git clone and push of a bare repository over ssh
    let bare = remote_dir.path().join("repo.git");
    run_ok(
        Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(&bare),
    );
    let clone = work.path().join("clone");
    let git = |args: &[&str], dir: &Path| {
        let out = user
            .command("git")
            .current_dir(dir)
            .env("GIT_SSH_COMMAND", format!("ssh -F '{config}'"))
            .args([
                "-c",
                "user.name=Alice",
                "-c",
                "user.email=alice@example.com",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
        out
    };
    git(
        &[
            "clone",
            "-q",
            &format!("{ALIAS}:{}", bare.display()),
            clone.to_str().unwrap(),
        ],
        work.path(),
    );
    std::fs::write(clone.join("README"), "pushed through zt\n").unwrap();
    git(&["add", "README"], &clone);
    git(&["commit", "-q", "-m", "first"], &clone);
    git(&["push", "-q", "origin", "HEAD"], &clone);
    let log = run_ok(Command::new("git").arg("--git-dir").arg(&bare).args([
        "log",
        "--format=%s",
        "--all",
    ]));
    assert_eq!(text(&log.stdout).trim(), "first");

    // Every connection used the one certificate: no renewals, no other keys.
    assert_eq!(certificates_issued(&broker).len(), 1);

    // uninstall restores the user's file byte for byte.
    let uninstall = user.run(&["ssh-config", "uninstall"]);
    assert_eq!(uninstall.code, Some(0), "{uninstall:?}");
    assert_eq!(
        std::fs::read_to_string(ssh_config_path(&user)).unwrap(),
        original
    );
    assert!(!zt_dir.exists());
}

#[test]
fn a_controlmaster_connection_is_reused_without_the_broker() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let mut broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    user.login_as(&broker, &idp, ALICE);
    let sshd = target(&broker, &["ops"]);
    write_users_config(&user, &users_own_config(sshd.port));
    let install = user.run(&["ssh-config", "install", "--hosts", ALIAS]);
    assert_eq!(install.code, Some(0), "{install:?}");

    let sockets = tempdir();
    let control_path = format!("{}/%C", sockets.path().display());
    let mux = [
        "-o",
        "ControlMaster=auto",
        "-o",
        &format!("ControlPath={control_path}"),
        "-o",
        "ControlPersist=60",
    ];
    let with_mux = |rest: &[&str]| {
        let mut args = mux.to_vec();
        args.extend_from_slice(rest);
        ssh(&user, &args)
    };
    let first = with_mux(&[ALIAS, "true"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(accepted_logins(&sshd), 1, "{}", sshd.log());
    let audit_before = broker.audit().len();

    // No broker at all now: the second use must not need it.
    broker.kill();
    let second = with_mux(&[ALIAS, "id", "-un"]);
    let exit = with_mux(&["-O", "exit", ALIAS]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(text(&second.stdout).trim(), current_login());
    assert_eq!(
        accepted_logins(&sshd),
        1,
        "the second use authenticated again:\n{}",
        sshd.log()
    );
    assert_eq!(broker.audit().len(), audit_before);
    assert!(exit.status.success(), "{}", text(&exit.stderr));
}

#[test]
fn match_exec_renews_an_expiring_certificate_and_the_agent_keeps_one() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let agent = TestAgent::start();
    let user = User::new().with_env("SSH_AUTH_SOCK", agent.socket.to_str().unwrap());
    // bob's rule grants 90 s: less than the 2 minutes the check wants left.
    user.login_as(&broker, &idp, BOB);
    assert_eq!(user.session()["certificate"]["in_agent"], true);
    let first = zt_testkit::serial(&user.session()["certificate"]["serial"]);
    let sshd = target(&broker, &["dev"]);
    write_users_config(&user, &users_own_config(sshd.port));
    let install = user.run(&["ssh-config", "install", "--hosts", ALIAS]);
    assert_eq!(install.code, Some(0), "{install:?}");

    let out = ssh(&user, &[ALIAS, "id", "-un"]);
    assert!(
        out.status.success(),
        "{}\nsshd:\n{}",
        text(&out.stderr),
        sshd.log()
    );
    assert_eq!(text(&out.stdout).trim(), current_login());
    let second = zt_testkit::serial(&user.session()["certificate"]["serial"]);
    assert_ne!(
        first, second,
        "Match exec should have renewed the certificate"
    );
    assert!(
        sshd.log().contains(&format!("serial {second}")),
        "{}",
        sshd.log()
    );
    let certs: Vec<String> = agent
        .list()
        .into_iter()
        .filter(|l| l.contains("-cert-v01@openssh.com"))
        .collect();
    assert_eq!(certs.len(), 1, "{certs:?}");
}

#[test]
fn without_a_session_plain_ssh_fails_closed_and_says_to_log_in() {
    if !require_peers(&[Peer::Idp, Peer::Sshd]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let sshd = target(&broker, &["ops"]);
    // The agent holds another certificate the target would accept.
    let agent = TestAgent::start();
    let keys = tempdir();
    let other = KeyPair::generate(keys.path(), "other");
    let ca = KeyPair {
        private: broker.home().join("user_ca"),
        public: broker.home().join("user_ca.pub"),
    };
    zt_testkit::ssh::sign_user_key(&ca, &other, "not-zt", &["ops"]);
    run_ok(
        Command::new("ssh-add")
            .arg(&other.private)
            .env("SSH_AUTH_SOCK", &agent.socket),
    );
    let user = User::new().with_env("SSH_AUTH_SOCK", agent.socket.to_str().unwrap());
    write_users_config(&user, &users_own_config(sshd.port));
    let install = user.run(&["ssh-config", "install", "--hosts", ALIAS]);
    assert_eq!(install.code, Some(0), "{install:?}");

    let out = ssh(&user, &[ALIAS, "true"]);
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("zt login"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(accepted_logins(&sshd), 0, "{}", sshd.log());

    // Control: the same agent certificate does log in without zt's config.
    let port = sshd.port.to_string();
    let known_hosts = keys.path().join("known_hosts");
    let host_ca = std::fs::read_to_string(broker.home().join("host_ca.pub")).unwrap();
    std::fs::write(&known_hosts, format!("@cert-authority * {host_ca}")).unwrap();
    let control = user
        .command("ssh")
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-p", &port])
        .arg(format!("-oUserKnownHostsFile={}", known_hosts.display()))
        .arg(format!("{}@127.0.0.1", current_login()))
        .arg("true")
        .output()
        .unwrap();
    assert!(control.status.success(), "{}", text(&control.stderr));
    assert!(sshd.wait_for_log("Accepted publickey", Duration::from_secs(5)));
}

#[test]
fn a_symlinked_ssh_config_is_refused_and_left_alone() {
    let user = User::new();
    let elsewhere = tempdir();
    let real = elsewhere.path().join("dotfiles-ssh-config");
    std::fs::write(&real, "Host x\n").unwrap();
    let link = ssh_config_path(&user);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let install = user.run(&["ssh-config", "install", "--hosts", "x"]);
    assert_eq!(install.code, Some(7), "{install:?}");
    assert!(install.stderr.contains("symlink"), "{}", install.stderr);
    assert!(install.stderr.contains("Include \""), "{}", install.stderr);
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "Host x\n");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!user.home.path().join(".ssh/zt/default.conf").exists());

    let no_hosts = User::new().run(&["ssh-config", "install"]);
    assert_eq!(no_hosts.code, Some(2), "{no_hosts:?}");
}
