//! The ssh_config that lets plain `ssh`, `scp`, `rsync`, `git`, Ansible and
//! IDE plugins use zt's certificate. Pure text in, text out; the command in
//! `cli/ssh_config.rs` does the file I/O.
//!
//! One zt-owned file per profile (`~/.ssh/zt/<profile>.conf`) holds two
//! blocks for the chosen host patterns:
//!
//! ```text
//! Match originalhost "a,b" exec "'/usr/bin/zt' --profile 'default' ssh-config check"
//! Host a b
//!     IdentityFile "…/ssh-identity"  CertificateFile "…/ssh-certificate"  IdentitiesOnly yes …
//! ```
//!
//! The `Match exec` block is empty on purpose: the check runs for its side
//! effect (renew, or tell the user to log in) and its exit status selects
//! nothing. The identity options sit in the unconditional `Host` block, so a
//! failed check makes ssh fail closed with zt's (missing or expired)
//! identity and zt's known_hosts, never fall back to the user's other keys
//! or to trust on first use.
//!
//! The user's `~/.ssh/config` gets one `Include` line at the very top: ssh
//! keeps the first value it reads for an option, and an `Include` further
//! down would sit inside whatever `Host` block came before it.

use std::path::Path;

/// First line of every file zt writes here; `uninstall` only removes files
/// that start with it.
pub const MARKER: &str = "# Written by zt (zt ssh-config install); do not edit, zt rewrites it.";
/// The comment line zt puts right above its `Include` line.
pub const INCLUDE_COMMENT: &str =
    "# Added by zt: `zt ssh-config uninstall` removes these two lines.";
const HOSTS_PREFIX: &str = "# hosts: ";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshConfigError {
    #[error("host pattern {0:?} may only contain letters, digits and . - _ * ? ! : [ ]")]
    BadPattern(String),
    #[error("no host patterns given")]
    NoPatterns,
    #[error("{0} contains a quote or a control character, which ssh_config cannot express")]
    Unquotable(String),
    #[error("{0} is not an absolute path")]
    NotAbsolute(String),
}

/// What one profile's block needs.
pub struct ZtBlock<'a> {
    pub profile: &'a str,
    /// The `zt` executable that `Match exec` runs.
    pub zt_program: &'a Path,
    pub hosts: &'a [String],
    pub identity: &'a Path,
    pub certificate: &'a Path,
    pub known_hosts: &'a Path,
}

/// Check a host pattern for `Host`/`Match originalhost`: no whitespace,
/// commas or quotes that would change how ssh splits the line.
pub fn check_pattern(pattern: &str) -> Result<(), SshConfigError> {
    let ok = !pattern.is_empty()
        && pattern.len() <= 253
        && pattern
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_*?!:[]".contains(c))
        && pattern != "!";
    if ok {
        Ok(())
    } else {
        Err(SshConfigError::BadPattern(pattern.to_owned()))
    }
}

/// A path as one double-quoted ssh_config argument. ssh expands `%` tokens
/// in the options zt writes, so `%` is doubled; a `"` cannot be escaped in
/// ssh_config and is refused.
pub fn quote_path(path: &Path) -> Result<String, SshConfigError> {
    let text = path.to_string_lossy();
    if !path.is_absolute() {
        return Err(SshConfigError::NotAbsolute(text.into_owned()));
    }
    if text.contains('"') || text.chars().any(char::is_control) {
        return Err(SshConfigError::Unquotable(text.into_owned()));
    }
    Ok(format!("\"{}\"", text.replace('%', "%%")))
}

/// A word for the shell that runs `Match exec` (`$SHELL -c`): single-quoted,
/// and a single quote inside is refused rather than escaped, so the same
/// text works in sh, bash, zsh and fish.
fn shell_word(path: &Path) -> Result<String, SshConfigError> {
    let text = path.to_string_lossy();
    if text.contains(['\'', '"']) || text.chars().any(char::is_control) {
        return Err(SshConfigError::Unquotable(text.into_owned()));
    }
    Ok(format!("'{}'", text.replace('%', "%%")))
}

/// The whole zt-owned file for one profile.
pub fn render(block: &ZtBlock<'_>) -> Result<String, SshConfigError> {
    if block.hosts.is_empty() {
        return Err(SshConfigError::NoPatterns);
    }
    for pattern in block.hosts {
        check_pattern(pattern)?;
    }
    crate::client::paths::check_profile(block.profile)
        .map_err(|_| SshConfigError::BadPattern(block.profile.to_owned()))?;
    let check = format!(
        "{} --profile '{}' ssh-config check",
        shell_word(block.zt_program)?,
        block.profile
    );
    Ok(format!(
        "{MARKER}
{HOSTS_PREFIX}{spaced}
# Profile {profile}. `Match exec` runs a local check (no network while the
# certificate is valid; otherwise a silent renewal, or a message to run
# `zt login`). Its result selects nothing: the Host block below always
# applies, so ssh fails closed rather than falling back to other keys.
Match originalhost \"{commas}\" exec \"{check}\"

Host {spaced}
    IdentityFile {identity}
    CertificateFile {certificate}
    IdentitiesOnly yes
    UserKnownHostsFile {known_hosts}
    StrictHostKeyChecking yes
    PasswordAuthentication no
    KbdInteractiveAuthentication no
",
        spaced = block.hosts.join(" "),
        commas = block.hosts.join(","),
        profile = block.profile,
        identity = quote_path(block.identity)?,
        certificate = quote_path(block.certificate)?,
        known_hosts = quote_path(block.known_hosts)?,
    ))
}

