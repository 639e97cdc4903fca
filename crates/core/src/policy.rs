//! Access policy: which verified identities get which SSH principals, for how
//! long, and with which extensions and critical options.
//!
//! The policy is a TOML file of ordered rules; the **first rule whose
//! conditions all hold wins**, and no match is a [`Denial`]. Loading is strict
//! and fails closed: unknown fields, malformed values and rules without
//! conditions are errors, never ignored.
//!
//! # Format
//!
//! ```toml
//! [defaults]            # optional
//! ttl = "1h"            # default certificate lifetime (default 1h)
//! max_ttl = "8h"        # cap for requests (default 8h)
//!
//! [[rules]]
//! name = "sre"                            # required, unique, [A-Za-z0-9._-]{1,64}
//! match.issuers = ["https://idp.example"] # any-of, exact
//! match.groups = ["sre", "oncall"]        # any-of, exact
//! match.email_domains = ["example.com"]   # any-of; verified email only; part after the last '@', ASCII case-insensitive
//! match.subjects = ["248289761001"]       # any-of, exact; needs match.issuers
//! match.everyone = true                   # required if no other condition is given
//! principals = ["ops"]                    # required, non-empty
//! ttl = "30m"                             # optional, falls back to [defaults]
//! max_ttl = "2h"                          # optional, falls back to [defaults]
//! extensions = ["permit-pty", "permit-port-forwarding"]  # default ["permit-pty"]
//! force_command = "/usr/local/bin/deploy" # optional critical option
//! source_address = "10.0.0.0/8,192.0.2.1" # optional critical option
//! ```
//!
//! - Conditions: all kinds a rule lists must hold (AND); within one list any
//!   value suffices (OR). A listed condition must not be an empty list. A rule
//!   with no condition at all must say `match.everyone = true` (next to other
//!   conditions it adds nothing: they must still hold).
//! - Durations: `<n><unit>` groups with units `d`, `h`, `m`, `s` from largest
//!   to smallest (`90s`, `15m`, `1h30m`, `2d`); more than zero, at most 30
//!   days. Every ttl is at least 60 s and at most its max_ttl.
//! - Principals: 1–256 bytes; no whitespace, control characters or `,`; not
//!   starting with `-`; no repeats.
//! - Extensions: `permit-X11-forwarding`, `permit-agent-forwarding`,
//!   `permit-port-forwarding`, `permit-pty`, `permit-user-rc`.
//! - `force_command`: no control characters. `source_address`: comma-separated
//!   IPv4/IPv6 addresses or CIDR blocks with no host bits set, no spaces.
//!
//! Workloads (CI jobs, Kubernetes service accounts, OAuth clients) have rules of their own:
//!
//! ```toml
//! [[rules]]
//! name = "deploy-from-main"
//! match.issuers = ["https://token.actions.githubusercontent.com"]
//! match.claims.repository = "acme/app"               # one pattern, or a list (any-of)
//! match.claims.ref = ["refs/heads/main", "refs/tags/v*"]
//! principals = ["deploy"]
//! force_command = "/usr/local/bin/deploy"
//! audiences = ["https://deploy-api.internal"]         # `zt token --audience` may mint for these
//! ```
//!
//! - `match.claims` names claims of the workload token (nested objects joined with `.`, e.g.
//!   `kubernetes.io.namespace`) and patterns for each (`*` any run, `?` one character, whole
//!   value, case-sensitive). Every claim named must be present and match one of its patterns.
//!   It needs `match.issuers`, since only the issuer gives a claim its meaning.
//! - A rule with `match.claims` matches only workloads, and a rule without matches only
//!   people: a broad rule for people never lets a CI job in.
//! - A workload rule's certificates default to `ttl = "5m"` and `max_ttl = "1h"` (not the
//!   `[defaults]`, which are sized for people).
//! - `audiences` (any rule): the services `zt token --audience` may get a token for.
//!
//! Evaluation is pure: the broker builds an [`Identity`] from verified IdP
//! claims, calls [`Policy::evaluate`], then [`Grant::narrow`] with what the
//! client asked for.

