//! Reading a policy file: the TOML shape (serde types that reject unknown
//! fields) and the checks that turn it into validated [`Rule`]s. Everything
//! that can be wrong with a file is found here, at load time, so evaluation
//! never meets a half-valid rule.

use super::duration::parse_duration;
use super::error::PolicyError;
use super::grant::MIN_TTL;
use super::rule::{Conditions, Rule};
use crate::ca::{
    check_force_command, check_principal, check_source_address, is_known_user_extension,
};
use crate::text::Printable;
use serde::Deserialize;
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

/// Certificate lifetime when neither the rule nor `[defaults]` sets one.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// Cap on requested lifetimes when neither the rule nor `[defaults]` sets one.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(8 * 3600);
/// A workload rule's certificate lifetime and cap when the rule sets none: a CI job needs
/// minutes, not the working day `[defaults]` is sized for.
pub const WORKLOAD_TTL: Duration = Duration::from_secs(5 * 60);
pub const WORKLOAD_MAX_TTL: Duration = Duration::from_secs(3600);
/// How many `audiences` a rule may list, and how long each may be.
const MAX_AUDIENCES: usize = 64;
const MAX_AUDIENCE_LEN: usize = 256;
/// Extensions a rule gets when it does not list any.
const DEFAULT_EXTENSIONS: [&str; 1] = ["permit-pty"];
const MAX_RULE_NAME_LEN: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    defaults: Option<RawDefaults>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    ttl: Option<String>,
    max_ttl: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    #[serde(rename = "match")]
    conditions: Option<RawMatch>,
    // Defaulted so a missing list gets the specific NoPrincipals error.
    #[serde(default)]
    principals: Vec<String>,
    ttl: Option<String>,
    max_ttl: Option<String>,
    extensions: Option<Vec<String>>,
    force_command: Option<String>,
    source_address: Option<String>,
    require: Option<super::require::RawRequire>,
    audiences: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    issuers: Option<Vec<String>>,
    subjects: Option<Vec<String>>,
    email_domains: Option<Vec<String>>,
    groups: Option<Vec<String>>,
    claims: Option<std::collections::BTreeMap<String, super::claims::RawPatterns>>,
    everyone: Option<bool>,
}

/// Policy-wide lifetimes, used where a rule does not set its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    pub ttl: Duration,
    pub max_ttl: Duration,
}

/// Parses and validates a whole policy file.
pub(super) fn load(text: &str) -> Result<(Defaults, Vec<Rule>), PolicyError> {
    // Parse the bare TOML first so a syntax error is reported as one, apart
    // from errors about the policy's shape.
    if let Err(err) = text.parse::<toml::Table>() {
        let (line, column) = err.span().map_or((1, 1), |s| line_column(text, s.start));
        return Err(PolicyError::Syntax {
            line,
            column,
            message: err.message().trim().to_owned(),
        });
    }
    let raw: RawPolicy = toml::from_str(text).map_err(|err| shape_error(text, &err))?;

    let defaults = load_defaults(raw.defaults)?;
    if raw.rules.is_empty() {
        return Err(PolicyError::NoRules);
    }
    let mut names = HashSet::new();
    let mut rules = Vec::with_capacity(raw.rules.len());
    for raw_rule in raw.rules {
        let rule = load_rule(raw_rule, &defaults)?;
        if !names.insert(rule.name.clone()) {
            return Err(PolicyError::DuplicateRuleName { name: rule.name });
        }
        rules.push(rule);
    }
    Ok((defaults, rules))
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Classifies a serde error from well-formed TOML. serde's message for
/// `deny_unknown_fields` starts with "unknown field `name`"; that wording is
/// part of serde's stable `de::Error::unknown_field`.
fn shape_error(text: &str, err: &toml::de::Error) -> PolicyError {
    let line = err.span().map(|s| line_column(text, s.start).0);
    let message = err.message().trim().to_owned();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default().to_owned();
        return PolicyError::UnknownField {
            field,
            line,
            message,
        };
    }
    PolicyError::Schema { line, message }
}

