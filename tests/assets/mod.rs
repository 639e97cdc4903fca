//! The committed generated assets: shell completions in `completions/` and man
//! pages in `man/`, both derived from the clap definitions of `zt` and `zt-broker`.
//!
//! The test regenerates them in memory and fails when a committed file is stale,
//! missing or no longer generated, so a changed doc comment or flag cannot ship
//! with outdated completions or man pages. `ZT_UPDATE_ASSETS=1` rewrites them
//! instead (and deletes the files nothing generates any more).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap_complete::{Generator, Shell};
use clap_mangen::Man;

use roff::{Roff, bold, italic, roman};
use zt_os::manual::Manual;

const UPDATE_ENV: &str = "ZT_UPDATE_ASSETS";
const UPDATE_HINT: &str = "run ZT_UPDATE_ASSETS=1 cargo test --test tests assets";

/// The directories this test owns, relative to the package root. Every file in
/// them is generated; anything else found there is reported (or removed).
const COMPLETIONS_DIR: &str = "completions";
const MAN_DIR: &str = "man";

const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::PowerShell,
    Shell::Elvish,
];

/// The two binaries: name, clap command (with the manual applied, as `--help` shows it) and
/// manual.
fn commands() -> [(&'static str, clap::Command, Manual); 2] {
    [
        ("zt", zt::cli::command(), zt::cli::manual::MANUAL),
        (
            "zt-broker",
            zt_broker::cli::command(),
            zt_broker::cli::manual::MANUAL,
        ),
    ]
}

/// Every generated file: directory → file name → contents.
type Assets = BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>;

fn generate_all() -> Assets {
    let mut assets = Assets::new();
    let completions = assets.entry(COMPLETIONS_DIR).or_default();
    for (bin, command, _) in commands() {
        for shell in SHELLS {
            let mut command = command.clone();
            let mut contents = Vec::new();
            clap_complete::generate(shell, &mut command, bin, &mut contents);
            completions.insert(shell.file_name(bin), contents);
        }
    }
    let man = assets.entry(MAN_DIR).or_default();
    for (bin, command, manual) in commands() {
        // The `help` subcommand gets no page of its own, so it is not listed
        // under SUBCOMMANDS either (it would point at a page that does not exist).
        let mut command = command.bin_name(bin).disable_help_subcommand(true);
        // Building sets the display names the page names come from (`zt-login`).
        command.build();
        man_pages(&command, &manual, "", man);
    }
    assets
}

/// One page for `command` (at subcommand `path`) and one per visible subcommand, recursively:
/// NAME, SYNOPSIS, DESCRIPTION, OPTIONS and SUBCOMMANDS from clap, then ENVIRONMENT, FILES,
/// EXIT STATUS, EXAMPLES and SEE ALSO from the manual.
fn man_pages(
    command: &clap::Command,
    manual: &Manual,
    path: &str,
    out: &mut BTreeMap<String, Vec<u8>>,
) {
    // No date, and the same source on every page (clap_mangen's default is
    // each subcommand's own name), so the pages change only when the clap
    // definitions or the package version do.
    // The date is an explicit `""`: roff writes an empty argument as nothing,
    // and `.TH` would then read the source as the date.
    let page = Man::new(command.clone())
        .date("\"\"")
        .source(format!("zt {}", env!("CARGO_PKG_VERSION")))
        .manual("zt manual");
    let mut contents = Vec::new();
    let render = |contents: &mut Vec<u8>| -> std::io::Result<()> {
        page.render_title(contents)?;
        page.render_name_section(contents)?;
        page.render_synopsis_section(contents)?;
        page.render_description_section(contents)?;
        page.render_options_section(contents)?;
        if command.get_subcommands().any(|s| !s.is_hide_set()) {
            page.render_subcommands_section(contents)?;
        }
        contents.write_all(manual_sections(command, manual, path).render().as_bytes())
    };
    render(&mut contents).expect("rendering a man page into memory cannot fail");
    let name = page.get_filename();
    assert!(
        out.insert(name.clone(), contents).is_none(),
        "two commands would both write man/{name}"
    );
    for sub in command.get_subcommands() {
        if !sub.is_hide_set() && sub.get_name() != "help" {
            let sub_path = if path.is_empty() {
                sub.get_name().to_owned()
            } else {
                format!("{path} {}", sub.get_name())
            };
            man_pages(sub, manual, &sub_path, out);
        }
    }
}

/// The sections every page shares, from the manual; EXAMPLES are the page's own, and SEE
/// ALSO names the program's page, its subcommands' pages and the manual's related pages.
fn manual_sections(command: &clap::Command, manual: &Manual, path: &str) -> Roff {
    let mut roff = Roff::new();
    let table = |roff: &mut Roff, title: &str, rows: &[(&str, &str)]| {
        roff.control("SH", [title]);
        for (term, text) in rows {
            roff.control("TP", []);
            roff.text([bold(*term)]);
            roff.text([roman(*text)]);
        }
    };
    table(&mut roff, "ENVIRONMENT", manual.environment);
    table(&mut roff, "FILES", manual.files);
    table(&mut roff, "EXIT STATUS", manual.exit_status);
    let examples = manual.examples_for(path);
    if !examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        for (line, what) in examples {
            roff.control("TP", []);
            roff.text([roman(what)]);
            roff.control("nf", []);
            roff.text([bold(line)]);
            roff.control("fi", []);
        }
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut pages: Vec<String> = Vec::new();
    if !path.is_empty() {
        pages.push(format!("{}(1)", manual.program));
    }
    for sub in command.get_subcommands() {
        if !sub.is_hide_set() && sub.get_name() != "help" {
            pages.push(format!(
                "{}(1)",
                sub.get_display_name().unwrap_or(sub.get_name())
            ));
        }
    }
    pages.extend(manual.see_also.iter().map(|p| p.to_string()));
    let mut items = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        if i > 0 {
            items.push(roman(", "));
        }
        items.push(italic(page.as_str()));
    }
    roff.text(items);
    roff
}

