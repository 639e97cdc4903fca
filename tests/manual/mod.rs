//! The environment variables, as the code reads them, as the manual (`--help`, man pages)
//! lists them and as the README tables them, must agree (issue 10: `ZT_PROFILE`,
//! `ZT_SSH_PROGRAM`, … were only in the README).

use std::collections::BTreeSet;
use std::path::Path;

use zt_os::manual::Manual;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Names the code of `dirs` reads (unit tests aside): clap's `env = "…"`, `var("…")`,
/// `var_os("…")`, `from_env("…")`, an environment lookup `env("…")`, and a constant that
/// holds a variable's name (`const X: &str = "ZT_…";`, upper case with an underscore).
fn read_by_code(dirs: &[&str]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for dir in dirs {
        for file in rust_files(&Path::new(ROOT).join(dir)) {
            if file.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for marker in [
                "env = \"",
                "var(\"",
                "var_os(\"",
                "from_env(\"",
                " env(\"",
                "(env(\"",
                ": &str = \"",
            ] {
                for piece in text.split(marker).skip(1) {
                    let name: String = piece
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    let constant = marker == ": &str = \"";
                    let looks_like_variable = !constant
                        || (name.contains('_')
                            && name.starts_with(|c: char| c.is_ascii_uppercase()));
                    if !name.is_empty()
                        && looks_like_variable
                        && piece[name.len()..].starts_with('"')
                    {
                        names.insert(name);
                    }
                }
            }
        }
    }
    names
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn in_manual(manual: &Manual) -> BTreeSet<String> {
    manual
        .environment
        .iter()
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The names in the README table that follows the line introducing `program`'s variables.
fn in_readme(program: &str) -> BTreeSet<String> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let section = readme
        .split("### Environment")
        .nth(1)
        .expect("README has an Environment section");
    let intro = format!("`{program}` reads");
    let table = section
        .split(&intro)
        .nth(1)
        .unwrap_or_else(|| panic!("README: no {intro:?} table"));
    table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('`').nth(1))
        .map(str::to_owned)
        .collect()
}

/// The names in the ENVIRONMENT section of a committed man page.
fn in_man_page(page: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("man").join(page)).unwrap();
    let section = text
        .split(".SH ENVIRONMENT")
        .nth(1)
        .unwrap_or_else(|| panic!("man/{page} has no ENVIRONMENT section"));
    let section = section.split("\n.SH").next().unwrap();
    section
        .split(".TP\n\\fB")
        .skip(1)
        .filter_map(|item| item.split("\\fR").next())
        .map(str::to_owned)
        .collect()
}

fn agree(program: &str, manual: &Manual, code_dirs: &[&str], page: &str) {
    let manual_names = in_manual(manual);
    let code = read_by_code(code_dirs);
    let undocumented: Vec<_> = code.difference(&manual_names).collect();
    assert!(
        undocumented.is_empty(),
        "{program} reads {undocumented:?}, which its manual does not list"
    );
    // zt's own variables must be read somewhere; the others (HOME, SSL_CERT_FILE, …) are read
    // by the libraries zt uses.
    let phantom: Vec<_> = manual_names
        .iter()
        .filter(|n| n.starts_with("ZT_") && !code.contains(*n))
        .collect();
    assert!(
        phantom.is_empty(),
        "{program}'s manual lists {phantom:?}, which its code never reads"
    );
    assert_eq!(
        in_readme(program),
        manual_names,
        "README vs {program}'s manual"
    );
    assert_eq!(
        in_man_page(page),
        manual_names,
        "man/{page} vs {program}'s manual"
    );
}

#[test]
fn zt_environment_agrees_in_code_manual_readme_and_man_page() {
    agree("zt", &zt::cli::manual::MANUAL, &["src"], "zt.1");
}

#[test]
fn zt_broker_environment_agrees_in_code_manual_readme_and_man_page() {
    agree(
        "zt-broker",
        &zt_broker::cli::manual::MANUAL,
        &["crates/broker/src", "crates/dev-idp/src"],
        "zt-broker.1",
    );
}

#[test]
fn the_check_sees_what_it_checks() {
    // The scanner finds a variable read through clap and one read directly.
    let code = read_by_code(&["src"]);
    assert!(
        code.contains("ZT_PROFILE") && code.contains("ZT_SSH_PROGRAM"),
        "{code:?}"
    );
    assert!(in_man_page("zt.1").contains("ZT_PROFILE"));
}
