//! The value formats an OpenSSH certificate carries: principal names, the
//! user-certificate extensions zt knows, and the `force-command` and
//! `source-address` critical options.
//!
//! Both the policy loader (to reject a bad rule when the file is read) and the
//! certificate builder (so nothing malformed is ever signed) call these checks,
//! so the two can never disagree about what is acceptable.

use std::fmt;
use std::net::IpAddr;

/// The user-certificate extensions zt will put in a certificate, as named in
/// OpenSSH's PROTOCOL.certkeys. Anything else is refused: an extension sshd does
/// not know is silently ignored, which would hide a typo in a policy.
pub const USER_EXTENSIONS: [&str; 5] = [
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
];

/// Longest principal accepted, in bytes. Login and host names are far shorter;
/// the cap keeps certificates and log lines bounded.
pub const MAX_PRINCIPAL_LEN: usize = 256;

/// Why a principal name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalError {
    Empty,
    TooLong,
    Whitespace,
    ControlCharacter,
    /// sshd splits `AuthorizedPrincipalsFile` entries and `-n` lists on commas.
    Comma,
    /// A leading `-` could be read as an option by tools that get the name as an argument.
    LeadingDash,
}

impl fmt::Display for PrincipalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "it is empty",
            Self::TooLong => "it is longer than 256 bytes",
            Self::Whitespace => "it contains whitespace",
            Self::ControlCharacter => "it contains a control character",
            Self::Comma => "it contains a comma",
            Self::LeadingDash => "it starts with '-'",
        })
    }
}

/// Checks one principal (a login name in a user certificate, a host name in a
/// host certificate).
pub fn check_principal(principal: &str) -> Result<(), PrincipalError> {
    if principal.is_empty() {
        return Err(PrincipalError::Empty);
    }
    if principal.len() > MAX_PRINCIPAL_LEN {
        return Err(PrincipalError::TooLong);
    }
    if principal.starts_with('-') {
        return Err(PrincipalError::LeadingDash);
    }
    for c in principal.chars() {
        // Control first: '\n' is both, and "control character" is the sharper message.
        if c.is_control() {
            return Err(PrincipalError::ControlCharacter);
        }
        if c.is_whitespace() {
            return Err(PrincipalError::Whitespace);
        }
        if c == ',' {
            return Err(PrincipalError::Comma);
        }
    }
    Ok(())
}

/// Whether `name` is one of [`USER_EXTENSIONS`].
pub fn is_known_user_extension(name: &str) -> bool {
    USER_EXTENSIONS.contains(&name)
}

/// Why a `force-command` value is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForceCommandError {
    Empty,
    /// A newline or other control byte would let one command smuggle a second
    /// line into logs or shells.
    ControlCharacter,
}

impl fmt::Display for ForceCommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the command is empty",
            Self::ControlCharacter => "the command contains a control character (e.g. a newline)",
        })
    }
}

/// Checks a `force-command` critical option value.
pub fn check_force_command(command: &str) -> Result<(), ForceCommandError> {
    if command.trim().is_empty() {
        return Err(ForceCommandError::Empty);
    }
    if command.chars().any(char::is_control) {
        return Err(ForceCommandError::ControlCharacter);
    }
    Ok(())
}

/// Why a `source-address` list is refused. `entry` is the offending list item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAddressError {
    pub entry: String,
    pub reason: SourceAddressProblem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceAddressProblem {
    /// Empty list, or an empty item between commas.
    EmptyEntry,
    NotAnAddress,
    PrefixTooLong,
    /// `10.0.0.1/8`: sshd refuses the whole certificate for this
    /// ("inconsistent mask length"), so we refuse it up front.
    HostBitsSet,
}

impl fmt::Display for SourceAddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entry = self.entry.escape_debug();
        match self.reason {
            SourceAddressProblem::EmptyEntry => {
                f.write_str("empty entry (write addresses separated by single commas)")
            }
            SourceAddressProblem::NotAnAddress => write!(
                f,
                "\"{entry}\" is not an IPv4/IPv6 address or CIDR block (no spaces or host names)"
            ),
            SourceAddressProblem::PrefixTooLong => {
                write!(f, "\"{entry}\" has a prefix length beyond the address size")
            }
            SourceAddressProblem::HostBitsSet => write!(
                f,
                "\"{entry}\" has bits set after the prefix; write the network address"
            ),
        }
    }
}

/// Checks a `source-address` critical option: a comma-separated list of IPv4 or
/// IPv6 addresses or CIDR blocks, in exactly the form sshd accepts (no spaces,
/// no host bits after the prefix).
pub fn check_source_address(list: &str) -> Result<(), SourceAddressError> {
    for entry in list.split(',') {
        check_source_entry(entry).map_err(|reason| SourceAddressError {
            entry: entry.to_owned(),
            reason,
        })?;
    }
    Ok(())
}