fn load_defaults(raw: Option<RawDefaults>) -> Result<Defaults, PolicyError> {
    let scope = "[defaults]";
    let raw = raw.unwrap_or(RawDefaults {
        ttl: None,
        max_ttl: None,
    });
    let ttl = duration(scope, "ttl", raw.ttl.as_deref())?.unwrap_or(DEFAULT_TTL);
    let max_ttl = duration(scope, "max_ttl", raw.max_ttl.as_deref())?.unwrap_or(DEFAULT_MAX_TTL);
    check_ttls(scope, ttl, max_ttl)?;
    Ok(Defaults { ttl, max_ttl })
}

fn duration(
    scope: &str,
    field: &'static str,
    value: Option<&str>,
) -> Result<Option<Duration>, PolicyError> {
    value
        .map(|text| {
            parse_duration(text).map_err(|reason| PolicyError::BadDuration {
                scope: scope.to_owned(),
                field,
                value: Printable(text).to_string(),
                reason,
            })
        })
        .transpose()
}

fn check_ttls(scope: &str, ttl: Duration, max_ttl: Duration) -> Result<(), PolicyError> {
    // max_ttl >= ttl >= MIN_TTL, so checking ttl covers both.
    if ttl < MIN_TTL {
        return Err(PolicyError::TtlTooShort {
            scope: scope.to_owned(),
            ttl,
        });
    }
    if ttl > max_ttl {
        return Err(PolicyError::TtlAboveMax {
            scope: scope.to_owned(),
            ttl,
            max_ttl,
        });
    }
    Ok(())
}

fn load_rule(raw: RawRule, defaults: &Defaults) -> Result<Rule, PolicyError> {
    let name = raw.name;
    check_rule_name(&name)?;
    let conditions = load_conditions(&name, raw.conditions)?;
    let principals = load_principals(&name, raw.principals)?;

    let scope = format!("rule \"{name}\"");
    let (default_ttl, default_max_ttl) = if conditions.for_workloads() {
        (WORKLOAD_TTL, WORKLOAD_MAX_TTL)
    } else {
        (defaults.ttl, defaults.max_ttl)
    };
    let ttl = duration(&scope, "ttl", raw.ttl.as_deref())?.unwrap_or(default_ttl);
    let max_ttl = duration(&scope, "max_ttl", raw.max_ttl.as_deref())?.unwrap_or(default_max_ttl);
    check_ttls(&scope, ttl, max_ttl)?;

    let extensions = match raw.extensions {
        None => DEFAULT_EXTENSIONS.iter().map(|e| e.to_string()).collect(),
        Some(list) => {
            if let Some(unknown) = list.iter().find(|e| !is_known_user_extension(e)) {
                return Err(PolicyError::UnknownExtension {
                    rule: name,
                    extension: Printable(unknown).to_string(),
                });
            }
            list.into_iter().collect::<BTreeSet<_>>()
        }
    };
    if let Some(command) = &raw.force_command {
        if let Err(reason) = check_force_command(command) {
            return Err(PolicyError::BadForceCommand { rule: name, reason });
        }
    }
    if let Some(list) = &raw.source_address {
        if let Err(reason) = check_source_address(list) {
            return Err(PolicyError::BadSourceAddress { rule: name, reason });
        }
    }
    let require = super::require::load(&name, raw.require)?;
    let audiences = load_audiences(&name, raw.audiences)?;
    Ok(Rule {
        audiences,
        require,
        name,
        conditions,
        principals,
        ttl,
        max_ttl,
        extensions,
        force_command: raw.force_command,
        source_address: raw.source_address,
    })
}

fn check_rule_name(name: &str) -> Result<(), PolicyError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_RULE_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(PolicyError::BadRuleName {
            name: Printable(name).to_string(),
        })
    }
}

