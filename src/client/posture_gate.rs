//! The check before each connection: a certificate issued under posture requirements is
//! used only while this device still meets them. The checks run locally (no network); when
//! one fails that passed at issue, the certificate is removed from the agent and the runtime
//! dir before ssh can use it. The broker enforces the same through the certificate's short
//! life (`posture_ttl`).

use super::error::Error;
use super::paths::Paths;
use super::session::{self, Session};
use crate::posture::{self, Machine, Scope};
use zt_core::posture::{Failing, evaluate};

/// Re-check the requirements of the session's certificate on `machine`; on failure remove
/// the certificate and say which requirements failed.
pub fn recheck(paths: &Paths, session: &mut Session, machine: &dyn Machine) -> Result<(), Error> {
    let failing = match session.certificate.as_ref() {
        Some(cert) => match &cert.posture {
            Some(outcome) => {
                let requirements = &outcome.requirements;
                let scope = Scope {
                    checks: requirements.checks.clone(),
                    processes: !requirements.processes.is_empty(),
                };
                let report = posture::collect(machine, &scope);
                newly_failing(evaluate(&report, requirements).failing, &outcome.warnings)
            }
            None => return Ok(()),
        },
        None => return Ok(()),
    };
    if failing.is_empty() {
        return Ok(());
    }
    let rule = session
        .certificate
        .as_ref()
        .map(|c| c.rule.clone())
        .unwrap_or_default();
    session::discard_certificate(paths, session)?;
    Err(Error::PostureLost { rule, failing })
}

/// What fails now and was not already failing (in grace) when the certificate was issued.
fn newly_failing(now: Vec<Failing>, at_issue: &[Failing]) -> Vec<Failing> {
    now.into_iter()
        .filter(|f| !at_issue.iter().any(|w| w.requirement == f.requirement))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing(name: &str) -> Failing {
        Failing {
            requirement: name.into(),
            evidence: "e".into(),
            fix: None,
            check: None,
        }
    }

    #[test]
    fn a_requirement_in_grace_at_issue_does_not_end_the_certificate() {
        let now = vec![failing("firewall"), failing("disk_encryption")];
        let left = newly_failing(now, &[failing("firewall")]);
        assert_eq!(left, [failing("disk_encryption")]);
    }
}
