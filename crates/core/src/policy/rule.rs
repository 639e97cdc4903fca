//! One policy rule: the conditions an identity must meet and what the rule
//! grants, plus how a rule is matched and explained.
//!
//! Semantics: every condition a rule lists must hold (AND across kinds); a
//! condition holds when the identity has any of its listed values (OR within a
//! list). Comparisons are exact, except email domains, which compare the part
//! after the last `@` of a *verified* email ASCII-case-insensitively.

use super::Identity;
use super::claims::ClaimConditions;
use super::grant::Grant;
use crate::text::PrintableList;
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

/// What an identity must satisfy for a rule to match. Built only by the
/// policy loader, which guarantees at least one condition is present and no
/// list is empty. (An empty value would match everyone, which is why there is
/// no public constructor and `Default` exists only for tests.)
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Default))]
pub struct Conditions {
    pub(super) issuers: Vec<String>,
    pub(super) subjects: Vec<String>,
    /// Stored lower-case.
    pub(super) email_domains: Vec<String>,
    pub(super) groups: Vec<String>,
    /// `match.claims`: present only on rules for workloads (CI jobs, service accounts).
    pub(super) claims: ClaimConditions,
    pub(super) everyone: bool,
}

impl Conditions {
    /// `match.issuers`; empty when the rule does not test the issuer.
    pub fn issuers(&self) -> &[String] {
        &self.issuers
    }
    /// `match.subjects`; empty when not tested.
    pub fn subjects(&self) -> &[String] {
        &self.subjects
    }
    /// `match.email_domains`, lower-cased; empty when not tested.
    pub fn email_domains(&self) -> &[String] {
        &self.email_domains
    }
    /// `match.groups`; empty when not tested.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }
    /// `match.everyone = true`.
    pub fn everyone(&self) -> bool {
        self.everyone
    }
    /// `match.claims`; empty on a rule for people.
    pub fn claims(&self) -> &ClaimConditions {
        &self.claims
    }
    /// Whether the rule is for workloads: it lists `match.claims`. People and workloads never
    /// share a rule, so a broad rule for people (`match.everyone`) never lets a CI job in, and
    /// a rule for a CI job never matches a person.
    pub fn for_workloads(&self) -> bool {
        !self.claims.is_empty()
    }

    /// Every condition the identity fails, in a fixed order. Empty means match.
    fn mismatches(&self, id: &Identity) -> Vec<Mismatch> {
        let mut failed = Vec::new();
        match (&id.workload, self.for_workloads()) {
            (Some(_), false) => failed.push(Mismatch::Workload),
            (None, true) => failed.push(Mismatch::NotAWorkload),
            _ => {}
        }
        if !self.issuers.is_empty() && !self.issuers.contains(&id.issuer) {
            failed.push(Mismatch::Issuer);
        }
        if !self.subjects.is_empty() && !self.subjects.contains(&id.subject) {
            failed.push(Mismatch::Subject);
        }
        if !self.email_domains.is_empty() {
            match id.email.as_deref().and_then(email_domain) {
                None => failed.push(Mismatch::NoVerifiedEmail),
                Some(domain) => {
                    if !self
                        .email_domains
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(domain))
                    {
                        failed.push(Mismatch::EmailDomain);
                    }
                }
            }
        }
        if !self.groups.is_empty() && !id.groups.iter().any(|g| self.groups.contains(g)) {
            failed.push(Mismatch::Group);
        }
        if let Some(claims) = &id.workload {
            let names = self.claims.failing(claims);
            if !names.is_empty() {
                failed.push(Mismatch::Claims(names));
            }
        }
        failed
    }
}

/// The domain of an email address: the part after the last `@`. `None` when
/// there is no `@` or either side is empty, so a malformed address never matches.
fn email_domain(email: &str) -> Option<&str> {
    let (local, domain) = email.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty()).then_some(domain)
}

/// One `[[rules]]` entry, with durations already resolved against `[defaults]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub(super) name: String,
    pub(super) conditions: Conditions,
    pub(super) principals: Vec<String>,
    pub(super) ttl: Duration,
    pub(super) max_ttl: Duration,
    pub(super) extensions: BTreeSet<String>,
    pub(super) force_command: Option<String>,
    pub(super) source_address: Option<String>,
    pub(super) require: super::require::Require,
    /// Services `zt token --audience` may get tokens for under this rule.
    pub(super) audiences: Vec<String>,
}