fn load_conditions(rule: &str, raw: Option<RawMatch>) -> Result<Conditions, PolicyError> {
    let Some(raw) = raw else {
        return Err(PolicyError::NoConditions {
            rule: rule.to_owned(),
        });
    };
    let list = |condition, values: Option<Vec<String>>| condition_list(rule, condition, values);
    let issuers = list("issuers", raw.issuers)?;
    let subjects = list("subjects", raw.subjects)?;
    let groups = list("groups", raw.groups)?;
    let mut email_domains = list("email_domains", raw.email_domains)?;
    for domain in &mut email_domains {
        if domain.contains('@') {
            return Err(PolicyError::BadConditionValue {
                rule: rule.to_owned(),
                condition: "email_domains",
                value: Printable(domain).to_string(),
                reason: "write the domain only, without '@'",
            });
        }
        domain.make_ascii_lowercase();
    }
    let claims = super::claims::load(rule, raw.claims)?;
    let everyone = raw.everyone.unwrap_or(false);
    if !everyone
        && claims.is_empty()
        && issuers.is_empty()
        && subjects.is_empty()
        && email_domains.is_empty()
        && groups.is_empty()
    {
        return Err(PolicyError::NoConditions {
            rule: rule.to_owned(),
        });
    }
    // `sub` is only unique per issuer (OpenID Connect Core §5.7): without an
    // issuer, another trusted IdP could mint the same subject.
    if !subjects.is_empty() && issuers.is_empty() {
        return Err(PolicyError::SubjectsWithoutIssuers {
            rule: rule.to_owned(),
        });
    }
    // A claim means what its issuer says it means: `repository` from one issuer is not
    // `repository` from another.
    if !claims.is_empty() && issuers.is_empty() {
        return Err(PolicyError::ClaimsWithoutIssuers {
            rule: rule.to_owned(),
        });
    }
    Ok(Conditions {
        issuers,
        subjects,
        email_domains,
        groups,
        claims,
        everyone,
    })
}

/// `audiences`: the services a rule lets `zt token --audience` mint tokens for. Plain,
/// printable values, no repeats. (That none is the broker's own audience is checked when the
/// broker loads the policy, since only it knows its audience.)
fn load_audiences(rule: &str, raw: Option<Vec<String>>) -> Result<Vec<String>, PolicyError> {
    let Some(audiences) = raw else {
        return Ok(Vec::new());
    };
    let bad = |value: &str, reason: &'static str| PolicyError::BadAudience {
        rule: rule.to_owned(),
        audience: Printable(value).to_string(),
        reason,
    };
    if audiences.is_empty() {
        return Err(bad("", "the list is empty; leave `audiences` out instead"));
    }
    if audiences.len() > MAX_AUDIENCES {
        return Err(bad("", "a rule lists at most 64 audiences"));
    }
    let mut seen = HashSet::new();
    for audience in &audiences {
        if audience.is_empty()
            || audience.len() > MAX_AUDIENCE_LEN
            || !audience.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(bad(
                audience,
                "an audience is 1-256 printable ASCII characters without spaces",
            ));
        }
        if !seen.insert(audience.as_str()) {
            return Err(bad(audience, "it is listed twice"));
        }
    }
    Ok(audiences)
}

/// A present condition list must be non-empty (an empty any-of matches
/// nobody, which is never what the author meant) and hold plain values.
fn condition_list(
    rule: &str,
    condition: &'static str,
    values: Option<Vec<String>>,
) -> Result<Vec<String>, PolicyError> {
    let Some(values) = values else {
        return Ok(Vec::new());
    };
    if values.is_empty() {
        return Err(PolicyError::EmptyCondition {
            rule: rule.to_owned(),
            condition,
        });
    }
    for value in &values {
        let reason = if value.is_empty() {
            Some("it is empty")
        } else if value.chars().any(char::is_control) {
            Some("it contains a control character")
        } else if value.trim() != value {
            Some("it has leading or trailing whitespace")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(PolicyError::BadConditionValue {
                rule: rule.to_owned(),
                condition,
                value: Printable(value).to_string(),
                reason,
            });
        }
    }
    Ok(values)
}

fn load_principals(rule: &str, principals: Vec<String>) -> Result<Vec<String>, PolicyError> {
    if principals.is_empty() {
        return Err(PolicyError::NoPrincipals {
            rule: rule.to_owned(),
        });
    }
    let mut seen = HashSet::new();
    for principal in &principals {
        if let Err(reason) = check_principal(principal) {
            return Err(PolicyError::BadPrincipal {
                rule: rule.to_owned(),
                principal: Printable(principal).to_string(),
                reason,
            });
        }
        if !seen.insert(principal.as_str()) {
            return Err(PolicyError::DuplicatePrincipal {
                rule: rule.to_owned(),
                principal: principal.clone(),
            });
        }
    }
    Ok(principals)
}

#[cfg(test)]
mod tests;
