//! Local device checks: what the machine says about itself. Reported by
//! `zt posture`; not yet enforced by the broker (see README, "Not done yet").

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostureReport {
    pub os: String,
    pub os_version: Option<String>,
    pub arch: String,
    pub kernel: Option<String>,
    pub zt_version: String,
}

pub fn collect() -> PostureReport {
    PostureReport {
        os: std::env::consts::OS.to_owned(),
        os_version: os_version(),
        arch: std::env::consts::ARCH.to_owned(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned()),
        zt_version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// `PRETTY_NAME` from os-release (Linux).
fn os_version() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    parse_os_release(&text)
}

fn parse_os_release(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| {
            v.trim_matches('"')
                .chars()
                .filter(|c| !c.is_control())
                .collect()
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn os_release_pretty_name() {
        let text = "NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            super::parse_os_release(text).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(super::parse_os_release("NAME=x\n"), None);
    }
}
