//! What a matching rule grants ([`Grant`]) and what one request gets after
//! narrowing it ([`Issue`]). A request can only ask for less than the rule
//! grants; asking for more is an error, never silently clamped, so a client
//! always knows exactly what it got.

use super::duration::DisplayDuration;
use crate::text::PrintableList;
use std::collections::BTreeSet;
use std::time::Duration;

/// Shortest certificate lifetime issued or configured. Anything shorter is
/// likely to expire before ssh finishes connecting.
pub const MIN_TTL: Duration = Duration::from_secs(60);

/// Everything the first matching rule allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub rule: String,
    pub principals: Vec<String>,
    pub default_ttl: Duration,
    pub max_ttl: Duration,
    pub extensions: BTreeSet<String>,
    pub force_command: Option<String>,
    pub source_address: Option<String>,
    /// What the device must be and prove.
    pub require: super::require::Require,
    /// Services `zt token --audience` may get tokens for.
    pub audiences: Vec<String>,
}

/// What one certificate will carry, after the request narrowed the grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub rule: String,
    pub principals: Vec<String>,
    pub ttl: Duration,
    pub extensions: BTreeSet<String>,
    pub force_command: Option<String>,
    pub source_address: Option<String>,
}

/// Why a request asked for something the rule does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NarrowError {
    #[error(
        "principal(s) [{}] not granted by rule \"{rule}\"; it grants [{}]",
        PrintableList(not_granted),
        PrintableList(granted)
    )]
    PrincipalsNotGranted {
        rule: String,
        not_granted: Vec<String>,
        granted: Vec<String>,
    },
    #[error(
        "requested lifetime {} is above rule \"{rule}\"'s max_ttl of {}; ask for {} or less",
        DisplayDuration(*requested),
        DisplayDuration(*max),
        DisplayDuration(*max)
    )]
    TtlAboveMax {
        rule: String,
        requested: Duration,
        max: Duration,
    },
    #[error(
        "requested lifetime {} is below the minimum of {}",
        DisplayDuration(*requested),
        DisplayDuration(*min)
    )]
    TtlBelowMinimum { requested: Duration, min: Duration },
    #[error(
        "the request lists no principals; leave the list out to get every principal the rule grants"
    )]
    NoPrincipalsRequested,
}

