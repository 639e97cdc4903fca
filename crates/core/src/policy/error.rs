//! What can go wrong with a policy: loading it ([`PolicyError`]) and finding
//! no rule for an identity ([`Denial`]). Every message names the rule or line
//! and says what to change; identity values are printed with control
//! characters escaped, because they come from the IdP and end up in logs.

use super::duration::{DisplayDuration, DurationError};
use crate::ca::{ForceCommandError, PrincipalError, SourceAddressError};
use crate::text::{Printable, PrintableList};
use std::fmt;
use std::time::Duration;

/// Why a policy file was refused. A refused file never replaces a loaded one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is not valid TOML at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("policy{}: {message}; check the spelling against the policy format", at_line(*.line))]
    UnknownField {
        field: String,
        line: Option<usize>,
        message: String,
    },
    /// A missing required field or a value of the wrong type.
    #[error("policy{}: {message}", at_line(*.line))]
    Schema {
        line: Option<usize>,
        message: String,
    },
    #[error("policy has no rules, so it would deny everyone; add at least one [[rules]] table")]
    NoRules,
    #[error("rule name \"{name}\" is invalid: use 1-64 characters from A-Z a-z 0-9 . _ -")]
    BadRuleName { name: String },
    #[error("rule name \"{name}\" is used twice; rule names must be unique")]
    DuplicateRuleName { name: String },
    #[error(
        "rule \"{rule}\" has no match conditions; add `match.everyone = true` to match every identity, or match on issuers, subjects, email_domains or groups"
    )]
    NoConditions { rule: String },
    #[error(
        "rule \"{rule}\": match.{condition} is an empty list, which matches nobody; remove it or list at least one value"
    )]
    EmptyCondition {
        rule: String,
        condition: &'static str,
    },
    #[error("rule \"{rule}\": match.{condition} value \"{value}\" is invalid: {reason}")]
    BadConditionValue {
        rule: String,
        condition: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("rule \"{rule}\": require.{field} = \"{value}\" is invalid: {reason}")]
    BadRequirement {
        rule: String,
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "rule \"{rule}\": match.subjects needs match.issuers too, because a subject is only unique within its issuer"
    )]
    SubjectsWithoutIssuers { rule: String },
    #[error(
        "rule \"{rule}\": match.claims needs match.issuers too, because a claim means what its issuer says it means"
    )]
    ClaimsWithoutIssuers { rule: String },
    #[error("rule \"{rule}\": audience \"{audience}\" is invalid: {reason}")]
    BadAudience {
        rule: String,
        audience: String,
        reason: &'static str,
    },
    #[error("rule \"{rule}\" grants no principals; add principals = [\"<login>\"]")]
    NoPrincipals { rule: String },
    #[error("rule \"{rule}\": principal \"{principal}\" is invalid: {reason}")]
    BadPrincipal {
        rule: String,
        principal: String,
        reason: PrincipalError,
    },
    #[error("rule \"{rule}\": principal \"{principal}\" is listed twice")]
    DuplicatePrincipal { rule: String, principal: String },
    #[error("rule \"{rule}\": unknown extension \"{extension}\"; allowed: {}", crate::ca::USER_EXTENSIONS.join(", "))]
    UnknownExtension { rule: String, extension: String },
    #[error("rule \"{rule}\": force_command is invalid: {reason}")]
    BadForceCommand {
        rule: String,
        reason: ForceCommandError,
    },
    #[error("rule \"{rule}\": source_address is invalid: {reason}")]
    BadSourceAddress {
        rule: String,
        reason: SourceAddressError,
    },
    #[error("{scope}: {field} = \"{value}\" is invalid: {reason}")]
    BadDuration {
        scope: String,
        field: &'static str,
        value: String,
        reason: DurationError,
    },
    #[error("{scope}: ttl {} is below the 60s minimum", DisplayDuration(*.ttl))]
    TtlTooShort { scope: String, ttl: Duration },
    #[error(
        "{scope}: ttl {} is above max_ttl {} (values a rule leaves out come from [defaults]); lower ttl or raise max_ttl",
        DisplayDuration(*.ttl),
        DisplayDuration(*.max_ttl)
    )]
    TtlAboveMax {
        scope: String,
        ttl: Duration,
        max_ttl: Duration,
    },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" line {l}")).unwrap_or_default()
}

/// No rule matched the identity. The message names the identity and its
/// groups so the user can hand it to an admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Denial {
    pub issuer: String,
    pub subject: String,
    pub groups: Vec<String>,
    /// For a workload: why each rule for workloads did not match (`rule "x": no match: …`).
    pub workload: Option<Vec<String>>,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(traces) = &self.workload {
            write!(
                f,
                "no policy rule matches workload iss={} sub={}",
                Printable(&self.issuer),
                Printable(&self.subject),
            )?;
            if traces.is_empty() {
                f.write_str(" (the policy has no rule for workloads)")?;
            } else {
                write!(f, " ({})", traces.join("; "))?;
            }
            return f.write_str(
                "; ask a zt admin for a rule whose match.issuers and match.claims fit this job",
            );
        }
        write!(
            f,
            "no policy rule matches iss={} sub={} groups=[{}]; ",
            Printable(&self.issuer),
            Printable(&self.subject),
            PrintableList(&self.groups),
        )?;
        if self.groups.is_empty() {
            f.write_str("ask a zt admin to add a rule for this issuer and subject")
        } else {
            f.write_str("ask a zt admin to add a rule for one of these groups")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_names_identity_and_groups() {
        let denial = Denial {
            issuer: "https://idp".into(),
            subject: "bob".into(),
            groups: vec!["dev".into()],
            workload: None,
        };
        assert_eq!(
            denial.to_string(),
            "no policy rule matches iss=https://idp sub=bob groups=[dev]; ask a zt admin to add a rule for one of these groups"
        );
    }

    #[test]
    fn denial_without_groups_and_with_hostile_values() {
        let denial = Denial {
            issuer: "https://idp".into(),
            subject: "bob\nFAKE LOG LINE\u{1b}[2J".into(),
            groups: vec![],
            workload: None,
        };
        let text = denial.to_string();
        assert!(!text.chars().any(char::is_control), "{text}");
        assert!(
            text.contains(r"sub=bob\nFAKE LOG LINE\u{1b}[2J groups=[]"),
            "{text}"
        );
        assert!(
            text.ends_with("add a rule for this issuer and subject"),
            "{text}"
        );
    }

    #[test]
    fn optional_line_numbers() {
        let e = PolicyError::Schema {
            line: Some(3),
            message: "missing field `name`".into(),
        };
        assert_eq!(e.to_string(), "policy line 3: missing field `name`");
        let e = PolicyError::Schema {
            line: None,
            message: "x".into(),
        };
        assert_eq!(e.to_string(), "policy: x");
    }
}
