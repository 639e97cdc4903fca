//! Building the `ssh` command line for `zt ssh`. Pure.
//!
//! zt reads its arguments as ssh(1) reads them ([`parse`] has the rules), puts its own options
//! first, because ssh keeps the first value it sees for an option, and passes the destination
//! after `--` ([`build`]), so a host name can never be read as an option; one that starts with
//! `-` is refused outright.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use zt_core::text::{Printable, needs_escape, quoted};

use super::paths::Paths;

/// ssh options that take an argument (OpenSSH 9: `ssh -h` usage).
const WITH_ARGUMENT: &str = "BbcDEeFIiJLlmOoPpQRSWw";
/// ssh options that take none.
const FLAGS: &str = "46AaCfGgKkMNnqsTtVvXxYy";

/// ssh_config keywords (lower case) that make ssh run or load a program on this machine:
/// a command (`ProxyCommand`, `LocalCommand` with `PermitLocalCommand`, `KnownHostsCommand`,
/// `XAuthLocation` with X11 forwarding) or a shared library (`PKCS11Provider`,
/// `SecurityKeyProvider`). `ProxyJump` (`-J`) runs only ssh itself and is not among them.
const RUNS_LOCAL_PROGRAMS: &[&str] = &[
    "proxycommand",
    "localcommand",
    "permitlocalcommand",
    "knownhostscommand",
    "xauthlocation",
    "pkcs11provider",
    "securitykeyprovider",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshInvocation {
    /// The user's options, in order, unchanged.
    pub options: Vec<OsString>,
    pub destination: String,
    pub command: Vec<OsString>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshArgsError {
    #[error("no destination given: zt ssh [ssh options] [--] [user@]host [command…]")]
    NoDestination,
    #[error("ssh option -{0} needs a value")]
    MissingValue(char),
    #[error(
        "unknown ssh option -{} (zt ssh passes ssh(1)'s own options; see `zt ssh --help`)",
        Printable(&.0.to_string())
    )]
    UnknownOption(char),
    #[error(
        "destination {} starts with '-' (ssh would read it as an option) or contains control or invisible characters; refused",
        quoted(.0, 200)
    )]
    BadDestination(String),
}

/// Put back the `--` that clap took from the command line.
///
/// clap reads a `--` that comes first after `zt ssh` as its own separator and drops it, so
/// `zt ssh -- -oProxyCommand=… host` would reach [`parse`] as `-oProxyCommand=… host`: an
/// option and a destination. zt's arguments are always the last ones of the process's
/// command line (clap captures every argument from the first of them on, verbatim), so the
/// argument just before them says whether clap dropped one: it did when that argument is
/// `--` (clap refuses `--` as the value of `--profile`, zt's only global option with a
/// value). `argv` is the whole command line, program name included. When `parsed` is not its
/// tail (zt was not started with this command line), `parsed` is returned unchanged.
pub fn restore_separator(argv: &[OsString], parsed: Vec<OsString>) -> Vec<OsString> {
    let Some(before) = argv.len().checked_sub(parsed.len() + 1) else {
        return parsed;
    };
    if argv[before] != "--" || argv[before + 1..] != parsed[..] {
        return parsed;
    }
    let mut out = Vec::with_capacity(parsed.len() + 1);
    out.push(OsString::from("--"));
    out.extend(parsed);
    out
}