/// The host patterns of a file `render` wrote, if it is one.
pub fn installed_hosts(text: &str) -> Option<Vec<String>> {
    let mut lines = text.lines();
    if lines.next()? != MARKER {
        return None;
    }
    let hosts = lines.next()?.strip_prefix(HOSTS_PREFIX)?;
    Some(hosts.split_whitespace().map(str::to_owned).collect())
}

/// The `Include` line for zt's directory (absolute: `~` in ssh_config is
/// the passwd home directory, which need not be `$HOME`).
pub fn include_line(zt_dir: &Path) -> Result<String, SshConfigError> {
    Ok(format!("Include {}", quote_path(&zt_dir.join("*.conf"))?))
}

/// `text` with zt's comment and `include` added at the top, or `None`
/// when the `Include` line is already there (idempotent).
pub fn add_include(text: &str, include: &str) -> Option<String> {
    if text.lines().any(|l| l.trim() == include) {
        return None;
    }
    Some(format!("{INCLUDE_COMMENT}\n{include}\n{text}"))
}

/// `text` without zt's `Include` line (and the comment zt put above it),
/// byte-for-byte otherwise; `None` when there is nothing to remove.
pub fn remove_include(text: &str, include: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut removed = false;
    let mut pending_comment: Option<&str> = None;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if let Some(comment) = pending_comment.take() {
            if bare.trim() == include {
                removed = true;
                continue;
            }
            out.push_str(comment);
        }
        if bare == INCLUDE_COMMENT {
            pending_comment = Some(line);
        } else if bare.trim() == include {
            removed = true;
        } else {
            out.push_str(line);
        }
    }
    if let Some(comment) = pending_comment {
        out.push_str(comment);
    }
    removed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn block_text(hosts: &[&str], zt: &str) -> Result<String, SshConfigError> {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let run = PathBuf::from("/run/user/1000/zt 100%/default");
        render(&ZtBlock {
            profile: "default",
            zt_program: Path::new(zt),
            hosts: &hosts,
            identity: &run.join("ssh-identity"),
            certificate: &run.join("ssh-certificate"),
            known_hosts: &run.join("known_hosts"),
        })
    }

    #[test]
    fn the_block_quotes_paths_and_lists_the_hosts() {
        let text = block_text(&["*.prod", "bastion"], "/opt/my tools/zt").unwrap();
        assert!(text.contains(
            "Match originalhost \"*.prod,bastion\" exec \"'/opt/my tools/zt' --profile 'default' ssh-config check\""
        ), "{text}");
        assert!(text.contains("\nHost *.prod bastion\n"), "{text}");
        assert!(
            text.contains("IdentityFile \"/run/user/1000/zt 100%%/default/ssh-identity\""),
            "{text}"
        );
        assert!(text.contains("StrictHostKeyChecking yes"));
        assert_eq!(
            installed_hosts(&text),
            Some(vec!["*.prod".to_string(), "bastion".to_string()])
        );
        assert_eq!(installed_hosts("Host x\n"), None);
    }

    #[test]
    fn hostile_patterns_and_paths_are_refused() {
        for bad in ["", "a b", "a,b", "a\"b", "x\nHost *", "!", "a'b", "#x"] {
            assert!(
                matches!(
                    block_text(&[bad], "/bin/zt"),
                    Err(SshConfigError::BadPattern(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(block_text(&[], "/bin/zt"), Err(SshConfigError::NoPatterns));
        assert!(matches!(
            block_text(&["h"], "/bin/z't"),
            Err(SshConfigError::Unquotable(_))
        ));
        assert!(matches!(
            block_text(&["h"], "/bin/z\"t"),
            Err(SshConfigError::Unquotable(_))
        ));
        assert!(matches!(
            quote_path(Path::new("relative/x")),
            Err(SshConfigError::NotAbsolute(_))
        ));
    }

    #[test]
    fn include_is_added_once_at_the_top_and_removed_byte_for_byte() {
        let include = include_line(Path::new("/home/u/.ssh/zt")).unwrap();
        assert_eq!(include, "Include \"/home/u/.ssh/zt/*.conf\"");
        let user = "Host *\n  ServerAliveInterval 30\r\n# mine\n\nHost x\n  User y"; // no final newline
        let added = add_include(user, &include).unwrap();
        assert!(added.starts_with(&format!("{INCLUDE_COMMENT}\n{include}\n")));
        assert!(added.ends_with(user));
        assert_eq!(add_include(&added, &include), None);
        assert_eq!(remove_include(&added, &include).as_deref(), Some(user));
        assert_eq!(remove_include(user, &include), None);
        // An Include the user moved elsewhere, without zt's comment, is still zt's.
        let moved = format!("Host a\n  User b\n\n{include}\n");
        assert_eq!(
            remove_include(&moved, &include).as_deref(),
            Some("Host a\n  User b\n\n")
        );
        // zt's comment alone (the user deleted the Include) stays.
        let orphan = format!("{INCLUDE_COMMENT}\nHost a\n");
        assert_eq!(remove_include(&orphan, &include), None);
        assert_eq!(
            add_include("", &include).unwrap(),
            format!("{INCLUDE_COMMENT}\n{include}\n")
        );
    }
}
