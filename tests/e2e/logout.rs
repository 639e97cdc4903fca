//! `zt logout` revokes the refresh token at the IdP (RFC 7009) and removes
//! every local trace of the session.

use super::fixture::{Broker, POLICY, User};
use zt_testkit::idp::{ALICE, IdpOptions, TestIdp};
use zt_testkit::{Peer, require_peers};

fn refresh_token(user: &User) -> String {
    let path = user
        .home
        .path()
        .join("state/zt/default/secrets/refresh-token");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

#[test]
fn logout_revokes_the_refresh_token_at_the_idp() {
    if !require_peers(&[Peer::Idp]) {
        return;
    }
    let idp = TestIdp::start(IdpOptions::default());
    let broker = Broker::start(&idp.issuer, POLICY);
    let leaving = User::new();
    let staying = User::new();
    for user in [&leaving, &staying] {
        user.login_as(&broker, &idp, ALICE);
    }
    let revoked = refresh_token(&leaving);
    let kept = refresh_token(&staying);

    let logout = leaving.run(&["logout", "--json"]);
    assert_eq!(logout.code, Some(0), "{logout:?}");
    assert_eq!(logout.json_lines()[0]["revoked_at_idp"], true, "{logout:?}");
    let state = leaving.home.path().join("state/zt/default");
    assert!(!state.join("session.json").exists());
    assert!(!state.join("secrets/refresh-token").exists());
    assert!(!leaving.certificate_path().exists());
    let status = leaving.run(&["status"]);
    assert_eq!(status.code, Some(3), "{status:?}");

    // The revoked token is dead at the IdP; the other session's still works.
    let refused = idp.refresh(&revoked);
    assert_eq!(refused.error(), Some("invalid_grant"), "{refused:?}");
    let control = idp.refresh(&kept);
    assert_eq!(control.error(), None, "{control:?}");
    assert!(!control.str("id_token").is_empty());
}
