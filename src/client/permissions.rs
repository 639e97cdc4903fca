//! What the current certificate permits, checked before ssh runs, so a
//! refused `-A` or `-L` fails with the reason instead of sshd's silent
//! "refused" (or a tunnel that never opens).

use ssh_key::Certificate;

use super::error::Error;
use super::paths::Paths;
use super::ssh_args::Forwarding;

pub const AGENT_FORWARDING: &str = "permit-agent-forwarding";
pub const PORT_FORWARDING: &str = "permit-port-forwarding";

/// The extensions `wanted` needs that `cert` lacks. Pure.
pub fn missing(cert: &Certificate, wanted: Forwarding) -> Vec<&'static str> {
    let has = |name: &str| cert.extensions().contains_key(name);
    let mut out = Vec::new();
    if wanted.agent && !has(AGENT_FORWARDING) {
        out.push(AGENT_FORWARDING);
    }
    if wanted.ports && !has(PORT_FORWARDING) {
        out.push(PORT_FORWARDING);
    }
    out
}

/// Refuse (exit 4) when the profile's certificate does not grant `wanted`.
pub fn require(paths: &Paths, rule: &str, wanted: Forwarding) -> Result<(), Error> {
    if wanted == Forwarding::default() {
        return Ok(());
    }
    let path = paths.certificate_file();
    let cert = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| Certificate::from_openssh(t.trim()).ok())
        .ok_or_else(|| {
            Error::NotLoggedIn(format!("cannot read the certificate {}", path.display()))
        })?;
    let missing = missing(&cert, wanted);
    let Some(first) = missing.first() else {
        return Ok(());
    };
    let what = if *first == AGENT_FORWARDING {
        "agent forwarding (-A, ForwardAgent)"
    } else {
        "port forwarding (-L, -R, -D, -W)"
    };
    Err(Error::NotGranted {
        what,
        rule: rule.to_owned(),
        missing,
    })
}
