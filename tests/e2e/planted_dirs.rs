//! Issue 12: directories planted on the way to zt's secrets. zt's own directories (`…/zt`,
//! `…/zt/<profile>`, `$TMPDIR/zt-<user>`) must be real directories of the current user with
//! mode 0700; one that is a symlink or someone else's is refused (exit 7, with a hint), and
//! zt reads nothing from it and writes nothing into it — not the session, not the refresh
//! token, not the SSH private key or known_hosts.
//!
//! "Another user" is uid 65534 (nobody): the tests chown to it when they run as root, and
//! otherwise plant the same directories as the current user with mode 0777, which zt must
//! refuse just the same.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::fixture::{Broker, POLICY, Run, User};
use zt_testkit::idp::{ALICE, IdpOptions, TestIdp};
use zt_testkit::{Peer, require_peers, tempdir};

const NOBODY: u32 = 65534;

/// Make `dir` the attacker's: mode 0777 and, as root, owned by nobody.
fn hand_to_attacker(dir: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    if zt_os::files::current_uid() == 0 {
        std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).unwrap();
    }
}

/// Every file and directory under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The attacker's directory, laid out as zt's state: a session naming their broker and a
/// refresh token of theirs.
fn planted_state(root: &Path) -> PathBuf {
    let attacker = root.join("attacker");
    let profile = attacker.join("default");
    std::fs::create_dir_all(profile.join("secrets")).unwrap();
    let session = r#"{"broker":"http://127.0.0.1:9","issuer":"http://127.0.0.1:9","client_id":"zt","subject":"planted"}"#;
    std::fs::write(profile.join("session.json"), session).unwrap();
    std::fs::write(profile.join("secrets/refresh-token"), "planted-token").unwrap();
    for file in ["session.json", "secrets/refresh-token"] {
        std::fs::set_permissions(profile.join(file), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    attacker
}

fn assert_refused(run: &Run, what: &str) {
    assert_eq!(run.code, Some(7), "{what}: {run:?}");
    assert!(
        run.stderr.contains("hint:"),
        "{what}: no hint: {}",
        run.stderr
    );
}

#[test]
fn a_symlinked_state_directory_is_refused_and_nothing_is_read_or_removed_there() {
    let user = User::new();
    let attacker = planted_state(user.home.path());
    let before = listing(&attacker);
    let state = user.home.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    symlink(&attacker, state.join("zt")).unwrap();
    hand_to_attacker(&attacker);

    let status = user.run(&["status", "--json"]);
    assert_refused(&status, "zt status");
    assert!(status.stderr.contains("is a symlink"), "{}", status.stderr);
    assert!(!status.stdout.contains("planted"), "{}", status.stdout);
    let error = status.json_lines().pop().unwrap();
    assert_eq!(error["error"]["code"], "config", "{error}");

    let logout = user.run(&["logout"]);
    assert_refused(&logout, "zt logout");
    assert_eq!(
        listing(&attacker),
        before,
        "zt logout removed planted files"
    );
}

#[test]
fn login_refuses_a_symlinked_state_directory_before_the_prompt() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    let attacker = user.home.path().join("attacker");
    std::fs::create_dir(&attacker).unwrap();
    let state = user.home.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    symlink(&attacker, state.join("zt")).unwrap();
    hand_to_attacker(&attacker);

    let login = login(user.zt(), &broker, &idp);
    assert_refused(&login, "zt login");
    assert!(login.stderr.contains("is a symlink"), "{}", login.stderr);
    assert!(
        !login.stdout.contains("device_authorization"),
        "refused only after the prompt: {login:?}"
    );
    assert_eq!(listing(&attacker), Vec::<String>::new(), "zt wrote into it");
    assert_eq!(certificates_issued(&broker), 0);
}

/// `$TMPDIR` with `zt-alice` made ahead of zt by someone else, mode 0777.
struct PlantedTmp {
    tmp: tempfile::TempDir,
}

impl PlantedTmp {
    fn new() -> PlantedTmp {
        let tmp = tempdir();
        // Like /tmp: everyone may create, nobody may remove another's entries.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let planted = tmp.path().join("zt-alice");
        std::fs::create_dir(&planted).unwrap();
        hand_to_attacker(&planted);
        PlantedTmp { tmp }
    }

    fn planted(&self) -> PathBuf {
        self.tmp.path().join("zt-alice")
    }

    /// `zt` without `XDG_RUNTIME_DIR`, so that its runtime directory is `$TMPDIR/zt-alice`.
    fn zt(&self, user: &User) -> std::process::Command {
        let mut zt = user.zt();
        zt.env_remove("XDG_RUNTIME_DIR")
            .env("TMPDIR", self.tmp.path())
            .env("USER", "alice");
        zt
    }
}

/// How many certificates the broker issued (none while its store was never written).
fn certificates_issued(broker: &Broker) -> usize {
    if super::fixture::on_postgres() {
        // `zt-broker migrate` made the schema before the broker started.
        return super::certificates_issued(broker).len();
    }
    let db = rusqlite::Connection::open(broker.home().join("zt-broker.db")).unwrap();
    let audit: i64 = db
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if audit == 0 {
        return 0;
    }
    super::certificates_issued(broker).len()
}

/// `zt login --json` as [`User::login`] runs it, with `command` as the zt to run.
fn login(mut command: std::process::Command, broker: &Broker, idp: &TestIdp) -> Run {
    let mut child = command
        .args(["login", "--json", "--broker", &broker.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zt login");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    if let Ok(prompt) = serde_json::from_str::<serde_json::Value>(&first) {
        if prompt["event"] == "device_authorization" {
            idp.approve(prompt["user_code"].as_str().unwrap(), ALICE.0, ALICE.1);
        }
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: first + &rest,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn keys_never_go_into_a_tmpdir_directory_someone_else_made() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    let tmp = PlantedTmp::new();

    let run = login(tmp.zt(&user), &broker, &idp);
    assert_refused(&run, "zt login");
    assert!(
        run.stderr.contains("XDG_RUNTIME_DIR"),
        "the hint should say to set XDG_RUNTIME_DIR: {}",
        run.stderr
    );
    assert_eq!(
        listing(&tmp.planted()),
        Vec::<String>::new(),
        "zt wrote into it"
    );
    assert_eq!(certificates_issued(&broker), 0);

    // Logged in with a runtime directory of its own, then run without XDG_RUNTIME_DIR:
    // renewal (ssh's `Match exec` check) refuses the planted directory instead of writing
    // the new key and known_hosts there.
    user.login_as(&broker, &idp, ALICE);
    let out = tmp
        .zt(&user)
        .args(["ssh-config", "check"])
        .output()
        .unwrap();
    let check = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_refused(&check, "zt ssh-config check");
    assert!(check.stderr.contains("XDG_RUNTIME_DIR"), "{}", check.stderr);
    assert_eq!(
        listing(&tmp.planted()),
        Vec::<String>::new(),
        "zt wrote into it"
    );
    assert_eq!(
        certificates_issued(&broker),
        1,
        "no renewal for the planted dir"
    );
}

#[test]
fn zt_makes_its_own_tmpdir_directory_0700_and_uses_it() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let user = User::new();
    let tmp = PlantedTmp::new();
    std::fs::remove_dir(tmp.planted()).unwrap();

    let run = login(tmp.zt(&user), &broker, &idp);
    assert_eq!(run.code, Some(0), "{run:?}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&tmp.planted()), 0o700);
    assert_eq!(mode(&tmp.planted().join("default")), 0o700);
    for file in ["id_ed25519", "id_ed25519-cert.pub", "known_hosts"] {
        assert_eq!(
            mode(&tmp.planted().join("default").join(file)),
            0o600,
            "{file}"
        );
    }
}
