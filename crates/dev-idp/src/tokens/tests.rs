//! Unit tests for `tokens.rs`: refresh rotation, reuse detection, expiry, claims by scope.

use super::*;
use crate::users::default_users;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn approval() -> Approval {
    Approval {
        username: "alice".into(),
        scopes: Scopes::parse(Some("openid offline_access")).unwrap(),
        auth_time: at(0),
    }
}

fn rng() -> rand_core::OsRng {
    rand_core::OsRng
}

#[test]
fn refresh_rotates_and_keeps_the_identity() {
    let mut grants = Grants::default();
    let first = grants.start(&approval(), "zt", &mut rng(), at(1));
    let r = grants.refresh(&first, "zt", &mut rng(), at(10)).unwrap();
    assert_ne!(r.refresh_token, first);
    assert_eq!(r.username, "alice");
    assert_eq!(r.auth_time, at(0));
    let r2 = grants
        .refresh(&r.refresh_token, "zt", &mut rng(), at(20))
        .unwrap();
    assert_ne!(r2.refresh_token, r.refresh_token);
    assert_eq!(grants.len(), 1);
}

#[test]
fn reusing_a_retired_token_revokes_the_whole_grant() {
    let mut grants = Grants::default();
    let first = grants.start(&approval(), "zt", &mut rng(), at(1));
    let second = grants
        .refresh(&first, "zt", &mut rng(), at(2))
        .unwrap()
        .refresh_token;
    assert_eq!(
        grants.refresh(&first, "zt", &mut rng(), at(3)),
        Err(RefreshError::Reused)
    );
    assert_eq!(
        grants.refresh(&second, "zt", &mut rng(), at(4)),
        Err(RefreshError::Unknown)
    );
    assert_eq!(grants.len(), 0);
    assert!(grants.grant_of.is_empty());
}

#[test]
fn other_grants_survive_a_reuse() {
    let mut grants = Grants::default();
    let a = grants.start(&approval(), "zt", &mut rng(), at(1));
    let b = grants.start(&approval(), "zt", &mut rng(), at(1));
    grants.refresh(&a, "zt", &mut rng(), at(2)).unwrap();
    assert_eq!(
        grants.refresh(&a, "zt", &mut rng(), at(3)),
        Err(RefreshError::Reused)
    );
    grants.refresh(&b, "zt", &mut rng(), at(4)).unwrap();
}

#[test]
fn expiry_is_sliding() {
    let mut grants = Grants::default();
    let ttl = REFRESH_TOKEN_TTL.as_secs();
    let t = grants.start(&approval(), "zt", &mut rng(), at(0));
    let t = grants
        .refresh(&t, "zt", &mut rng(), at(ttl - 1))
        .unwrap()
        .refresh_token;
    let t = grants
        .refresh(&t, "zt", &mut rng(), at(2 * ttl - 2))
        .unwrap()
        .refresh_token;
    assert_eq!(
        grants.refresh(&t, "zt", &mut rng(), at(3 * ttl)),
        Err(RefreshError::Expired)
    );
    assert_eq!(grants.len(), 0);
}

#[test]
fn client_binding_and_revocation() {
    let mut grants = Grants::default();
    let t = grants.start(&approval(), "zt", &mut rng(), at(0));
    assert_eq!(
        grants.refresh(&t, "other", &mut rng(), at(1)),
        Err(RefreshError::WrongClient)
    );
    assert!(!grants.revoke(&t, "other"));
    assert!(!grants.revoke("unknown", "zt"));
    let t2 = grants
        .refresh(&t, "zt", &mut rng(), at(2))
        .unwrap()
        .refresh_token;
    // Revoking with a retired token also ends the grant.
    assert!(grants.revoke(&t, "zt"));
    assert_eq!(
        grants.refresh(&t2, "zt", &mut rng(), at(3)),
        Err(RefreshError::Unknown)
    );
}

#[test]
fn retired_tokens_are_bounded() {
    let mut grants = Grants::default();
    let first = grants.start(&approval(), "zt", &mut rng(), at(0));
    let mut t = first.clone();
    for i in 0..(RETIRED_PER_GRANT as u64 + 5) {
        t = grants
            .refresh(&t, "zt", &mut rng(), at(i + 1))
            .unwrap()
            .refresh_token;
    }
    assert_eq!(grants.grant_of.len(), RETIRED_PER_GRANT + 1);
    // Too old to be recognised: refused, but the grant lives on.
    assert_eq!(
        grants.refresh(&first, "zt", &mut rng(), at(100)),
        Err(RefreshError::Unknown)
    );
    grants.refresh(&t, "zt", &mut rng(), at(101)).unwrap();
}

#[test]
fn full_store_evicts_expired_then_oldest() {
    let mut grants = Grants::with_capacity(2);
    let a = grants.start(&approval(), "zt", &mut rng(), at(0));
    let b = grants.start(&approval(), "zt", &mut rng(), at(10));
    let c = grants.start(&approval(), "zt", &mut rng(), at(20));
    assert_eq!(grants.len(), 2);
    assert_eq!(
        grants.refresh(&a, "zt", &mut rng(), at(21)),
        Err(RefreshError::Unknown)
    );
    grants.refresh(&b, "zt", &mut rng(), at(22)).unwrap();
    grants.refresh(&c, "zt", &mut rng(), at(23)).unwrap();
}

#[test]
fn claims_follow_scopes() {
    let users = default_users();
    let all = Scopes::parse(Some("openid email profile groups")).unwrap();
    let subject = Subject {
        user: &users[0],
        scopes: &all,
        auth_time: at(5),
    };
    let claims = IdTokenClaims::new(
        "http://i",
        "zt",
        &subject,
        at(10),
        Duration::from_secs(300),
        "j".into(),
    );
    let json = serde_json::to_value(&claims).unwrap();
    assert_eq!(json["iss"], "http://i");
    assert_eq!(json["aud"], "zt");
    assert_eq!(json["azp"], "zt");
    assert_eq!(json["exp"], 1_700_000_310u64);
    assert_eq!(json["iat"], 1_700_000_010u64);
    assert_eq!(json["auth_time"], 1_700_000_005u64);
    assert_eq!(json["email"], "alice@example.com");
    assert_eq!(json["email_verified"], true);
    assert_eq!(json["preferred_username"], "alice");
    assert_eq!(json["groups"], serde_json::json!(["sre"]));

    let bare = Scopes::parse(Some("openid")).unwrap();
    let subject = Subject {
        user: &users[2],
        scopes: &bare,
        auth_time: at(5),
    };
    let json = serde_json::to_value(IdTokenClaims::new(
        "i",
        "zt",
        &subject,
        at(10),
        Duration::from_secs(1),
        "j".into(),
    ))
    .unwrap();
    for absent in [
        "email",
        "email_verified",
        "name",
        "preferred_username",
        "groups",
    ] {
        assert!(json.get(absent).is_none(), "{absent}");
    }

    let groups = Scopes::parse(Some("openid groups email")).unwrap();
    let subject = Subject {
        user: &users[2],
        scopes: &groups,
        auth_time: at(5),
    };
    let json = serde_json::to_value(IdTokenClaims::new(
        "i",
        "zt",
        &subject,
        at(10),
        Duration::from_secs(1),
        "j".into(),
    ))
    .unwrap();
    assert_eq!(json["groups"], serde_json::json!([]));
    assert_eq!(json["email_verified"], false);
}
