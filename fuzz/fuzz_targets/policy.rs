//! The policy parser and evaluator. No input may panic, and any grant a
//! loaded policy gives stays inside its own limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zt_core::policy::{Identity, Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::from_toml(text) else {
        return;
    };
    let identities = [
        Identity {
            issuer: "https://idp.example".into(),
            subject: "alice".into(),
            email: Some("alice@example.com".into()),
            groups: vec!["sre".into(), "dev".into()],
        },
        Identity {
            issuer: "https://other.example".into(),
            subject: "mallory".into(),
            email: None,
            groups: vec![],
        },
    ];
    for id in &identities {
        let _ = policy.explain(id);
        if let Ok(grant) = policy.evaluate(id) {
            assert!(grant.default_ttl <= grant.max_ttl, "{grant:?}");
            assert!(!grant.principals.is_empty(), "{grant:?}");
            for p in &grant.principals {
                assert!(zt_core::ca::check_principal(p).is_ok(), "{p:?}");
            }
            if let Ok(issue) = grant.narrow(None, None) {
                assert!(issue.ttl <= grant.max_ttl);
            }
        }
    }
});