impl Rule {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn conditions(&self) -> &Conditions {
        &self.conditions
    }
    pub fn principals(&self) -> &[String] {
        &self.principals
    }
    /// Default certificate lifetime (the rule's `ttl`, else `[defaults] ttl`).
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
    /// Longest lifetime a request may ask for.
    pub fn max_ttl(&self) -> Duration {
        self.max_ttl
    }
    pub fn extensions(&self) -> &BTreeSet<String> {
        &self.extensions
    }
    pub fn force_command(&self) -> Option<&str> {
        self.force_command.as_deref()
    }
    pub fn source_address(&self) -> Option<&str> {
        self.source_address.as_deref()
    }
    /// `audiences`: the services this rule's identities may get tokens for.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// Whether every condition of this rule holds for `id`.
    pub fn matches(&self, id: &Identity) -> bool {
        self.conditions.mismatches(id).is_empty()
    }

    /// What this rule grants, before any narrowing by the request.
    pub fn grant(&self) -> Grant {
        Grant {
            rule: self.name.clone(),
            principals: self.principals.clone(),
            default_ttl: self.ttl,
            max_ttl: self.max_ttl,
            extensions: self.extensions.clone(),
            force_command: self.force_command.clone(),
            source_address: self.source_address.clone(),
            require: self.require.clone(),
            audiences: self.audiences.clone(),
        }
    }

    pub(super) fn mismatches(&self, id: &Identity) -> Vec<Mismatch> {
        self.conditions.mismatches(id)
    }
}

/// A condition a rule lists that the identity does not meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// A workload identity, and the rule is for people (it has no `match.claims`).
    Workload,
    /// A person, and the rule is for workloads (it has `match.claims`).
    NotAWorkload,
    /// These claims of `match.claims` are missing or match none of their patterns.
    Claims(Vec<String>),
    /// The issuer is not in `match.issuers`.
    Issuer,
    /// The subject is not in `match.subjects`.
    Subject,
    /// The rule tests `match.email_domains` but the identity has no verified email.
    NoVerifiedEmail,
    /// The verified email's domain is not in `match.email_domains`.
    EmailDomain,
    /// None of the identity's groups is in `match.groups`.
    Group,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Workload => "a workload matches only rules with match.claims",
            Self::NotAWorkload => "match.claims is for workload tokens, not people",
            Self::Claims(names) => {
                return write!(
                    f,
                    "claim(s) {} do not match match.claims",
                    PrintableList(names)
                );
            }
            Self::Issuer => "issuer is not in match.issuers",
            Self::Subject => "subject is not in match.subjects",
            Self::NoVerifiedEmail => "no verified email for match.email_domains",
            Self::EmailDomain => "email domain is not in match.email_domains",
            Self::Group => "no group is in match.groups",
        })
    }
}

/// How one rule fared for one identity, for `zt-broker policy check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTrace {
    pub rule: String,
    pub outcome: RuleOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOutcome {
    /// The first matching rule: this is the one that grants.
    Selected,
    /// Matches, but an earlier rule was selected (first match wins).
    Shadowed,
    /// Does not match; every failed condition is listed.
    NotMatched(Vec<Mismatch>),
}

impl RuleTrace {
    /// Whether the rule's conditions hold (selected or shadowed).
    pub fn matched(&self) -> bool {
        !matches!(self.outcome, RuleOutcome::NotMatched(_))
    }
}

