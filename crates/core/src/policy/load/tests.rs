//! One test per way a policy file can be refused, plus the accepted edge cases.

use super::super::{DurationError, Policy, PolicyError};
use crate::ca::{ForceCommandError, PrincipalError, SourceAddressProblem};
use std::time::Duration;

fn load(text: &str) -> Result<Policy, PolicyError> {
    Policy::from_toml(text)
}

/// A one-rule policy with `extra` lines appended to the rule.
fn rule_with(extra: &str) -> String {
    format!("[[rules]]\nname = \"r\"\nmatch.groups = [\"g\"]\nprincipals = [\"ops\"]\n{extra}\n")
}

fn err(text: &str) -> PolicyError {
    load(text).expect_err("policy must be refused")
}

#[test]
fn syntax_error_has_line_and_column() {
    let e = err("[[rules]]\nname = \"r\"\nprincipals = = [\"ops\"]\n");
    match &e {
        PolicyError::Syntax {
            line,
            column,
            message,
        } => {
            assert_eq!((*line, *column), (3, 14), "{message}");
            assert!(!message.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string()
            .starts_with("policy is not valid TOML at line 3, column 14: "),
        "{e}"
    );
}

#[test]
fn unknown_fields_are_refused_everywhere() {
    for (text, field, line) in [
        ("version = 2\n".to_string() + &rule_with(""), "version", 1),
        (
            "[defaults]\nttl = \"1h\"\nmax = \"2h\"\n".to_string() + &rule_with(""),
            "max",
            3,
        ),
        (rule_with("principal = [\"x\"]"), "principal", 5),
        (rule_with("match.group = [\"x\"]"), "group", 5),
        (rule_with("match.emails = [\"x\"]"), "emails", 5),
    ] {
        match err(&text) {
            PolicyError::UnknownField {
                field: f, line: l, ..
            } => {
                assert_eq!(f, field, "{text}");
                assert_eq!(l, Some(line), "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn wrong_types_and_missing_names_are_schema_errors() {
    let e = err("[[rules]]\nmatch.everyone = true\nprincipals = [\"ops\"]\n");
    assert!(
        matches!(&e, PolicyError::Schema { message, .. } if message.contains("name")),
        "{e:?}"
    );
    let e = err(&rule_with("ttl = 3600"));
    assert!(
        matches!(&e, PolicyError::Schema { line: Some(5), .. }),
        "{e:?}"
    );
    let e = err(&rule_with("").replace("[\"ops\"]", "\"ops\""));
    assert!(matches!(&e, PolicyError::Schema { .. }), "{e:?}");
}

#[test]
fn no_rules() {
    assert_eq!(err(""), PolicyError::NoRules);
    assert_eq!(err("[defaults]\nttl = \"1h\"\n"), PolicyError::NoRules);
    assert_eq!(err("rules = []\n"), PolicyError::NoRules);
}

#[test]
fn bad_and_duplicate_rule_names() {
    for name in ["", "has space", "semi;colon", "ünïcode", &"n".repeat(65)] {
        let text = rule_with("").replace("name = \"r\"", &format!("name = \"{name}\""));
        assert!(
            matches!(err(&text), PolicyError::BadRuleName { .. }),
            "{name:?}"
        );
    }
    let ok = rule_with("").replace(
        "name = \"r\"",
        &format!("name = \"{}\"", "A.b_c-9".repeat(9)),
    );
    assert!(load(&ok).is_ok());
    let twice = rule_with("") + &rule_with("");
    assert_eq!(
        err(&twice),
        PolicyError::DuplicateRuleName { name: "r".into() }
    );
}

#[test]
fn rules_without_conditions_fail_closed() {
    let bare = "[[rules]]\nname = \"r\"\nprincipals = [\"ops\"]\n";
    assert_eq!(err(bare), PolicyError::NoConditions { rule: "r".into() });
    let not_everyone = "[[rules]]\nname = \"r\"\nmatch.everyone = false\nprincipals = [\"ops\"]\n";
    assert_eq!(
        err(not_everyone),
        PolicyError::NoConditions { rule: "r".into() }
    );
    let empty_table = "[[rules]]\nname = \"r\"\nprincipals = [\"ops\"]\n[rules.match]\n";
    assert_eq!(
        err(empty_table),
        PolicyError::NoConditions { rule: "r".into() }
    );
    let everyone = "[[rules]]\nname = \"r\"\nmatch.everyone = true\nprincipals = [\"ops\"]\n";
    assert!(load(everyone).is_ok());
}

#[test]
fn empty_and_bad_condition_values() {
    let text = "[[rules]]\nname = \"r\"\nmatch.groups = []\nprincipals = [\"ops\"]\n";
    assert_eq!(
        err(text),
        PolicyError::EmptyCondition {
            rule: "r".into(),
            condition: "groups"
        }
    );
    for (text, condition) in [
        (rule_with("match.issuers = [\"\"]"), "issuers"),
        (rule_with("").replace("[\"g\"]", "[\"a\\nb\"]"), "groups"),
        (rule_with("").replace("[\"g\"]", "[\"g \"]"), "groups"),
        (
            rule_with("match.email_domains = [\"@example.com\"]"),
            "email_domains",
        ),
        (
            rule_with("match.email_domains = [\" example.com\"]"),
            "email_domains",
        ),
    ] {
        match err(&text) {
            PolicyError::BadConditionValue { condition: c, .. } => {
                assert_eq!(c, condition, "{text}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn subjects_need_an_issuer() {
    let text = rule_with("match.subjects = [\"248289761001\"]");
    assert_eq!(
        err(&text),
        PolicyError::SubjectsWithoutIssuers { rule: "r".into() }
    );
    let scoped =
        rule_with("match.subjects = [\"248289761001\"]\nmatch.issuers = [\"https://idp\"]");
    assert!(load(&scoped).is_ok());
}

#[test]
fn principals() {
    let missing = "[[rules]]\nname = \"r\"\nmatch.everyone = true\n";
    assert_eq!(err(missing), PolicyError::NoPrincipals { rule: "r".into() });
    let empty = rule_with("").replace("[\"ops\"]", "[]");
    assert_eq!(err(&empty), PolicyError::NoPrincipals { rule: "r".into() });
    for (list, reason) in [
        ("[\"ops\", \"\"]", PrincipalError::Empty),
        ("[\"a b\"]", PrincipalError::Whitespace),
        ("[\"a\\tb\"]", PrincipalError::ControlCharacter),
        ("[\"root,ops\"]", PrincipalError::Comma),
        ("[\"-root\"]", PrincipalError::LeadingDash),
    ] {
        let text = rule_with("").replace("[\"ops\"]", list);
        assert!(
            matches!(err(&text), PolicyError::BadPrincipal { reason: r, .. } if r == reason),
            "{list}"
        );
    }
    let long = rule_with("").replace("\"ops\"", &format!("\"{}\"", "p".repeat(257)));
    assert!(matches!(
        err(&long),
        PolicyError::BadPrincipal {
            reason: PrincipalError::TooLong,
            ..
        }
    ));
    let twice = rule_with("").replace("[\"ops\"]", "[\"ops\", \"ops\"]");
    assert_eq!(
        err(&twice),
        PolicyError::DuplicatePrincipal {
            rule: "r".into(),
            principal: "ops".into()
        }
    );
}

#[test]
fn extensions() {
    let e = err(&rule_with(
        "extensions = [\"permit-pty\", \"permit-x11-forwarding\"]",
    ));
    assert_eq!(
        e,
        PolicyError::UnknownExtension {
            rule: "r".into(),
            extension: "permit-x11-forwarding".into()
        }
    );
    assert!(
        e.to_string().contains("allowed: permit-X11-forwarding, "),
        "{e}"
    );
    let all = rule_with(
        "extensions = [\"permit-X11-forwarding\", \"permit-agent-forwarding\", \"permit-port-forwarding\", \"permit-pty\", \"permit-user-rc\"]",
    );
    assert_eq!(load(&all).unwrap().rules()[0].extensions().len(), 5);
}

#[test]
fn critical_options() {
    assert_eq!(
        err(&rule_with("force_command = \"deploy\\nrm -rf /\"")),
        PolicyError::BadForceCommand {
            rule: "r".into(),
            reason: ForceCommandError::ControlCharacter
        }
    );
    assert_eq!(
        err(&rule_with("force_command = \"\"")),
        PolicyError::BadForceCommand {
            rule: "r".into(),
            reason: ForceCommandError::Empty
        }
    );
    for (list, problem) in [
        ("10.0.0.0/8, 192.0.2.1", SourceAddressProblem::NotAnAddress),
        ("bastion.example", SourceAddressProblem::NotAnAddress),
        ("10.0.0.1/8", SourceAddressProblem::HostBitsSet),
        ("10.0.0.0/40", SourceAddressProblem::PrefixTooLong),
        ("", SourceAddressProblem::EmptyEntry),
    ] {
        match err(&rule_with(&format!("source_address = \"{list}\""))) {
            PolicyError::BadSourceAddress { reason, .. } => {
                assert_eq!(reason.reason, problem, "{list}")
            }
            other => panic!("{list}: {other:?}"),
        }
    }
    assert!(load(&rule_with("source_address = \"2001:db8::/32,192.0.2.1\"")).is_ok());
}

#[test]
fn bad_durations_name_their_place() {
    let e = err(&("[defaults]\nttl = \"1 hour\"\n".to_string() + &rule_with("")));
    assert_eq!(
        e,
        PolicyError::BadDuration {
            scope: "[defaults]".into(),
            field: "ttl",
            value: "1 hour".into(),
            reason: DurationError::Syntax,
        }
    );
    for (line, field, reason) in [
        ("ttl = \"0s\"", "ttl", DurationError::Zero),
        ("ttl = \"-5m\"", "ttl", DurationError::Negative),
        ("max_ttl = \"31d\"", "max_ttl", DurationError::TooLong),
        (
            "max_ttl = \"99999999999999999999h\"",
            "max_ttl",
            DurationError::Overflow,
        ),
        ("ttl = \"\"", "ttl", DurationError::Empty),
    ] {
        match err(&rule_with(line)) {
            PolicyError::BadDuration {
                scope,
                field: f,
                reason: r,
                ..
            } => {
                assert_eq!(
                    (scope.as_str(), f, r),
                    ("rule \"r\"", field, reason),
                    "{line}"
                );
            }
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn ttl_limits() {
    let e = err(&rule_with("ttl = \"59s\""));
    assert_eq!(
        e,
        PolicyError::TtlTooShort {
            scope: "rule \"r\"".into(),
            ttl: Duration::from_secs(59)
        }
    );
    assert!(
        e.to_string().contains("59s is below the 60s minimum"),
        "{e}"
    );
    // The rule's ttl exceeds the inherited default max_ttl (8h).
    let e = err(&rule_with("ttl = \"9h\""));
    assert_eq!(
        e,
        PolicyError::TtlAboveMax {
            scope: "rule \"r\"".into(),
            ttl: Duration::from_secs(9 * 3600),
            max_ttl: Duration::from_secs(8 * 3600),
        }
    );
    // The inherited default ttl (1h) exceeds the rule's own max_ttl.
    assert!(matches!(
        err(&rule_with("max_ttl = \"30m\"")),
        PolicyError::TtlAboveMax { .. }
    ));
    let e = err(&("[defaults]\nttl = \"2h\"\nmax_ttl = \"1h\"\n".to_string() + &rule_with("")));
    assert!(
        matches!(&e, PolicyError::TtlAboveMax { scope, .. } if scope == "[defaults]"),
        "{e:?}"
    );
    // A raised default cap lets a rule go past 8h.
    let ok = "[defaults]\nmax_ttl = \"24h\"\n".to_string() + &rule_with("ttl = \"12h\"");
    assert_eq!(
        load(&ok).unwrap().rules()[0].ttl(),
        Duration::from_secs(12 * 3600)
    );
}

#[test]
fn hostile_values_are_escaped_in_messages() {
    let e = err(&rule_with("extensions = [\"permit-pty\\u001b[2J\"]"));
    let text = e.to_string();
    assert!(!text.chars().any(char::is_control), "{text}");
}

#[test]
fn email_domains_are_stored_lower_case() {
    let policy = load(&rule_with("match.email_domains = [\"Example.COM\"]")).unwrap();
    assert_eq!(
        policy.rules()[0].conditions().email_domains(),
        ["example.com"]
    );
}

#[test]
fn requirements_load_with_their_defaults() {
    let policy = load(&rule_with(
        r#"require.device = "approved"
require.posture_ttl = "10m"
require.posture.disk_encryption = true
require.posture.firewall = true
require.posture.min_os = { debian = "12", ubuntu = "22.04" }
require.posture.min_kernel = "6.1"
require.posture.processes = ["falcon-sensor"]
require.posture.grace = { firewall = "3d" }"#,
    ))
    .unwrap();
    let grant = policy.rules()[0].grant();
    let require = grant.require;
    assert_eq!(require.device, crate::device::DeviceRequirement::Approved);
    assert_eq!(require.posture_ttl, Duration::from_secs(600));
    let posture = require.posture.unwrap();
    assert_eq!(
        posture.checks,
        [
            crate::posture::Check::DiskEncryption,
            crate::posture::Check::Firewall
        ]
    );
    assert_eq!(posture.min_os["ubuntu"], "22.04");
    assert_eq!(
        posture.grace_secs[&crate::posture::Check::Firewall],
        3 * 86400
    );
    assert_eq!(posture.unknown, crate::posture::Unknown::Deny);

    let plain = load(&rule_with("")).unwrap().rules()[0].grant().require;
    assert_eq!(plain, super::super::Require::default());
    assert!(plain.posture.is_none());
}

#[test]
fn bad_requirements_are_refused_naming_the_field() {
    for (extra, field) in [
        ("require.device = \"trusted\"", "device"),
        ("require.posture.unknown = \"maybe\"", "unknown"),
        ("require.posture.min_os = { debian = \"twelve\" }", "min_os"),
        ("require.posture.min_kernel = \"latest\"", "min_kernel"),
        ("require.posture.processes = [\"/usr/bin/x\"]", "processes"),
        ("require.posture.grace = { firewall = \"1d\" }", "grace"),
        ("require.posture_ttl = \"soon\"", "posture_ttl"),
    ] {
        match err(&rule_with(extra)) {
            PolicyError::BadRequirement { field: f, .. } => assert_eq!(f, field, "{extra}"),
            other => panic!("{extra}: {other:?}"),
        }
    }
    match err(&rule_with("require.posture.disk_encryption = \"yes\"")) {
        PolicyError::Schema { .. } => {}
        other => panic!("{other:?}"),
    }
}