/// Split `zt ssh` arguments into ssh options, destination and command, as ssh(1) itself
/// reads them (OpenSSH's `main()`, whose getopt does not reorder arguments):
///
/// 1. Options come first. They end at the first argument that does not start with `-`
///    (`-` alone is not an option), or at `--`, which is dropped. An option's value is the
///    rest of its argument (`-p2222`, `-oName=value`) or the next argument (`-p 2222`,
///    `-o "Name value"`), whatever that looks like.
/// 2. The next argument is the destination. zt refuses it (usage error, exit 2) when it is
///    empty, starts with `-`, or contains a character that [`needs_escape`] (a control,
///    bidirectional or invisible character): no host name has one.
/// 3. Without a `--` before the destination, more options may follow it, up to the next
///    argument that is not an option, or up to a `--` (dropped): `zt ssh host -p 2222 id`.
/// 4. With a `--` before the destination, nothing after the destination is an option:
///    `zt ssh -- host -v` runs the remote command `-v`.
/// 5. The rest is the remote command, unchanged.
///
/// So an argument that starts with `-` is never the destination: before the destination it
/// is an option (with or without a `--` after it), exactly as for ssh, and after a `--` it is
/// refused. `zt ssh "$HOST"` with `HOST=-oProxyCommand=…` asks ssh to run that command, as
/// `ssh "$HOST"` would; scripts write `zt ssh [ssh options] -- "$HOST" [command…]`, the one
/// form in which the host is always the destination, and [`local_program_options`] finds the
/// options zt warns about. [`build`] hands ssh the destination after a `--` of its own, so ssh
/// never reads the destination or the command as an option either.
pub fn parse(args: &[OsString]) -> Result<SshInvocation, SshArgsError> {
    let mut options = Vec::new();
    let mut i = take_options(args, 0, &mut options)?;
    let terminated = args.get(i).is_some_and(|a| a == "--");
    if terminated {
        i += 1;
    }
    let destination = args
        .get(i)
        .ok_or(SshArgsError::NoDestination)?
        .to_string_lossy()
        .into_owned();
    if destination.is_empty()
        || destination.starts_with('-')
        || destination.chars().any(needs_escape)
    {
        return Err(SshArgsError::BadDestination(destination));
    }
    i += 1;
    if !terminated {
        i = take_options(args, i, &mut options)?;
        if args.get(i).is_some_and(|a| a == "--") {
            i += 1;
        }
    }
    Ok(SshInvocation {
        options,
        destination,
        command: args[i..].to_vec(),
    })
}

/// Copy options starting at `i` into `options`; returns the index of the
/// first argument that is not an option (or `--`).
fn take_options(
    args: &[OsString],
    mut i: usize,
    options: &mut Vec<OsString>,
) -> Result<usize, SshArgsError> {
    while i < args.len() {
        let arg = args[i].to_string_lossy();
        if arg == "--" || !arg.starts_with('-') || arg == "-" {
            break;
        }
        options.push(args[i].clone());
        let letters: Vec<char> = arg[1..].chars().collect();
        for (pos, c) in letters.iter().enumerate() {
            if WITH_ARGUMENT.contains(*c) {
                if pos + 1 == letters.len() {
                    i += 1;
                    let value = args.get(i).ok_or(SshArgsError::MissingValue(*c))?;
                    options.push(value.clone());
                }
                break;
            } else if !FLAGS.contains(*c) {
                return Err(SshArgsError::UnknownOption(*c));
            }
        }
        i += 1;
    }
    Ok(i)
}

/// One option that takes a value, from options as [`parse`] split them.
struct Valued {
    letter: char,
    value: String,
    /// As given: one argument (`-oName=value`) or two (`-o Name=value`).
    given: String,
}

/// The options of `options` that take a value, with their values, in every spelling:
/// `-p 22`, `-p22`, `-tp 22`, `-tp22`.
fn valued_options(options: &[OsString]) -> Vec<Valued> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < options.len() {
        let arg = options[i].to_string_lossy();
        let letters: Vec<char> = arg.chars().skip(1).collect();
        for (pos, c) in letters.iter().enumerate() {
            if WITH_ARGUMENT.contains(*c) {
                let (value, given) = if pos + 1 == letters.len() {
                    i += 1;
                    let value = options
                        .get(i)
                        .map(|v| v.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let given = format!("{arg} {value}");
                    (value, given)
                } else {
                    (letters[pos + 1..].iter().collect(), arg.to_string())
                };
                out.push(Valued {
                    letter: *c,
                    value,
                    given,
                });
                break;
            }
        }
        i += 1;
    }
    out
}

/// The flags (options without a value) of `options`: `-tA` is `t` and `A`.
fn flags(options: &[OsString]) -> Vec<char> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < options.len() {
        let arg = options[i].to_string_lossy();
        let letters: Vec<char> = arg.chars().skip(1).collect();
        for (pos, c) in letters.iter().enumerate() {
            if WITH_ARGUMENT.contains(*c) {
                if pos + 1 == letters.len() {
                    i += 1;
                }
                break;
            }
            out.push(*c);
        }
        i += 1;
    }
    out
}

