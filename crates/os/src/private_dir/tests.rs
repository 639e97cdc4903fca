//! Issue 12: a planted directory on the way to a secret is refused, never followed, never
//! "fixed". Tests that need a second user chown to `nobody` (65534), which needs root; they
//! say so and pass without checking anything when not run as root.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::*;
use crate::files::DirProblem;

const NOBODY: u32 = 65534;

/// A uid that is not ours to chown to, when the tests run as root.
pub(crate) fn other_uid() -> Option<u32> {
    if crate::files::current_uid() == 0 {
        Some(NOBODY)
    } else {
        let test = std::thread::current().name().unwrap_or("?").to_owned();
        eprintln!("skipped {test}: needs root to chown a file to another user");
        None
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn state(base: &Path) -> Location {
    Location::new(base, &["zt", "default"])
}

/// A directory "the attacker" controls, holding what zt would read.
fn attacker_dir(root: &Path) -> PathBuf {
    let dir = root.join("attacker");
    fs::create_dir_all(dir.join("default")).unwrap();
    fs::write(dir.join("default/session.json"), b"{\"planted\":true}").unwrap();
    fs::set_permissions(
        dir.join("default/session.json"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    dir
}

fn problem(result: Result<impl std::fmt::Debug, FileError>) -> (PathBuf, DirProblem) {
    match result {
        Err(FileError::UnsafeDir { path, problem }) => (path, problem),
        other => panic!("expected an unsafe directory, got {other:?}"),
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn zt_directories_are_created_0700_and_files_0600_without_leftovers() {
    let root = tempfile::tempdir().unwrap();
    let base = root.path().join("state");
    let location = state(&base);
    assert!(
        location.open().unwrap().is_none(),
        "absent: nothing to read"
    );
    assert!(!base.exists(), "opening for reading creates nothing");

    let dir = location.create().unwrap();
    assert_eq!(dir.path(), base.join("zt/default"));
    assert_eq!(mode(&base.join("zt")), 0o700);
    assert_eq!(mode(&base.join("zt/default")), 0o700);
    dir.write_private("session.json", b"one").unwrap();
    dir.write_private("session.json", b"two").unwrap();
    assert_eq!(dir.read_secret("session.json").unwrap().unwrap(), b"two");
    assert_eq!(mode(&base.join("zt/default/session.json")), 0o600);
    assert!(dir.is_file("session.json") && !dir.is_file("absent"));
    assert_eq!(entries(dir.path()), ["session.json"]);

    let again = location.open().unwrap().expect("now it exists");
    assert_eq!(again.read_secret("session.json").unwrap().unwrap(), b"two");
    dir.remove("session.json").unwrap();
    dir.remove("session.json").unwrap();
    assert!(again.read_secret("session.json").unwrap().is_none());
}

#[test]
fn a_symlinked_zt_directory_is_refused_and_nothing_is_read_or_written_there() {
    let root = tempfile::tempdir().unwrap();
    let attacker = attacker_dir(root.path());
    let base = root.path().join("state");
    fs::create_dir(&base).unwrap();
    symlink(&attacker, base.join("zt")).unwrap();

    let (path, why) = problem(state(&base).open());
    assert_eq!((path, why), (base.join("zt"), DirProblem::Symlink));
    let (_, why) = problem(state(&base).create());
    assert_eq!(why, DirProblem::Symlink);
    assert_eq!(entries(&attacker), ["default"]);
    assert_eq!(entries(&attacker.join("default")), ["session.json"]);
}

#[test]
fn a_symlinked_profile_directory_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let attacker = attacker_dir(root.path());
    let base = root.path().join("state");
    state(&base).create().unwrap();
    fs::remove_dir(base.join("zt/default")).unwrap();
    symlink(attacker.join("default"), base.join("zt/default")).unwrap();

    let (path, why) = problem(state(&base).open());
    assert_eq!((path, why), (base.join("zt/default"), DirProblem::Symlink));
    let (_, why) = problem(state(&base).create());
    assert_eq!(why, DirProblem::Symlink);
    assert_eq!(entries(&attacker.join("default")), ["session.json"]);
}

#[test]
fn a_file_where_zt_directory_should_be_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let base = root.path().join("state");
    fs::create_dir(&base).unwrap();
    fs::write(base.join("zt"), b"").unwrap();
    let (_, why) = problem(state(&base).create());
    assert_eq!(why, DirProblem::NotADirectory);
}

#[test]
fn a_directory_open_to_others_is_refused_and_left_as_it_is() {
    let root = tempfile::tempdir().unwrap();
    let base = root.path().join("state");
    let dir = state(&base).create().unwrap();
    dir.write_private("session.json", b"x").unwrap();
    fs::set_permissions(base.join("zt"), fs::Permissions::from_mode(0o755)).unwrap();

    let (path, why) = problem(state(&base).open());
    assert_eq!((path, why), (base.join("zt"), DirProblem::Mode(0o755)));
    let (_, why) = problem(state(&base).create());
    assert_eq!(why, DirProblem::Mode(0o755));
    assert_eq!(mode(&base.join("zt")), 0o755, "zt never chmods on its own");

    // Group access alone is enough to refuse, for the profile directory too.
    fs::set_permissions(base.join("zt"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(base.join("zt/default"), fs::Permissions::from_mode(0o750)).unwrap();
    let (path, why) = problem(state(&base).open());
    assert_eq!(
        (path, why),
        (base.join("zt/default"), DirProblem::Mode(0o750))
    );
}

#[test]
fn a_directory_another_user_owns_is_refused() {
    let Some(other) = other_uid() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let base = root.path().join("run");
    state(&base).create().unwrap();
    std::os::unix::fs::chown(base.join("zt/default"), Some(other), Some(other)).unwrap();
    let (path, why) = problem(state(&base).create());
    assert_eq!(path, base.join("zt/default"));
    assert_eq!(
        why,
        DirProblem::Owner {
            owner: other,
            me: 0
        }
    );

    // Made by the other user with mode 0777, as in /tmp/zt-USER planted ahead of zt.
    let planted = root.path().join("tmp");
    fs::create_dir(&planted).unwrap();
    fs::set_permissions(&planted, fs::Permissions::from_mode(0o1777)).unwrap();
    fs::create_dir(planted.join("zt-alice")).unwrap();
    fs::set_permissions(planted.join("zt-alice"), fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::chown(planted.join("zt-alice"), Some(other), Some(other)).unwrap();
    let location = Location::new(&planted, &["zt-alice", "default"]);
    let (_, why) = problem(location.create());
    assert_eq!(
        why,
        DirProblem::Owner {
            owner: other,
            me: 0
        }
    );
    assert!(
        entries(&planted.join("zt-alice")).is_empty(),
        "nothing made inside"
    );
}

#[test]
fn a_secret_another_user_owns_is_refused() {
    let Some(other) = other_uid() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let dir = state(root.path()).create().unwrap();
    dir.write_private("refresh-token", b"planted").unwrap();
    std::os::unix::fs::chown(dir.path().join("refresh-token"), Some(other), None).unwrap();
    match dir.read_secret("refresh-token") {
        Err(FileError::NotYours { owner, me, .. }) => assert_eq!((owner, me), (other, 0)),
        other => panic!("a planted secret was accepted: {other:?}"),
    }
}

#[test]
fn secret_files_that_are_links_or_open_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = state(&root.path().join("state")).create().unwrap();
    let elsewhere = root.path().join("elsewhere");
    fs::write(&elsewhere, b"target").unwrap();
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o600)).unwrap();
    symlink(&elsewhere, dir.path().join("device-key")).unwrap();
    assert!(matches!(
        dir.read_secret("device-key"),
        Err(FileError::Symlink(_))
    ));
    assert!(matches!(
        dir.lock_file("device-key"),
        Err(FileError::Symlink(_))
    ));
    // Removing the link removes the link, and writing replaces it: the target stays.
    dir.write_private("device-key", b"mine").unwrap();
    assert_eq!(fs::read(&elsewhere).unwrap(), b"target");
    dir.remove("device-key").unwrap();
    assert!(elsewhere.exists());

    dir.write_private("session.json", b"x").unwrap();
    fs::set_permissions(
        dir.path().join("session.json"),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    assert!(matches!(
        dir.read_secret("session.json"),
        Err(FileError::TooOpen { mode: 0o640, .. })
    ));
}

#[test]
fn the_base_may_be_a_symlink_but_not_open_to_everyone() {
    let root = tempfile::tempdir().unwrap();
    let real = root.path().join("real-home");
    fs::create_dir(&real).unwrap();
    let linked = root.path().join("home");
    symlink(&real, &linked).unwrap();
    state(&linked)
        .create()
        .unwrap()
        .write_private("s", b"x")
        .unwrap();
    assert!(
        real.join("zt/default/s").exists(),
        "a symlinked base is the user's choice"
    );

    let shared = root.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let (path, why) = problem(state(&shared).create());
    assert_eq!(
        (path, why),
        (shared.clone(), DirProblem::BaseWorldWritable(0o777))
    );
    assert!(entries(&shared).is_empty());
    // Sticky, like /tmp: nobody else can rename or remove zt's directory in it.
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    state(&shared).create().unwrap();
}

#[test]
fn a_base_another_user_owns_is_refused() {
    let Some(other) = other_uid() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let base = root.path().join("theirs");
    fs::create_dir(&base).unwrap();
    std::os::unix::fs::chown(&base, Some(other), Some(other)).unwrap();
    let (_, why) = problem(state(&base).create());
    assert_eq!(
        why,
        DirProblem::BaseOwner {
            owner: other,
            me: 0
        }
    );
}

#[test]
fn names_are_single_components() {
    let root = tempfile::tempdir().unwrap();
    let dir = state(root.path()).create().unwrap();
    for bad in ["", ".", "..", "../x", "a/b", "x\0"] {
        assert!(dir.write_private(bad, b"x").is_err(), "{bad:?}");
        assert!(dir.read_secret(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn create_private_never_overwrites_and_links_replace_atomically() {
    let root = tempfile::tempdir().unwrap();
    let dir = state(root.path()).create().unwrap();
    dir.create_private("ca", b"first").unwrap();
    assert!(matches!(
        dir.create_private("ca", b"second"),
        Err(FileError::Exists(_))
    ));
    assert_eq!(dir.read_secret("ca").unwrap().unwrap(), b"first");

    dir.replace_symlink("ssh-identity", "ca").unwrap();
    dir.replace_symlink("ssh-identity", "other").unwrap();
    assert_eq!(dir.read_link("ssh-identity").unwrap(), Path::new("other"));
    assert_eq!(entries(dir.path()), ["ca", "ssh-identity"]);
}

#[test]
fn children_are_checked_like_their_parents() {
    let root = tempfile::tempdir().unwrap();
    let dir = state(root.path()).create().unwrap();
    assert!(dir.open_child("secrets").unwrap().is_none());
    let secrets = dir.create_child("secrets").unwrap();
    assert_eq!(mode(secrets.path()), 0o700);
    fs::remove_dir(secrets.path()).unwrap();
    let attacker = attacker_dir(root.path());
    symlink(&attacker, dir.path().join("secrets")).unwrap();
    let (_, why) = problem(dir.open_child("secrets"));
    assert_eq!(why, DirProblem::Symlink);
}

#[test]
fn split_takes_the_last_components_as_zt_own() {
    let location = Location::split(Path::new("/home/a/.local/state/zt/default"), 2).unwrap();
    assert_eq!(
        location,
        Location::new("/home/a/.local/state", &["zt", "default"])
    );
    assert_eq!(
        location.path(),
        Path::new("/home/a/.local/state/zt/default")
    );
    assert!(Location::split(Path::new("/zt/.."), 2).is_err());
}
