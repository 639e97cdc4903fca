//! Building the `ssh` command line for `zt ssh`. Pure.
//!
//! zt's options go first, because ssh keeps the first value it sees for an
//! option. The destination is passed after `--`, so a host name can never
//! be read as an option; one that starts with `-` is refused outright.

use std::ffi::OsString;
use std::path::Path;

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
    #[error("unknown ssh option -{0}")]
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

/// Where the certificate and key are.
pub struct Identity<'a> {
    pub certificate: &'a Path,
    /// The private key file, or the certificate file when the key is in
    /// the agent (ssh then asks the agent to sign with that entry).
    pub identity_file: &'a Path,
    pub known_hosts: &'a Path,
    pub use_agent: bool,
}

/// The full argument list for `ssh` (without the program name).
pub fn build(inv: &SshInvocation, id: &Identity<'_>) -> Vec<OsString> {
    let opt = |k: &str, v: &Path| OsString::from(format!("{k}={}", v.display()));
    let mut out: Vec<OsString> = vec![
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-o".into(),
        opt("CertificateFile", id.certificate),
        "-o".into(),
        opt("IdentityFile", id.identity_file),
        "-o".into(),
        opt("UserKnownHostsFile", id.known_hosts),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
    ];
    if !id.use_agent {
        out.extend(["-o".into(), "IdentityAgent=none".into()]);
    }
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
            &Identity {
                certificate: Path::new("/r/c"),
                identity_file: Path::new("/r/k"),
                known_hosts: Path::new("/r/kh"),
                use_agent: false,
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
}