mod claims;
mod duration;
mod error;
mod grant;
mod load;
mod require;
mod rule;

pub use claims::{ClaimConditions, ClaimPattern};
pub use duration::{DisplayDuration, DurationError, MAX_POLICY_DURATION, parse_duration};
pub use error::{Denial, PolicyError};
pub use grant::{Grant, Issue, MIN_TTL, NarrowError};
pub use load::{DEFAULT_MAX_TTL, DEFAULT_TTL, Defaults};
pub use require::{DEFAULT_POSTURE_TTL, Require};
pub use rule::{Conditions, Mismatch, Rule, RuleOutcome, RuleTrace};
use std::collections::BTreeMap;

/// A verified identity, as the broker derived it from IdP token claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// Only present when the IdP said `email_verified=true`; an unverified
    /// address must never be passed here.
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// For a workload (a CI job, a service account, an OAuth client): the claims of its
    /// verified token, flattened (nested objects joined with `.`; strings as they are,
    /// numbers and booleans as JSON writes them). `None` for a person. A workload identity
    /// matches only rules with `match.claims`, and a person only rules without.
    pub workload: Option<BTreeMap<String, String>>,
}

impl Identity {
    /// A person's identity, as an IdP's ID token describes it.
    pub fn person(issuer: &str, subject: &str, email: Option<String>, groups: Vec<String>) -> Self {
        Identity {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            email,
            groups,
            workload: None,
        }
    }

    /// Whether this is a workload rather than a person.
    pub fn is_workload(&self) -> bool {
        self.workload.is_some()
    }
}

/// A loaded, validated policy. Immutable; reloading builds a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    defaults: Defaults,
    rules: Vec<Rule>,
}