/// How a committed directory differs from what is generated.
#[derive(Default)]
struct Drift {
    stale: Vec<PathBuf>,
    missing: Vec<PathBuf>,
    extra: Vec<PathBuf>,
}

impl Drift {
    fn is_empty(&self) -> bool {
        self.stale.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }

    fn report(&self) -> String {
        let mut text = String::new();
        for (label, paths) in [
            ("stale", &self.stale),
            ("missing", &self.missing),
            ("extra (no longer generated)", &self.extra),
        ] {
            for path in paths {
                text.push_str(&format!("  {label}: {}\n", path.display()));
            }
        }
        text
    }
}

/// File names of the regular files directly in `dir` (none if it does not exist).
fn committed_files(dir: &Path) -> Vec<String> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    names
}

fn compare(root: &Path, assets: &Assets) -> Drift {
    let mut drift = Drift::default();
    for (dir, files) in assets {
        let dir_path = root.join(dir);
        for (name, contents) in files {
            let relative = Path::new(dir).join(name);
            match fs::read(dir_path.join(name)) {
                Ok(committed) if committed == *contents => {}
                Ok(_) => drift.stale.push(relative),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => drift.missing.push(relative),
                Err(e) => panic!("cannot read {}: {e}", relative.display()),
            }
        }
        for name in committed_files(&dir_path) {
            if !files.contains_key(&name) {
                drift.extra.push(Path::new(dir).join(name));
            }
        }
    }
    drift
}

/// Write what changed and delete what is no longer generated; leaves files
/// that are already up to date untouched (so their mtimes do not churn).
fn update(root: &Path, assets: &Assets) {
    let drift = compare(root, assets);
    for (dir, files) in assets {
        let dir_path = root.join(dir);
        fs::create_dir_all(&dir_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir_path.display()));
        for (name, contents) in files {
            let relative = Path::new(dir).join(name);
            if drift.stale.contains(&relative) || drift.missing.contains(&relative) {
                fs::write(root.join(&relative), contents)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", relative.display()));
            }
        }
    }
    for relative in &drift.extra {
        fs::remove_file(root.join(relative))
            .unwrap_or_else(|e| panic!("cannot remove {}: {e}", relative.display()));
    }
    // Straight to stderr rather than `eprintln!`, which the test harness captures.
    let summary = if drift.is_empty() {
        "assets: all generated files were up to date\n".to_owned()
    } else {
        format!("assets: updated\n{}", drift.report())
    };
    let _ = std::io::stderr().write_all(summary.as_bytes());
}

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let assets = generate_all();
    if std::env::var_os(UPDATE_ENV).is_some_and(|v| v == "1") {
        update(root, &assets);
        return;
    }
    let drift = compare(root, &assets);
    assert!(
        drift.is_empty(),
        "the committed completions/man pages differ from the clap definitions:\n{}{UPDATE_HINT}",
        drift.report()
    );
}

#[test]
fn every_subcommand_has_a_man_page() {
    let assets = generate_all();
    let pages = &assets[MAN_DIR];
    for expected in [
        "zt.1",
        "zt-login.1",
        "zt-ssh.1",
        "zt-completions.1",
        "zt-broker.1",
        "zt-broker-serve.1",
    ] {
        assert!(
            pages.contains_key(expected),
            "no man/{expected}; generated: {:?}",
            pages.keys().collect::<Vec<_>>()
        );
    }
    assert!(
        !pages.keys().any(|name| name.contains("help")),
        "help gets no man page: {:?}",
        pages.keys().collect::<Vec<_>>()
    );
}
