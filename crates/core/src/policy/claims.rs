//! `match.claims`: conditions on the claims of a workload token (a CI job, a Kubernetes
//! service account, an OAuth client), and the patterns they are written in.
//!
//! A pattern is matched against the whole claim value. `*` stands for any run of characters
//! (`/` included, so `refs/heads/*` matches `refs/heads/release/1.2`) and `?` for exactly one;
//! everything else matches itself, case-sensitively. There is no escape: a claim value that
//! contains `*` or `?` can only be matched by a pattern that uses them as wildcards.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use super::error::PolicyError;
use crate::text::Printable;

/// Longest claim name and pattern a policy may hold.
const MAX_CLAIM_NAME_LEN: usize = 128;
const MAX_PATTERN_LEN: usize = 512;

/// One pattern from `match.claims`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPattern(String);

impl ClaimPattern {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `value` matches the whole pattern.
    pub fn matches(&self, value: &str) -> bool {
        glob(self.0.as_bytes(), value.as_bytes())
    }
}

impl fmt::Display for ClaimPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Iterative wildcard matching with one backtrack point: linear in practice and never
/// exponential, whatever a policy author or a token writes.
fn glob(pattern: &[u8], value: &[u8]) -> bool {
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, v));
                p += 1;
            }
            Some(&c) if c == b'?' || c == value[v] => {
                // `?` is one character: skip a whole UTF-8 sequence.
                let width = if c == b'?' { utf8_width(value[v]) } else { 1 };
                p += 1;
                v += width;
            }
            _ => match star {
                Some((sp, sv)) => {
                    p = sp + 1;
                    v = sv + utf8_width(value[sv]);
                    star = Some((sp, v));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

fn utf8_width(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// `match.claims` of one rule: for each claim named, the patterns any of which its value
/// must match. Every claim named must be present and match (AND across claims, OR within).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimConditions(BTreeMap<String, Vec<ClaimPattern>>);

impl ClaimConditions {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[ClaimPattern])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The names of the claims that are missing or match none of their patterns, in order.
    pub fn failing(&self, claims: &BTreeMap<String, String>) -> Vec<String> {
        self.0
            .iter()
            .filter(|(name, patterns)| {
                !claims
                    .get(*name)
                    .is_some_and(|value| patterns.iter().any(|p| p.matches(value)))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// A claim's patterns as TOML writes them: one string or a list.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawPatterns {
    One(String),
    Many(Vec<String>),
}

pub(super) fn load(
    rule: &str,
    raw: Option<BTreeMap<String, RawPatterns>>,
) -> Result<ClaimConditions, PolicyError> {
    let Some(raw) = raw else {
        return Ok(ClaimConditions::default());
    };
    let bad = |value: &str, reason: &'static str| PolicyError::BadConditionValue {
        rule: rule.to_owned(),
        condition: "claims",
        value: Printable(value).to_string(),
        reason,
    };
    if raw.is_empty() {
        return Err(PolicyError::EmptyCondition {
            rule: rule.to_owned(),
            condition: "claims",
        });
    }
    let mut conditions = BTreeMap::new();
    for (name, patterns) in raw {
        let valid_name = !name.is_empty()
            && name.len() <= MAX_CLAIM_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-:/".contains(&b));
        if !valid_name {
            return Err(bad(
                &name,
                "a claim name is 1-128 characters from A-Z a-z 0-9 . _ - : / (nested claims are joined with '.')",
            ));
        }
        let patterns = match patterns {
            RawPatterns::One(p) => vec![p],
            RawPatterns::Many(list) => list,
        };
        if patterns.is_empty() {
            return Err(bad(&name, "the claim lists no value, which matches nobody"));
        }
        let mut checked = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            if pattern.is_empty() {
                return Err(bad(&name, "a pattern is empty"));
            }
            if pattern.len() > MAX_PATTERN_LEN || pattern.chars().any(char::is_control) {
                return Err(bad(
                    &pattern,
                    "a pattern is at most 512 bytes with no control characters",
                ));
            }
            if pattern.bytes().all(|b| b == b'*') {
                return Err(bad(
                    &pattern,
                    "a pattern of only '*' matches every value; leave the claim out instead",
                ));
            }
            checked.push(ClaimPattern(pattern));
        }
        conditions.insert(name, checked);
    }
    Ok(ClaimConditions(conditions))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> ClaimPattern {
        ClaimPattern(text.to_owned())
    }

    #[test]
    fn patterns_match_whole_values() {
        assert!(p("acme/app").matches("acme/app"));
        assert!(!p("acme/app").matches("acme/app2"));
        assert!(!p("acme/app").matches("xacme/app"));
        assert!(!p("acme/app").matches("Acme/app"));
        assert!(p("refs/heads/*").matches("refs/heads/main"));
        assert!(p("refs/heads/*").matches("refs/heads/release/1.2"));
        assert!(!p("refs/heads/*").matches("refs/pull/5/merge"));
        assert!(p("refs/heads/*").matches("refs/heads/"));
        assert!(p("acme/*-deploy").matches("acme/web-deploy"));
        assert!(!p("acme/*-deploy").matches("acme/web-deploy-fork"));
        assert!(p("v?.*").matches("v1.2"));
        assert!(p("v?").matches("vé"));
        assert!(!p("v?").matches("v"));
        assert!(p("*a*b*c").matches("xxaxxbxxbxxc"));
        assert!(!p("*a*b*c").matches("xxaxxbxxbxxcx"));
        // Many stars over a long miss stays fast (no exponential backtracking).
        let value = "a".repeat(10_000);
        assert!(!p("*a*a*a*a*a*a*a*a*b").matches(&value));
    }

    fn raw(entries: &[(&str, &[&str])]) -> Option<BTreeMap<String, RawPatterns>> {
        Some(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        RawPatterns::Many(v.iter().map(|s| s.to_string()).collect()),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn every_named_claim_must_match_one_of_its_patterns() {
        let conditions = load(
            "ci",
            raw(&[
                ("repository", &["acme/app"]),
                ("ref", &["refs/heads/main", "refs/tags/v*"]),
            ]),
        )
        .unwrap();
        let claims = |repo: &str, git_ref: &str| -> BTreeMap<String, String> {
            [("repository", repo), ("ref", git_ref)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        assert!(
            conditions
                .failing(&claims("acme/app", "refs/heads/main"))
                .is_empty()
        );
        assert!(
            conditions
                .failing(&claims("acme/app", "refs/tags/v1.0"))
                .is_empty()
        );
        assert_eq!(
            conditions.failing(&claims("acme/other", "refs/pull/7/merge")),
            ["ref", "repository"]
        );
        assert_eq!(conditions.failing(&BTreeMap::new()), ["ref", "repository"]);
    }

    #[test]
    fn bad_conditions_are_refused() {
        for (entries, expect) in [
            (raw(&[("repository", &[])]), "matches nobody"),
            (raw(&[("repository", &[""])]), "empty"),
            (raw(&[("repository", &["*"])]), "only '*'"),
            (raw(&[("repo sitory", &["a"])]), "claim name"),
            (raw(&[("repository", &["a\nb"])]), "control"),
        ] {
            let error = load("ci", entries).unwrap_err().to_string();
            assert!(error.contains(expect), "{error}");
        }
        assert!(matches!(
            load("ci", Some(BTreeMap::new())),
            Err(PolicyError::EmptyCondition { .. })
        ));
    }
}
