//! The crate graph is the architecture (docs/architecture.md): these tests read it from
//! `cargo tree` and fail when a crate links what its layer must not.

use std::process::Command;

/// `cargo tree` of `package`'s normal dependencies, with features, one name per line.
fn tree(package: &str) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal,features",
            "--prefix",
            "none",
        ])
        .args(["--package", package])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The lines of `tree` naming one of `forbidden` (a crate, or `crate feature "f"`).
fn offending<'a>(tree: &'a str, forbidden: &[&str]) -> Vec<&'a str> {
    let mut found: Vec<&str> = tree
        .lines()
        .filter(|line| {
            forbidden.iter().any(|f| {
                if f.contains(" feature ") {
                    // `hyper feature "server"`, possibly followed by ` (*)`.
                    line == f || line.starts_with(&format!("{f} "))
                } else {
                    line.starts_with(&format!("{f} v")) || line.starts_with(&format!("{f} feature"))
                }
            })
        })
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

#[test]
fn the_client_links_no_server_database_or_development_issuer() {
    let client = tree("zt");
    let found = offending(
        &client,
        &[
            "axum",
            "axum-server",
            "hyper feature \"server\"",
            "hyper-util feature \"server\"",
            "rusqlite",
            "libsqlite3-sys",
            "zt-dev-idp",
            "zt-broker",
            "tracing-subscriber",
        ],
    );
    assert!(found.is_empty(), "zt links: {found:#?}");
    // The check must be able to see a server: the broker's tree has one.
    let broker = tree("zt-broker");
    for server in ["axum", "hyper feature \"server\""] {
        assert!(
            !offending(&broker, &[server]).is_empty(),
            "{server} not seen"
        );
    }
}

#[test]
fn the_core_has_no_runtime_network_database_or_keyring() {
    let core = tree("zt-core");
    let found = offending(
        &core,
        &[
            "tokio",
            "mio",
            "hyper",
            "reqwest",
            "axum",
            "rusqlite",
            "libsqlite3-sys",
            "keyring-core",
            "linux-keyutils-keyring-store",
            "zt-os",
        ],
    );
    assert!(found.is_empty(), "zt-core links: {found:#?}");
}

#[test]
fn no_layer_points_back_up() {
    // zt-os sits under both binaries and knows neither; the core knows nothing of ours.
    assert!(offending(&tree("zt-os"), &["zt-core", "zt", "zt-broker"]).is_empty());
    assert!(
        offending(
            &tree("zt-dev-idp"),
            &["zt-core", "zt-os", "zt-broker", "zt"]
        )
        .is_empty()
    );
    assert!(offending(&tree("zt-broker"), &["zt"]).is_empty());
}