/// The keyword of one `-o` value as ssh reads it, in lower case: `Name=value`, `Name value`,
/// ` Name = value`, `"Name" value`.
fn keyword(option: &str) -> String {
    option
        .trim_start()
        .trim_start_matches('"')
        .split(|c: char| c == '=' || c == '"' || c.is_whitespace())
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The options in `options` (as [`parse`] split them) that make ssh run or load a program
/// on this machine: `-o` with a keyword of [`RUNS_LOCAL_PROGRAMS`] in any spelling, and `-I`
/// (a PKCS#11 library). Each as given, for a warning: such an option may be a host name
/// that a script put where ssh reads options.
pub fn local_program_options(options: &[OsString]) -> Vec<String> {
    valued_options(options)
        .into_iter()
        .filter(|v| match v.letter {
            'o' => RUNS_LOCAL_PROGRAMS.contains(&keyword(&v.value).as_str()),
            'I' => true,
            _ => false,
        })
        .map(|v| v.given)
        .collect()
}

/// Forwarding an ssh command line asks for; sshd grants each only when
/// the certificate carries the matching `permit-…` extension.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forwarding {
    /// `-A`, `-o ForwardAgent=…` (not `no`)
    pub agent: bool,
    /// `-L`, `-R`, `-D`, `-W`, `-o LocalForward|RemoteForward|DynamicForward=…`
    pub ports: bool,
}

/// What `options` (as split by [`parse`]) ask to forward. Pure.
pub fn requested_forwarding(options: &[OsString]) -> Forwarding {
    let mut wanted = Forwarding {
        agent: flags(options).contains(&'A'),
        ports: false,
    };
    for v in valued_options(options) {
        match v.letter {
            'L' | 'R' | 'D' | 'W' => wanted.ports = true,
            'o' => apply_option(&v.value, &mut wanted),
            _ => {}
        }
    }
    wanted
}

/// One `-o Key=Value` (or `Key Value`), as ssh splits it.
fn apply_option(option: &str, wanted: &mut Forwarding) {
    let option = option.trim_start();
    let split = option
        .find(|c: char| c == '=' || c.is_whitespace())
        .unwrap_or(option.len());
    let (key, value) = option.split_at(split);
    let value = value.trim_start_matches(|c: char| c == '=' || c.is_whitespace());
    match key.to_ascii_lowercase().as_str() {
        "forwardagent" => wanted.agent |= !value.eq_ignore_ascii_case("no"),
        "localforward" | "remoteforward" | "dynamicforward" => wanted.ports = true,
        _ => {}
    }
}

/// Where ssh finds the certificate and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The key lives only in ssh-agent, as a certificate entry. ssh is given the
    /// certificate as its `IdentityFile` and asks the agent to sign with the matching entry.
    /// No `CertificateFile`: with one, ssh first tries to read a private key from it and
    /// prints `Load key "…": error in libcrypto` on every connection (OpenSSH 9.2).
    Agent {
        certificate: PathBuf,
        known_hosts: PathBuf,
    },
    /// The key is a 0600 file next to its certificate; the agent is not consulted.
    File {
        key: PathBuf,
        certificate: PathBuf,
        known_hosts: PathBuf,
    },
}

impl Identity {
    /// The profile's identity: in the agent or in files, as the session says.
    pub fn of(paths: &Paths, in_agent: bool) -> Self {
        let certificate = paths.certificate_file();
        let known_hosts = paths.known_hosts_file();
        if in_agent {
            Identity::Agent {
                certificate,
                known_hosts,
            }
        } else {
            Identity::File {
                key: paths.key_file(),
                certificate,
                known_hosts,
            }
        }
    }
}