fn check_source_entry(entry: &str) -> Result<(), SourceAddressProblem> {
    if entry.is_empty() {
        return Err(SourceAddressProblem::EmptyEntry);
    }
    let (addr_text, prefix_text) = match entry.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (entry, None),
    };
    let addr: IpAddr = addr_text
        .parse()
        .map_err(|_| SourceAddressProblem::NotAnAddress)?;
    let Some(prefix_text) = prefix_text else {
        return Ok(());
    };
    // Only plain decimal digits: u32's parser would also take "+8".
    if prefix_text.is_empty()
        || prefix_text.len() > 3
        || !prefix_text.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(SourceAddressProblem::NotAnAddress);
    }
    let prefix: u32 = prefix_text
        .parse()
        .map_err(|_| SourceAddressProblem::NotAnAddress)?;
    let (bits, width) = match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    if prefix > width {
        return Err(SourceAddressProblem::PrefixTooLong);
    }
    let host_bits = width - prefix;
    let host_mask = if host_bits == 0 {
        0
    } else {
        u128::MAX >> (128 - host_bits)
    };
    if bits & host_mask != 0 {
        return Err(SourceAddressProblem::HostBitsSet);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals() {
        assert_eq!(check_principal("ops"), Ok(()));
        assert_eq!(check_principal("deploy-bot.2@x"), Ok(()));
        assert_eq!(check_principal(&"a".repeat(256)), Ok(()));
        assert_eq!(check_principal(""), Err(PrincipalError::Empty));
        assert_eq!(
            check_principal(&"a".repeat(257)),
            Err(PrincipalError::TooLong)
        );
        assert_eq!(check_principal("a b"), Err(PrincipalError::Whitespace));
        assert_eq!(check_principal("a\u{a0}b"), Err(PrincipalError::Whitespace));
        assert_eq!(
            check_principal("a\nb"),
            Err(PrincipalError::ControlCharacter)
        );
        assert_eq!(
            check_principal("a\u{7f}"),
            Err(PrincipalError::ControlCharacter)
        );
        assert_eq!(check_principal("root,ops"), Err(PrincipalError::Comma));
        assert_eq!(
            check_principal("-oProxyCommand"),
            Err(PrincipalError::LeadingDash)
        );
    }

    #[test]
    fn extensions() {
        assert!(is_known_user_extension("permit-pty"));
        assert!(is_known_user_extension("permit-X11-forwarding"));
        assert!(!is_known_user_extension("permit-x11-forwarding"));
        assert!(!is_known_user_extension("no-touch-required"));
    }

    #[test]
    fn force_command() {
        assert_eq!(check_force_command("/usr/local/bin/deploy --prod"), Ok(()));
        assert_eq!(check_force_command(" "), Err(ForceCommandError::Empty));
        assert_eq!(
            check_force_command("true\nrm -rf /"),
            Err(ForceCommandError::ControlCharacter)
        );
        assert_eq!(
            check_force_command("a\tb"),
            Err(ForceCommandError::ControlCharacter)
        );
    }

    fn problem(list: &str) -> Option<SourceAddressProblem> {
        check_source_address(list).err().map(|e| e.reason)
    }

    #[test]
    fn source_addresses_accepted() {
        for ok in [
            "10.0.0.0/8",
            "192.0.2.1",
            "10.0.0.0/8,192.0.2.1",
            "192.0.2.1/32",
            "0.0.0.0/0",
            "2001:db8::/32",
            "2001:db8::1",
            "::ffff:192.0.2.1",
            "::/0",
            "2001:db8::1/128",
        ] {
            assert_eq!(check_source_address(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn source_addresses_refused() {
        use SourceAddressProblem::*;
        assert_eq!(problem(""), Some(EmptyEntry));
        assert_eq!(problem("10.0.0.0/8,"), Some(EmptyEntry));
        assert_eq!(problem("10.0.0.0/8, 192.0.2.1"), Some(NotAnAddress));
        assert_eq!(problem("host.example"), Some(NotAnAddress));
        assert_eq!(problem("10.0.0.0/"), Some(NotAnAddress));
        assert_eq!(problem("10.0.0.0/+8"), Some(NotAnAddress));
        assert_eq!(problem("10.0.0.0/8/8"), Some(NotAnAddress));
        assert_eq!(problem("10.0.0.0/33"), Some(PrefixTooLong));
        assert_eq!(problem("2001:db8::/129"), Some(PrefixTooLong));
        assert_eq!(problem("10.0.0.1/8"), Some(HostBitsSet));
        assert_eq!(problem("2001:db8::1/32"), Some(HostBitsSet));
        let err = check_source_address("10.0.0.0/8,bad\n").unwrap_err();
        assert_eq!(err.entry, "bad\n");
        assert!(err.to_string().contains("bad\\n"), "{err}");
    }
}
