//! Where the binaries under test are. Cargo tells a package's integration tests where that
//! package's own binaries are (`CARGO_BIN_EXE_*`), but `zt-broker` belongs to another crate
//! of the workspace: it is found next to the running test executable, in the same
//! `target/<profile>/` directory, and built there first if it is missing or older than its
//! sources would make it (one `cargo build`, once per test process).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Environment variable naming a `zt-broker` to use instead (benches of another build).
pub const BROKER_BIN_ENV: &str = "ZT_BROKER_BIN";

/// The `zt-broker` binary of this build, built on first use.
pub fn zt_broker() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os(BROKER_BIN_ENV) {
            return PathBuf::from(path);
        }
        let profile_dir = profile_dir();
        build_broker(&profile_dir);
        let bin = profile_dir.join(format!("zt-broker{}", std::env::consts::EXE_SUFFIX));
        assert!(
            bin.exists(),
            "cargo build -p zt-broker ran but {} is missing",
            bin.display()
        );
        bin
    })
}

/// `target/<profile>/`: the test executable lives in its `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test executable");
    let deps = exe.parent().expect("the test executable's directory");
    let dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("target/<profile>")
    } else {
        deps
    };
    dir.to_owned()
}

/// `cargo build -p zt-broker` into the same target directory and profile as this test, so
/// the broker a test starts is never stale. A no-op build takes a fraction of a second.
fn build_broker(profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = profile_dir.parent().expect("target directory");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "--package",
            "zt-broker",
            "--bin",
            "zt-broker",
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        command.arg("--release");
    }
    // The test itself was built from the same lock file, so everything is fetched already.
    command.args(["--offline", "--locked"]);
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build zt-broker: {e}"));
    assert!(
        status.success(),
        "cargo build -p zt-broker failed: {status}"
    );
}
