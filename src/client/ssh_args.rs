//! Building the `ssh` command line for `zt ssh`. Pure.
//!
//! zt's options go first, because ssh keeps the first value it sees for an
//! option. The destination is passed after `--`, so a host name can never
//! be read as an option; one that starts with `-` is refused outright.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::paths::Paths;

/// ssh options that take an argument (OpenSSH 9: `ssh -h` usage).
const WITH_ARGUMENT: &str = "BbcDEeFIiJLlmOoPpQRSWw";
/// ssh options that take none.
const FLAGS: &str = "46AaCfGgKkMNnqsTtVvXxYy";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshInvocation {
    /// The user's options, in order, unchanged.
    pub options: Vec<OsString>,
    pub destination: String,
    pub command: Vec<OsString>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshArgsError {
    #[error("no destination given: zt ssh [ssh options] [user@]host [command…]")]
    NoDestination,
    #[error("ssh option -{0} needs a value")]
    MissingValue(char),
    #[error("unknown ssh option -{0} (zt ssh passes ssh(1)'s own options; see `zt ssh --help`)")]
    UnknownOption(char),
    #[error("destination {0:?} looks like an option or contains control characters; refused")]
    BadDestination(String),
}

/// Split `zt ssh` arguments into ssh options, destination and command.
///
/// Like ssh itself, options may also follow the destination
/// (`zt ssh host -p 2222 -- id -un`); a `--` ends the options and is not
/// part of the remote command.
pub fn parse(args: &[OsString]) -> Result<SshInvocation, SshArgsError> {
    let mut options = Vec::new();
    let mut i = take_options(args, 0, &mut options)?;
    if args.get(i).is_some_and(|a| a == "--") {
        i += 1;
    }
    let destination = args
        .get(i)
        .ok_or(SshArgsError::NoDestination)?
        .to_string_lossy()
        .into_owned();
    if destination.is_empty()
        || destination.starts_with('-')
        || destination.chars().any(char::is_control)
    {
        return Err(SshArgsError::BadDestination(destination));
    }
    let mut i = take_options(args, i + 1, &mut options)?;
    if args.get(i).is_some_and(|a| a == "--") {
        i += 1;
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
    let mut wanted = Forwarding::default();
    let mut i = 0;
    while i < options.len() {
        let arg = options[i].to_string_lossy();
        let letters: Vec<char> = arg.chars().skip(1).collect();
        for (pos, c) in letters.iter().enumerate() {
            if WITH_ARGUMENT.contains(*c) {
                let value: String = if pos + 1 == letters.len() {
                    i += 1;
                    options
                        .get(i)
                        .map(|v| v.to_string_lossy().into_owned())
                        .unwrap_or_default()
                } else {
                    letters[pos + 1..].iter().collect()
                };
                match c {
                    'L' | 'R' | 'D' | 'W' => wanted.ports = true,
                    'o' => apply_option(&value, &mut wanted),
                    _ => {}
                }
                break;
            } else if *c == 'A' {
                wanted.agent = true;
            }
        }
        i += 1;
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
        assert_eq!(
            parse(&args(&["host\nx"])),
            Err(SshArgsError::BadDestination("host\nx".into()))
        );
        assert_eq!(parse(&args(&["-p"])), Err(SshArgsError::MissingValue('p')));
        assert_eq!(
            parse(&args(&["-Z", "host"])),
            Err(SshArgsError::UnknownOption('Z'))
        );
        assert_eq!(parse(&args(&["-v"])), Err(SshArgsError::NoDestination));
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