impl Grant {
    /// Requested values can only narrow what the rule grants; asking for more
    /// is an error (never silently clamped).
    ///
    /// - `requested_principals`: `None` takes every granted principal; a list
    ///   must be non-empty and a subset of the grant. The result keeps the
    ///   rule's order and drops repeats.
    /// - `requested_ttl`: `None` takes the rule's default ttl; otherwise it
    ///   must lie within [`MIN_TTL`]..=`max_ttl`.
    pub fn narrow(
        &self,
        requested_principals: Option<&[String]>,
        requested_ttl: Option<Duration>,
    ) -> Result<Issue, NarrowError> {
        let principals = match requested_principals {
            None => self.principals.clone(),
            Some([]) => return Err(NarrowError::NoPrincipalsRequested),
            Some(requested) => {
                let mut not_granted: Vec<String> = Vec::new();
                for p in requested {
                    if !self.principals.contains(p) && !not_granted.contains(p) {
                        not_granted.push(p.clone());
                    }
                }
                if !not_granted.is_empty() {
                    return Err(NarrowError::PrincipalsNotGranted {
                        rule: self.rule.clone(),
                        not_granted,
                        granted: self.principals.clone(),
                    });
                }
                self.principals
                    .iter()
                    .filter(|p| requested.contains(p))
                    .cloned()
                    .collect()
            }
        };
        // A certificate issued on a posture report lives no longer than `posture_ttl`, so
        // each renewal checks the device again.
        let cap = match self.require.posture {
            Some(_) => self.require.posture_ttl,
            None => Duration::MAX,
        };
        let ttl = match requested_ttl {
            None => self.default_ttl.min(cap),
            Some(ttl) if ttl > self.max_ttl => {
                return Err(NarrowError::TtlAboveMax {
                    rule: self.rule.clone(),
                    requested: ttl,
                    max: self.max_ttl,
                });
            }
            Some(ttl) if ttl < MIN_TTL => {
                return Err(NarrowError::TtlBelowMinimum {
                    requested: ttl,
                    min: MIN_TTL,
                });
            }
            Some(ttl) => ttl.min(cap),
        };
        Ok(Issue {
            rule: self.rule.clone(),
            principals,
            ttl,
            extensions: self.extensions.clone(),
            force_command: self.force_command.clone(),
            source_address: self.source_address.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            rule: "sre".into(),
            principals: vec!["ops".into(), "deploy".into(), "read".into()],
            default_ttl: Duration::from_secs(1800),
            max_ttl: Duration::from_secs(7200),
            extensions: ["permit-pty".to_string()].into(),
            force_command: Some("/bin/deploy".into()),
            source_address: Some("10.0.0.0/8".into()),
            require: super::super::Require::default(),
            audiences: vec![],
        }
    }

    #[test]
    fn posture_caps_the_lifetime() {
        let mut g = grant();
        g.require.posture = Some(crate::posture::Requirements {
            checks: vec![crate::posture::Check::Firewall],
            ..Default::default()
        });
        g.require.posture_ttl = Duration::from_secs(900);
        assert_eq!(g.narrow(None, None).unwrap().ttl, Duration::from_secs(900));
        let asked = g.narrow(None, Some(Duration::from_secs(3600))).unwrap();
        assert_eq!(asked.ttl, Duration::from_secs(900));
        let shorter = g.narrow(None, Some(Duration::from_secs(120))).unwrap();
        assert_eq!(shorter.ttl, Duration::from_secs(120));
    }

    fn names(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn nothing_requested_gives_the_grant_with_default_ttl() {
        let issue = grant().narrow(None, None).unwrap();
        assert_eq!(
            issue,
            Issue {
                rule: "sre".into(),
                principals: names(&["ops", "deploy", "read"]),
                ttl: Duration::from_secs(1800),
                extensions: ["permit-pty".to_string()].into(),
                force_command: Some("/bin/deploy".into()),
                source_address: Some("10.0.0.0/8".into()),
            }
        );
    }

    #[test]
    fn subset_is_allowed_in_rule_order_without_repeats() {
        let requested = names(&["read", "ops", "read"]);
        let issue = grant()
            .narrow(Some(&requested), Some(Duration::from_secs(7200)))
            .unwrap();
        assert_eq!(issue.principals, names(&["ops", "read"]));
        assert_eq!(issue.ttl, Duration::from_secs(7200));
    }

    #[test]
    fn superset_is_an_error_naming_what_is_granted() {
        let requested = names(&["ops", "root", "admin", "root"]);
        let err = grant().narrow(Some(&requested), None).unwrap_err();
        assert_eq!(
            err,
            NarrowError::PrincipalsNotGranted {
                rule: "sre".into(),
                not_granted: names(&["root", "admin"]),
                granted: names(&["ops", "deploy", "read"]),
            }
        );
        assert_eq!(
            err.to_string(),
            "principal(s) [root, admin] not granted by rule \"sre\"; it grants [ops, deploy, read]"
        );
    }

    #[test]
    fn empty_principal_list_is_an_error() {
        assert_eq!(
            grant().narrow(Some(&[]), None),
            Err(NarrowError::NoPrincipalsRequested)
        );
    }

    #[test]
    fn ttl_above_max_is_an_error_not_a_clamp() {
        let ten_years = Duration::from_secs(10 * 365 * 86_400);
        let err = grant().narrow(None, Some(ten_years)).unwrap_err();
        assert_eq!(
            err,
            NarrowError::TtlAboveMax {
                rule: "sre".into(),
                requested: ten_years,
                max: Duration::from_secs(7200),
            }
        );
        assert_eq!(
            err.to_string(),
            "requested lifetime 3650d is above rule \"sre\"'s max_ttl of 2h; ask for 2h or less"
        );
        let just_over = Duration::from_secs(7200) + Duration::from_millis(1);
        assert!(matches!(
            grant().narrow(None, Some(just_over)),
            Err(NarrowError::TtlAboveMax { .. })
        ));
    }

    #[test]
    fn ttl_below_minimum_is_an_error() {
        let err = grant()
            .narrow(None, Some(Duration::from_secs(59)))
            .unwrap_err();
        assert_eq!(
            err,
            NarrowError::TtlBelowMinimum {
                requested: Duration::from_secs(59),
                min: MIN_TTL,
            }
        );
        assert_eq!(
            err.to_string(),
            "requested lifetime 59s is below the minimum of 1m"
        );
        assert_eq!(grant().narrow(None, Some(MIN_TTL)).unwrap().ttl, MIN_TTL);
    }
}