impl Policy {
    /// Parses and validates a policy file.
    ///
    /// The format is described in the [module documentation](self): an
    /// optional `[defaults]` table (`ttl`, `max_ttl`) and one or more
    /// `[[rules]]` tables with `name`, `match.{issuers, groups, email_domains,
    /// subjects, everyone}`, `principals`, `ttl`, `max_ttl`, `extensions`,
    /// `force_command` and `source_address`. Unknown fields are rejected at
    /// every level; every refusal is a specific [`PolicyError`].
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let (defaults, rules) = load::load(text)?;
        Ok(Policy { defaults, rules })
    }

    /// The grant of the first rule that matches `id`, or a [`Denial`] naming
    /// the identity when none does.
    pub fn evaluate(&self, id: &Identity) -> Result<Grant, Denial> {
        self.rules
            .iter()
            .find(|rule| rule.matches(id))
            .map(Rule::grant)
            .ok_or_else(|| Denial {
                issuer: id.issuer.clone(),
                subject: id.subject.clone(),
                groups: id.groups.clone(),
                workload: id.is_workload().then(|| self.workload_traces(id)),
            })
    }

    /// Why the workload rules for `id`'s issuer did not match, for its denial: at most three
    /// (a job learns the names of the rules and claims its own issuer's jobs are held to, and
    /// nothing of other issuers' rules), each cut short.
    fn workload_traces(&self, id: &Identity) -> Vec<String> {
        let mut relevant = self.rules.iter().filter(|rule| {
            rule.conditions().for_workloads() && rule.conditions().issuers().contains(&id.issuer)
        });
        let mut traces: Vec<String> = relevant
            .by_ref()
            .take(3)
            .map(|rule| {
                let trace = RuleTrace {
                    rule: rule.name().to_owned(),
                    outcome: RuleOutcome::NotMatched(rule.mismatches(id)),
                }
                .to_string();
                crate::text::printable(&trace, 200)
            })
            .collect();
        let more = relevant.count();
        if more > 0 {
            traces.push(format!("{more} more"));
        }
        traces
    }

    /// For `zt-broker policy check`: one entry per rule, in order, saying
    /// whether it matched and, if not, which condition failed.
    pub fn explain(&self, id: &Identity) -> Vec<RuleTrace> {
        let mut selected = false;
        self.rules
            .iter()
            .map(|rule| {
                let failed = rule.mismatches(id);
                let outcome = if !failed.is_empty() {
                    RuleOutcome::NotMatched(failed)
                } else if selected {
                    RuleOutcome::Shadowed
                } else {
                    selected = true;
                    RuleOutcome::Selected
                };
                RuleTrace {
                    rule: rule.name().to_owned(),
                    outcome,
                }
            })
            .collect()
    }

    /// The rule named `name`.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.name() == name)
    }

    /// The rules in evaluation order (read access for display).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The `[defaults]` lifetimes (built-in values where the file is silent).
    pub fn defaults(&self) -> Defaults {
        self.defaults
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The example from the module documentation.
    const EXAMPLE: &str = r#"
[defaults]
ttl = "1h"
max_ttl = "8h"

[[rules]]
name = "sre"
match.issuers = ["https://idp.example"]
match.groups = ["sre", "oncall"]
match.email_domains = ["example.com"]
match.subjects = ["248289761001"]
principals = ["ops"]
ttl = "30m"
max_ttl = "2h"
extensions = ["permit-pty", "permit-port-forwarding"]
force_command = "/usr/local/bin/deploy"
source_address = "10.0.0.0/8,192.0.2.1"

[[rules]]
name = "developers"
match.issuers = ["https://idp.example"]
match.groups = ["dev"]
principals = ["dev", "readonly"]

[[rules]]
name = "catch-all"
match.everyone = true
principals = ["guest"]
ttl = "5m"
extensions = []
"#;

    fn alice() -> Identity {
        Identity {
            issuer: "https://idp.example".into(),
            subject: "248289761001".into(),
            email: Some("alice@Example.COM".into()),
            groups: vec!["oncall".into(), "dev".into()],
            workload: None,
        }
    }

    fn bob() -> Identity {
        Identity {
            issuer: "https://idp.example".into(),
            subject: "bob".into(),
            email: None,
            groups: vec!["dev".into()],
            workload: None,
        }
    }

    #[test]
    fn example_parses() {
        let policy = Policy::from_toml(EXAMPLE).unwrap();
        assert_eq!(
            policy.defaults(),
            Defaults {
                ttl: Duration::from_secs(3600),
                max_ttl: Duration::from_secs(8 * 3600)
            }
        );
        let names: Vec<&str> = policy.rules().iter().map(Rule::name).collect();
        assert_eq!(names, ["sre", "developers", "catch-all"]);

        let sre = &policy.rules()[0];
        assert_eq!(sre.conditions().issuers(), ["https://idp.example"]);
        assert_eq!(sre.conditions().groups(), ["sre", "oncall"]);
        assert_eq!(sre.conditions().email_domains(), ["example.com"]);
        assert_eq!(sre.conditions().subjects(), ["248289761001"]);
        assert!(!sre.conditions().everyone());
        assert_eq!(sre.principals(), ["ops"]);
        assert_eq!(sre.ttl(), Duration::from_secs(1800));
        assert_eq!(sre.max_ttl(), Duration::from_secs(7200));
        let extensions: Vec<&str> = sre.extensions().iter().map(String::as_str).collect();
        assert_eq!(extensions, ["permit-port-forwarding", "permit-pty"]);
        assert_eq!(sre.force_command(), Some("/usr/local/bin/deploy"));
        assert_eq!(sre.source_address(), Some("10.0.0.0/8,192.0.2.1"));

        let developers = &policy.rules()[1];
        assert_eq!(developers.ttl(), Duration::from_secs(3600));
        assert_eq!(developers.max_ttl(), Duration::from_secs(8 * 3600));
        let extensions: Vec<&str> = developers.extensions().iter().map(String::as_str).collect();
        assert_eq!(extensions, ["permit-pty"]);
        assert_eq!(developers.force_command(), None);

        let catch_all = &policy.rules()[2];
        assert!(catch_all.conditions().everyone());
        assert!(catch_all.extensions().is_empty());
    }

    #[test]
    fn first_match_wins() {
        let policy = Policy::from_toml(EXAMPLE).unwrap();
        // Alice matches all three rules; the first one grants.
        let grant = policy.evaluate(&alice()).unwrap();
        assert_eq!(
            grant,
            Grant {
                rule: "sre".into(),
                principals: vec!["ops".into()],
                default_ttl: Duration::from_secs(1800),
                max_ttl: Duration::from_secs(7200),
                extensions: ["permit-port-forwarding", "permit-pty"]
                    .into_iter()
                    .map(String::from)
                    .collect(),
                force_command: Some("/usr/local/bin/deploy".into()),
                source_address: Some("10.0.0.0/8,192.0.2.1".into()),
                require: Require::default(),
                audiences: vec![],
            }
        );
        assert_eq!(policy.evaluate(&bob()).unwrap().rule, "developers");
        let stranger = Identity {
            issuer: "https://other".into(),
            ..bob()
        };
        assert_eq!(policy.evaluate(&stranger).unwrap().rule, "catch-all");
    }

    #[test]
    fn unverified_email_never_matches_email_domains() {
        let policy = Policy::from_toml(
            r#"
[[rules]]
name = "staff"
match.email_domains = ["Example.com"]
principals = ["staff"]
"#,
        )
        .unwrap();
        let mut id = bob();
        assert!(policy.evaluate(&id).is_err());
        id.email = Some("bob@EXAMPLE.com".into());
        assert_eq!(policy.evaluate(&id).unwrap().rule, "staff");
    }

    #[test]
    fn denial_names_the_identity() {
        let policy = Policy::from_toml(
            r#"
[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops"]
"#,
        )
        .unwrap();
        let denial = policy
            .evaluate(&Identity {
                issuer: "https://idp".into(),
                ..bob()
            })
            .unwrap_err();
        assert_eq!(
            denial.to_string(),
            "no policy rule matches iss=https://idp sub=bob groups=[dev]; ask a zt admin to add a rule for one of these groups"
        );
    }

    #[test]
    fn explain_traces_every_rule() {
        let policy = Policy::from_toml(EXAMPLE).unwrap();
        let traces = policy.explain(&bob());
        assert_eq!(
            traces,
            [
                RuleTrace {
                    rule: "sre".into(),
                    outcome: RuleOutcome::NotMatched(vec![
                        Mismatch::Subject,
                        Mismatch::NoVerifiedEmail,
                        Mismatch::Group
                    ]),
                },
                RuleTrace {
                    rule: "developers".into(),
                    outcome: RuleOutcome::Selected,
                },
                RuleTrace {
                    rule: "catch-all".into(),
                    outcome: RuleOutcome::Shadowed,
                },
            ]
        );
        // explain and evaluate agree on the winner.
        for id in [alice(), bob()] {
            let selected = policy
                .explain(&id)
                .into_iter()
                .find(|t| t.outcome == RuleOutcome::Selected)
                .unwrap();
            assert_eq!(selected.rule, policy.evaluate(&id).unwrap().rule);
        }
    }

    #[test]
    fn explain_without_any_match() {
        let policy = Policy::from_toml(
            r#"
[[rules]]
name = "sre"
match.issuers = ["https://idp.example"]
match.groups = ["sre"]
principals = ["ops"]
"#,
        )
        .unwrap();
        let id = Identity {
            issuer: "https://other".into(),
            ..bob()
        };
        let traces = policy.explain(&id);
        assert_eq!(traces.len(), 1);
        assert!(!traces[0].matched());
        assert_eq!(
            traces[0].to_string(),
            "rule \"sre\": no match: issuer is not in match.issuers, no group is in match.groups"
        );
    }

    #[test]
    fn narrowing_an_evaluated_grant() {
        let policy = Policy::from_toml(EXAMPLE).unwrap();
        let grant = policy.evaluate(&bob()).unwrap();
        let issue = grant.narrow(None, None).unwrap();
        assert_eq!(issue.ttl, Duration::from_secs(3600));
        assert_eq!(issue.principals, ["dev", "readonly"]);
        let readonly = vec!["readonly".to_string()];
        let issue = grant
            .narrow(Some(&readonly), Some(Duration::from_secs(600)))
            .unwrap();
        assert_eq!(issue.principals, ["readonly"]);
        assert_eq!(issue.ttl, Duration::from_secs(600));
        let root = vec!["root".to_string()];
        assert!(matches!(
            grant.narrow(Some(&root), None),
            Err(NarrowError::PrincipalsNotGranted { .. })
        ));
        let ten_years = Duration::from_secs(10 * 365 * 86_400);
        assert!(matches!(
            grant.narrow(None, Some(ten_years)),
            Err(NarrowError::TtlAboveMax { .. })
        ));
    }

    const CI: &str = r#"
[[rules]]
name = "deploy"
match.issuers = ["https://ci.example"]
match.claims.repository = "acme/app"
match.claims.ref = ["refs/heads/main", "refs/tags/v*"]
principals = ["deploy"]
audiences = ["kubernetes"]

[[rules]]
name = "everyone"
match.everyone = true
principals = ["guest"]
"#;

    fn job(repository: &str, git_ref: &str) -> Identity {
        let claims = [("repository", repository), ("ref", git_ref)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Identity {
            workload: Some(claims),
            ..Identity::person("https://ci.example", "job", None, vec![])
        }
    }

    #[test]
    fn workload_rules_match_only_workloads_and_people_rules_only_people() {
        let policy = Policy::from_toml(CI).unwrap();
        let grant = policy
            .evaluate(&job("acme/app", "refs/heads/main"))
            .unwrap();
        assert_eq!(grant.rule, "deploy");
        assert_eq!(grant.audiences, ["kubernetes"]);
        // Minutes, not the working day of [defaults].
        assert_eq!(grant.default_ttl, Duration::from_secs(300));
        assert_eq!(grant.max_ttl, Duration::from_secs(3600));
        // Another repository, a fork's pull request, another branch: no rule at all, not
        // even `match.everyone`, which is for people.
        for (repository, git_ref) in [
            ("acme/other", "refs/heads/main"),
            ("acme/app", "refs/pull/7/merge"),
            ("acme/app", "refs/heads/feature"),
        ] {
            assert!(policy.evaluate(&job(repository, git_ref)).is_err());
        }
        let traces = policy.explain(&job("acme/app", "refs/pull/7/merge"));
        assert_eq!(
            traces[0].outcome,
            RuleOutcome::NotMatched(vec![Mismatch::Claims(vec!["ref".into()])])
        );
        assert_eq!(
            traces[1].outcome,
            RuleOutcome::NotMatched(vec![Mismatch::Workload])
        );
        // A person never matches the workload rule, whatever the issuer.
        let person = Identity::person("https://ci.example", "job", None, vec![]);
        assert_eq!(policy.evaluate(&person).unwrap().rule, "everyone");
        assert_eq!(
            policy.explain(&person)[0].outcome,
            RuleOutcome::NotMatched(vec![Mismatch::NotAWorkload])
        );
    }

    #[test]
    fn claims_need_issuers_and_audiences_are_checked() {
        let no_issuer = CI.replace("match.issuers = [\"https://ci.example\"]\n", "");
        assert!(matches!(
            Policy::from_toml(&no_issuer),
            Err(PolicyError::ClaimsWithoutIssuers { .. })
        ));
        for bad in ["[]", "[\"a b\"]", "[\"k\", \"k\"]", "[\"\"]"] {
            let text = CI.replace(
                "audiences = [\"kubernetes\"]",
                &format!("audiences = {bad}"),
            );
            assert!(
                matches!(
                    Policy::from_toml(&text),
                    Err(PolicyError::BadAudience { .. })
                ),
                "{bad}"
            );
        }
    }
}