impl fmt::Display for RuleTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule \"{}\": ", self.rule)?;
        match &self.outcome {
            RuleOutcome::Selected => f.write_str("matches (selected)"),
            RuleOutcome::Shadowed => f.write_str("matches, but an earlier rule was selected"),
            RuleOutcome::NotMatched(failed) => {
                let reasons: Vec<String> = failed.iter().map(Mismatch::to_string).collect();
                write!(f, "no match: {}", PrintableList(&reasons))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(issuer: &str, subject: &str, email: Option<&str>, groups: &[&str]) -> Identity {
        Identity {
            issuer: issuer.into(),
            subject: subject.into(),
            email: email.map(String::from),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            workload: None,
        }
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn or_within_a_list() {
        let c = Conditions {
            groups: strings(&["sre", "oncall"]),
            ..Default::default()
        };
        assert!(c.mismatches(&id("i", "s", None, &["oncall"])).is_empty());
        assert!(
            c.mismatches(&id("i", "s", None, &["dev", "sre"]))
                .is_empty()
        );
        assert_eq!(
            c.mismatches(&id("i", "s", None, &["dev"])),
            [Mismatch::Group]
        );
        assert_eq!(c.mismatches(&id("i", "s", None, &[])), [Mismatch::Group]);
    }

    #[test]
    fn and_across_kinds_lists_every_failure() {
        let c = Conditions {
            issuers: strings(&["https://idp"]),
            subjects: strings(&["alice"]),
            email_domains: strings(&["example.com"]),
            groups: strings(&["sre"]),
            claims: ClaimConditions::default(),
            everyone: false,
        };
        let alice = id("https://idp", "alice", Some("alice@example.com"), &["sre"]);
        assert!(c.mismatches(&alice).is_empty());
        let other_idp = Identity {
            issuer: "https://evil".into(),
            ..alice.clone()
        };
        assert_eq!(c.mismatches(&other_idp), [Mismatch::Issuer]);
        let nobody = id("https://evil", "mallory", Some("m@evil.test"), &["dev"]);
        assert_eq!(
            c.mismatches(&nobody),
            [
                Mismatch::Issuer,
                Mismatch::Subject,
                Mismatch::EmailDomain,
                Mismatch::Group
            ]
        );
    }

    #[test]
    fn email_domain_rules() {
        let c = Conditions {
            email_domains: strings(&["example.com"]),
            ..Default::default()
        };
        let with = |email: Option<&str>| c.mismatches(&id("i", "s", email, &[]));
        assert!(with(Some("alice@example.com")).is_empty());
        assert!(with(Some("Alice@EXAMPLE.Com")).is_empty());
        // The last '@' decides: the quoted local part cannot smuggle a domain.
        assert!(with(Some("\"a@example.com\"@evil.test")) == [Mismatch::EmailDomain]);
        assert!(with(Some("a@evil.test@example.com")).is_empty());
        assert_eq!(with(Some("alice@sub.example.com")), [Mismatch::EmailDomain]);
        assert_eq!(
            with(Some("alice@example.com.evil.test")),
            [Mismatch::EmailDomain]
        );
        // An unverified email never reaches the policy (Identity::email is None).
        assert_eq!(with(None), [Mismatch::NoVerifiedEmail]);
        assert_eq!(with(Some("example.com")), [Mismatch::NoVerifiedEmail]);
        assert_eq!(with(Some("@example.com")), [Mismatch::NoVerifiedEmail]);
        assert_eq!(with(Some("alice@")), [Mismatch::NoVerifiedEmail]);
    }

    #[test]
    fn issuer_and_subject_are_exact() {
        let c = Conditions {
            issuers: strings(&["https://idp.example"]),
            subjects: strings(&["248289761001"]),
            ..Default::default()
        };
        assert!(
            c.mismatches(&id("https://idp.example", "248289761001", None, &[]))
                .is_empty()
        );
        assert_eq!(
            c.mismatches(&id("https://idp.example/", "248289761001", None, &[])),
            [Mismatch::Issuer]
        );
        assert_eq!(
            c.mismatches(&id("https://IDP.example", "248289761001 ", None, &[])),
            [Mismatch::Issuer, Mismatch::Subject]
        );
    }

    #[test]
    fn everyone_matches_anyone() {
        let c = Conditions {
            everyone: true,
            ..Default::default()
        };
        assert!(c.mismatches(&id("", "", None, &[])).is_empty());
    }

    #[test]
    fn trace_display() {
        let trace = RuleTrace {
            rule: "sre".into(),
            outcome: RuleOutcome::NotMatched(vec![Mismatch::Issuer, Mismatch::Group]),
        };
        assert!(!trace.matched());
        assert_eq!(
            trace.to_string(),
            "rule \"sre\": no match: issuer is not in match.issuers, no group is in match.groups"
        );
        let selected = RuleTrace {
            rule: "all".into(),
            outcome: RuleOutcome::Selected,
        };
        assert!(selected.matched());
        assert_eq!(selected.to_string(), "rule \"all\": matches (selected)");
    }
}
