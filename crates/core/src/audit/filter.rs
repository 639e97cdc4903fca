//! Which records an export keeps: by user, certificate serial and time.
//! Works on the stored JSON rather than on [`super::AuditRecord`], so that
//! records written by older brokers (fewer fields) still export.

use serde_json::Value;

/// A user as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    /// `ISS,SUB`: exactly this issuer and subject.
    IssuerSubject(String, String),
    /// Contains `@`: the (verified) email.
    Email(String),
    /// Anything else: the subject, at any issuer.
    Subject(String),
}

impl User {
    pub fn parse(text: &str) -> User {
        match text.split_once(',') {
            Some((iss, sub)) => User::IssuerSubject(iss.to_owned(), sub.to_owned()),
            None if text.contains('@') => User::Email(text.to_owned()),
            None => User::Subject(text.to_owned()),
        }
    }

    fn matches(&self, identity: &Value) -> bool {
        let field = |name: &str| identity.get(name).and_then(Value::as_str);
        match self {
            User::IssuerSubject(iss, sub) => {
                field("issuer") == Some(iss) && field("subject") == Some(sub)
            }
            User::Email(email) => field("email").is_some_and(|e| e.eq_ignore_ascii_case(email)),
            User::Subject(sub) => field("subject") == Some(sub),
        }
    }
}

/// All given conditions must hold; an empty filter keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub user: Option<User>,
    pub serial: Option<u64>,
    /// Unix seconds, inclusive.
    pub since: Option<u64>,
    /// Unix seconds, inclusive.
    pub until: Option<u64>,
}

impl Filter {
    pub fn matches(&self, record: &Value) -> bool {
        let time = record.get("time").and_then(Value::as_u64).unwrap_or(0);
        if self.since.is_some_and(|t| time < t) || self.until.is_some_and(|t| time > t) {
            return false;
        }
        if let Some(serial) = self.serial {
            // A decimal string, or a number in records older than that.
            let got = record
                .get("certificate")
                .and_then(|c| c.get("serial"))
                .and_then(|s| {
                    s.as_u64()
                        .or_else(|| s.as_str().and_then(crate::proto::decimal::parse))
                });
            if got != Some(serial) {
                return false;
            }
        }
        match (&self.user, record.get("identity")) {
            (None, _) => true,
            (Some(user), Some(identity)) => user.matches(identity),
            (Some(_), None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> Value {
        json!({"time": 100, "kind": "certificate_issued",
            "identity": {"issuer": "https://idp", "subject": "s1", "email": "A@example.com"},
            "certificate": {"serial": 42}})
    }

    #[test]
    fn serials_match_as_strings_and_as_old_numbers() {
        let new = json!({"time": 1, "certificate": {"serial": "9007199254740993"}});
        let old = json!({"time": 1, "certificate": {"serial": 42}});
        let by = |serial| Filter {
            serial: Some(serial),
            ..Filter::default()
        };
        assert!(by(9_007_199_254_740_993).matches(&new));
        assert!(!by(9_007_199_254_740_992).matches(&new));
        assert!(by(42).matches(&old));
    }

    #[test]
    fn each_condition_narrows() {
        let r = record();
        assert!(Filter::default().matches(&r));
        let with = |f: Filter| f.matches(&r);
        assert!(with(Filter {
            user: Some(User::parse("https://idp,s1")),
            ..Filter::default()
        }));
        assert!(!with(Filter {
            user: Some(User::parse("https://other,s1")),
            ..Filter::default()
        }));
        assert!(with(Filter {
            user: Some(User::parse("a@example.com")),
            ..Filter::default()
        }));
        assert!(with(Filter {
            user: Some(User::parse("s1")),
            serial: Some(42),
            since: Some(100),
            until: Some(100),
        }));
        assert!(!with(Filter {
            serial: Some(43),
            ..Filter::default()
        }));
        assert!(!with(Filter {
            since: Some(101),
            ..Filter::default()
        }));
        assert!(!with(Filter {
            until: Some(99),
            ..Filter::default()
        }));
        let anonymous = json!({"time": 1, "kind": "certificate_refused"});
        assert!(
            !Filter {
                user: Some(User::parse("s1")),
                ..Filter::default()
            }
            .matches(&anonymous)
        );
    }
}