/// The full argument list for `ssh` (without the program name).
pub fn build(inv: &SshInvocation, id: &Identity) -> Vec<OsString> {
    let opt = |k: &str, v: &Path| OsString::from(format!("{k}={}", v.display()));
    let mut out: Vec<OsString> = vec!["-o".into(), "IdentitiesOnly=yes".into()];
    let known_hosts = match id {
        Identity::Agent {
            certificate,
            known_hosts,
        } => {
            out.extend(["-o".into(), opt("IdentityFile", certificate)]);
            known_hosts
        }
        Identity::File {
            key,
            certificate,
            known_hosts,
        } => {
            out.extend([
                "-o".into(),
                opt("CertificateFile", certificate),
                "-o".into(),
                opt("IdentityFile", key),
                "-o".into(),
                "IdentityAgent=none".into(),
            ]);
            known_hosts
        }
    };
    out.extend([
        "-o".into(),
        opt("UserKnownHostsFile", known_hosts),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
    ]);
    out.extend(inv.options.iter().cloned());
    out.push("--".into());
    out.push(inv.destination.clone().into());
    out.extend(inv.command.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn options_destination_and_command_are_split() {
        let inv = parse(&args(&[
            "-p",
            "2222",
            "-tv",
            "-oBatchMode=yes",
            "ops@host",
            "--",
            "id",
            "-un",
        ]))
        .unwrap();
        assert_eq!(inv.options, args(&["-p", "2222", "-tv", "-oBatchMode=yes"]));
        assert_eq!(inv.destination, "ops@host");
        assert_eq!(inv.command, args(&["id", "-un"]));
        let inv = parse(&args(&["ops@host", "-p", "2222", "--", "ls", "-l"])).unwrap();
        assert_eq!(inv.options, args(&["-p", "2222"]));
        assert_eq!(inv.command, args(&["ls", "-l"]));
        let inv = parse(&args(&["-L8080:localhost:80", "host"])).unwrap();
        assert_eq!(inv.options, args(&["-L8080:localhost:80"]));
        let inv = parse(&args(&["--", "host", "uptime"])).unwrap();
        assert_eq!((inv.destination.as_str(), inv.command.len()), ("host", 1));
    }

    #[test]
    fn hostile_destinations_and_options_are_refused() {
        assert_eq!(
            parse(&args(&["--", "-oProxyCommand=sh"])),
            Err(SshArgsError::BadDestination("-oProxyCommand=sh".into()))
        );
        for hostile in [
            "host\nx",
            "host\u{1b}[2J",
            "host\u{9b}1m",
            "\u{202e}tsoh",
            "ho\u{200b}st",
            "",
            "-",
        ] {
            assert_eq!(
                parse(&args(&[hostile])),
                Err(SshArgsError::BadDestination(hostile.into())),
                "{hostile:?}"
            );
        }
        assert_eq!(parse(&args(&["-p"])), Err(SshArgsError::MissingValue('p')));
        assert_eq!(
            parse(&args(&["-Z", "host"])),
            Err(SshArgsError::UnknownOption('Z'))
        );
        assert_eq!(parse(&args(&["-v"])), Err(SshArgsError::NoDestination));
        assert_eq!(
            parse(&args(&["-v", "--"])),
            Err(SshArgsError::NoDestination)
        );
        // The messages quote what they refuse escaped.
        let shown = SshArgsError::UnknownOption('\u{1b}').to_string();
        assert!(shown.starts_with(r"unknown ssh option -\u{1b} "), "{shown}");
        let shown = SshArgsError::BadDestination("-o\nx\u{202e}".into()).to_string();
        assert!(!shown.chars().any(needs_escape), "{shown}");
    }

    #[test]
    fn a_double_dash_first_makes_the_next_argument_the_destination_whatever_it_looks_like() {
        // As scripts write it: the host, then the command, even one that starts with `-`.
        let inv = parse(&args(&["--", "ops@host", "-v", "-oProxyCommand=x"])).unwrap();
        assert!(inv.options.is_empty());
        assert_eq!(inv.destination, "ops@host");
        assert_eq!(inv.command, args(&["-v", "-oProxyCommand=x"]));
        for hostile in ["-oProxyCommand=touch /tmp/x", "-v", "--", "-", "--help"] {
            assert_eq!(
                parse(&args(&["--", hostile, "true"])),
                Err(SshArgsError::BadDestination(hostile.into())),
                "{hostile:?}"
            );
        }
    }

    #[test]
    fn options_then_a_double_dash_end_the_options() {
        let inv = parse(&args(&["-p", "2222", "-v", "--", "host", "-l", "x"])).unwrap();
        assert_eq!(inv.options, args(&["-p", "2222", "-v"]));
        assert_eq!(inv.destination, "host");
        assert_eq!(inv.command, args(&["-l", "x"]));
        assert_eq!(
            parse(&args(&["-p", "2222", "--", "-oProxyCommand=sh", "true"])),
            Err(SshArgsError::BadDestination("-oProxyCommand=sh".into()))
        );
        // An option's value is the next argument, whatever it looks like: never a destination.
        let inv = parse(&args(&["-o", "--", "host"])).unwrap();
        assert_eq!(
            (inv.options, inv.destination),
            (args(&["-o", "--"]), "host".into())
        );
    }

    #[test]
    fn without_a_double_dash_an_argument_that_starts_with_a_dash_is_an_option_as_for_ssh() {
        // `zt ssh "$HOST" true` with a hostile HOST: ssh would read it as an option too; zt
        // passes it as one (and warns), never as the destination.
        let inv = parse(&args(&["-oProxyCommand=touch /tmp/x", "true"])).unwrap();
        assert_eq!(inv.options, args(&["-oProxyCommand=touch /tmp/x"]));
        assert_eq!(inv.destination, "true");
        assert!(inv.command.is_empty());
        assert_eq!(
            local_program_options(&inv.options),
            ["-oProxyCommand=touch /tmp/x"]
        );
        // Options after the destination, up to the command or `--`.
        let inv = parse(&args(&["host", "-v", "-oProxyCommand=x", "id", "-un"])).unwrap();
        assert_eq!(inv.options, args(&["-v", "-oProxyCommand=x"]));
        assert_eq!(inv.command, args(&["id", "-un"]));
        let inv = parse(&args(&["host", "-v", "--", "-oProxyCommand=x"])).unwrap();
        assert_eq!(inv.options, args(&["-v"]));
        assert_eq!(inv.command, args(&["-oProxyCommand=x"]));
    }

    #[test]
    fn the_double_dash_clap_drops_is_put_back() {
        let argv = |list: &[&str]| args(list);
        // `zt ssh -- -oProxyCommand=… true`: clap hands over `-oProxyCommand=… true`.
        let restored = restore_separator(
            &argv(&["zt", "ssh", "--", "-oProxyCommand=x", "true"]),
            argv(&["-oProxyCommand=x", "true"]),
        );
        assert_eq!(restored, argv(&["--", "-oProxyCommand=x", "true"]));
        assert_eq!(
            parse(&restored),
            Err(SshArgsError::BadDestination("-oProxyCommand=x".into()))
        );
        let restored = restore_separator(
            &argv(&["zt", "--profile", "p", "ssh", "--json", "--", "host", "id"]),
            argv(&["host", "id"]),
        );
        assert_eq!(restored, argv(&["--", "host", "id"]));
        // A second `--` is kept by clap: only the first is put back.
        let restored = restore_separator(
            &argv(&["zt", "ssh", "--", "--", "host"]),
            argv(&["--", "host"]),
        );
        assert_eq!(restored, argv(&["--", "--", "host"]));
        assert!(matches!(
            parse(&restored),
            Err(SshArgsError::BadDestination(_))
        ));
        // Nothing dropped: unchanged.
        for (line, parsed) in [
            (
                &["zt", "ssh", "-v", "--", "host"][..],
                &["-v", "--", "host"][..],
            ),
            (&["zt", "ssh", "host", "--", "id"], &["host", "--", "id"]),
            (&["zt", "--profile=x", "ssh", "host"], &["host"]),
            // Not this process's command line.
            (&["zt", "--", "other"], &["host"]),
            (&[], &["host"]),
        ] {
            assert_eq!(restore_separator(&argv(line), argv(parsed)), argv(parsed));
        }
    }

    #[test]
    fn options_that_run_local_programs_are_found_in_every_spelling() {
        let found = |list: &[&str]| local_program_options(&parse(&args(list)).unwrap().options);
        for spelling in [
            &["-oProxyCommand=sh", "host"][..],
            &["-o", "ProxyCommand=sh", "host"],
            &["-o", "ProxyCommand sh", "host"],
            &["-o", "  proxycommand = sh", "host"],
            &["-oPROXYCOMMAND sh", "host"],
            &["-o", "\"ProxyCommand\" sh", "host"],
            &["-vo", "ProxyCommand=sh", "host"],
            &["-voProxyCommand=sh", "host"],
            &["host", "-o", "ProxyCommand=sh"],
            &["-o", "LocalCommand=sh", "host"],
            &["-oPermitLocalCommand=yes", "host"],
            &["-o", "KnownHostsCommand /bin/sh", "host"],
            &["-o", "XAuthLocation=/tmp/x", "-X", "host"],
            &["-oPKCS11Provider=/tmp/x.so", "host"],
            &["-o", "SecurityKeyProvider=/tmp/x.so", "host"],
            &["-I", "/tmp/x.so", "host"],
        ] {
            assert_eq!(found(spelling).len(), 1, "{spelling:?}");
        }
        assert_eq!(
            found(&["-o", "ProxyCommand=a", "-oLocalCommand=b", "host"]),
            ["-o ProxyCommand=a", "-oLocalCommand=b"]
        );
        for harmless in [
            &["host"][..],
            &["-J", "jump", "host"],
            &["-oProxyJump=jump", "host"],
            &["-o", "ProxyUseFdpass=no", "host"],
            &["-p", "22", "-l", "ProxyCommand", "host"],
            &["-o", "User=ProxyCommand", "host"],
            &["--", "host", "-oProxyCommand=sh"],
        ] {
            assert!(found(harmless).is_empty(), "{harmless:?}");
        }
    }

    #[test]
    fn forwarding_requests_are_found_in_every_spelling() {
        let wanted = |list: &[&str]| requested_forwarding(&parse(&args(list)).unwrap().options);
        assert_eq!(wanted(&["host"]), Forwarding::default());
        assert!(wanted(&["-A", "host"]).agent);
        assert!(wanted(&["-tA", "host"]).agent);
        assert!(wanted(&["-oForwardAgent=yes", "host"]).agent);
        assert!(wanted(&["-o", "forwardagent /tmp/sock", "host"]).agent);
        assert!(!wanted(&["-o", "ForwardAgent=no", "host"]).agent);
        assert!(!wanted(&["-p", "2222", "-i", "xA", "host"]).agent);
        for spelling in [
            &["-L", "80:localhost:80", "host"][..],
            &["-L80:localhost:80", "host"],
            &["-NfD", "1080", "host"],
            &["-R", "9000:localhost:9000", "host"],
            &["-W", "db:5432", "host"],
            &["host", "-o", "LocalForward 80 localhost:80"],
            &["-oDynamicForward=1080", "host"],
        ] {
            let got = wanted(spelling);
            assert!(got.ports && !got.agent, "{spelling:?}");
        }
    }

    #[test]
    fn zt_options_come_first_and_the_destination_after_double_dash() {
        let inv = parse(&args(&[
            "-o",
            "UserKnownHostsFile=/tmp/evil",
            "host",
            "true",
        ]))
        .unwrap();
        let built = build(
            &inv,
            &Identity::File {
                key: "/r/k".into(),
                certificate: "/r/c".into(),
                known_hosts: "/r/kh".into(),
            },
        );
        let text: Vec<String> = built
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let ours = text
            .iter()
            .position(|a| a == "UserKnownHostsFile=/r/kh")
            .unwrap();
        let theirs = text
            .iter()
            .position(|a| a == "UserKnownHostsFile=/tmp/evil")
            .unwrap();
        assert!(ours < theirs);
        let dd = text.iter().position(|a| a == "--").unwrap();
        assert_eq!(&text[dd + 1..], ["host", "true"]);
        assert!(text.contains(&"IdentityAgent=none".to_string()));
    }

    #[test]
    fn with_the_agent_the_certificate_is_the_identity_and_no_certificate_file_is_named() {
        let inv = parse(&args(&["host"])).unwrap();
        let built = build(
            &inv,
            &Identity::Agent {
                certificate: "/r/c".into(),
                known_hosts: "/r/kh".into(),
            },
        );
        let text: Vec<String> = built
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert!(text.contains(&"IdentityFile=/r/c".to_string()), "{text:?}");
        assert!(
            !text.iter().any(|a| a.starts_with("CertificateFile=")),
            "{text:?}"
        );
        assert!(
            !text.iter().any(|a| a.starts_with("IdentityAgent=")),
            "{text:?}"
        );
    }
}
