//! The command-line contract, pinned: every case in `tests/cmd/{zt,zt-broker}/*.toml` runs the
//! real binary with a clean environment (`env.inherit = false`: only what is set here) and
//! compares its stdout, stderr and exit status exactly (`[..]` matches the parts that differ
//! from run to run: keys, machine facts). It covers every command's help, the errors a user can
//! cause offline, every exit code zt can give without a network peer, and the `--json`
//! shapes; the e2e tests cover the same contract where a broker, IdP or sshd is needed.
//!
//! After an intended change: `TRYCMD=overwrite cargo test --test tests golden`, then read
//! the diff: it is the change users see.

use crate::e2e::fixture::ZT;
use zt_testkit::tempdir;

#[test]
fn command_line_contract() {
    let home = tempdir();
    let h = home.path();
    let path = std::env::var("PATH").unwrap_or_default();
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("zt", std::path::Path::new(ZT))
        .register_bin("zt-broker", zt_testkit::bins::zt_broker())
        .env("PATH", path)
        .env("HOME", h.display().to_string())
        .env("XDG_CONFIG_HOME", h.join("config").display().to_string())
        .env("XDG_STATE_HOME", h.join("state").display().to_string())
        .env("XDG_DATA_HOME", h.join("data").display().to_string())
        .env("XDG_RUNTIME_DIR", h.join("run").display().to_string())
        .env("ZT_CREDENTIAL_STORE", "file")
        .env("LANG", "C.UTF-8")
        .case("tests/cmd/zt/*.toml")
        .case("tests/cmd/zt-broker/*.toml");
    cases
        .insert_var("[HOME]", h.display().to_string())
        .expect("a valid variable");
}

/// The case files, parsed: (path, binary, args, stdout).
fn cases() -> Vec<(std::path::PathBuf, String, Vec<String>, String)> {
    let mut out = Vec::new();
    for dir in ["tests/cmd/zt", "tests/cmd/zt-broker"] {
        for entry in std::fs::read_dir(dir).expect("tests/cmd") {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let case: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let bin = case["bin"]["name"].as_str().unwrap().to_owned();
            let args = case["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            let stdout = case
                .get("stdout")
                .and_then(|s| s.as_str())
                .unwrap_or("")
                .to_owned();
            out.push((path, bin, args, stdout));
        }
    }
    out
}

/// Every command and subcommand of both binaries has a `…-help` case: adding a command
/// without pinning its help fails here.
#[test]
fn every_command_has_a_help_case() {
    use clap::CommandFactory;
    fn names(command: &clap::Command, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        for sub in command.get_subcommands() {
            if sub.get_name() == "help" || sub.is_hide_set() {
                continue;
            }
            let mut path = prefix.clone();
            path.push(sub.get_name().to_owned());
            out.push(path.clone());
            names(sub, path, out);
        }
    }
    let cases = cases();
    for (bin, command) in [
        ("zt", zt::cli::Cli::command()),
        ("zt-broker", zt_broker::cli::BrokerCli::command()),
    ] {
        let mut commands = vec![vec![]];
        names(&command, vec![], &mut commands);
        for path in commands {
            let mut args = path.clone();
            args.push("--help".into());
            assert!(
                cases.iter().any(|(_, b, a, _)| b == bin && *a == args),
                "no golden case for `{bin} {}` (add tests/cmd/{bin}/…-help.toml)",
                args.join(" ")
            );
        }
    }
}

/// `--json` prints exactly one JSON document on stdout, on success and on failure; the
/// commands that stream events print one JSON object per line.
#[test]
fn json_output_is_one_document() {
    const STREAMS: &[&str] = &["login", "forward", "export"];
    let mut checked = 0;
    for (path, _, args, stdout) in cases() {
        if !args.iter().any(|a| a == "--json") {
            continue;
        }
        let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        for line in &lines {
            // The snapshots store `\` as `/` (snapbox normalises Windows paths), so an escaped
            // quote reads `/"` there.
            let line = line.replace("/\"", "\\\"");
            let value: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", path.display()));
            assert!(value.is_object(), "{}: {line}", path.display());
        }
        let streams = args.iter().any(|a| STREAMS.contains(&a.as_str()));
        assert!(
            lines.len() == 1 || (streams && !lines.is_empty()),
            "{}: {} JSON documents on stdout",
            path.display(),
            lines.len()
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} --json cases");
}
