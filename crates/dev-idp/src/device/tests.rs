//! Unit tests for `device.rs`: user codes, the polling rules and bounds.

use super::*;
use crate::random::test_rng::CountingRng;

const T0: Duration = Duration::from_secs(1_700_000_000);
const INTERVAL: Duration = Duration::from_secs(5);
const TTL: Duration = Duration::from_secs(600);

fn at(secs_after_t0: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + T0 + Duration::from_secs_f64(secs_after_t0)
}

fn request(auto_approve: Option<&str>) -> Request<'_> {
    Request {
        client_id: "zt",
        scopes: Scopes::parse(Some("openid email")).unwrap(),
        ttl: TTL,
        interval: INTERVAL,
        auto_approve,
    }
}

fn issue(devices: &mut DeviceAuthorizations, auto_approve: Option<&str>) -> IssuedCodes {
    devices
        .issue(request(auto_approve), &mut rand_core::OsRng, at(0.0))
        .unwrap()
}

#[test]
fn user_codes_normalise_case_and_dashes() {
    assert_eq!(
        normalize_user_code("bcdf-ghjk").as_deref(),
        Some("BCDFGHJK")
    );
    assert_eq!(
        normalize_user_code(" BCDF GHJK ").as_deref(),
        Some("BCDFGHJK")
    );
    assert_eq!(
        normalize_user_code("BC-DF-GH-JK").as_deref(),
        Some("BCDFGHJK")
    );
    assert_eq!(normalize_user_code("BCDF-GHJ"), None, "too short");
    assert_eq!(normalize_user_code("BCDF-GHJKL"), None, "too long");
    assert_eq!(
        normalize_user_code("ABCD-EFGH"),
        None,
        "vowels are not in the alphabet"
    );
    assert_eq!(normalize_user_code("<script>"), None);
    assert_eq!(normalize_user_code("ßCDF-GHJK"), None);
    assert_eq!(display_user_code("BCDFGHJK"), "BCDF-GHJK");
}

#[test]
fn generated_user_codes_use_the_alphabet() {
    let mut rng = CountingRng(0);
    for _ in 0..50 {
        let code = generate_user_code(&mut rng);
        assert_eq!(normalize_user_code(&code).as_deref(), Some(code.as_str()));
    }
    let mut devices = DeviceAuthorizations::default();
    let issued = issue(&mut devices, None);
    assert_eq!(issued.user_code.len(), 9);
    assert_eq!(&issued.user_code[4..5], "-");
    assert_eq!(issued.device_code.len(), 43);
}

#[test]
fn pending_then_slow_down_grows_the_interval() {
    let mut d = DeviceAuthorizations::default();
    let code = issue(&mut d, None).device_code;
    assert_eq!(
        d.poll(&code, "zt", at(0.0)),
        Err(PollError::AuthorizationPending)
    );
    // 4.9 s later: too soon; the interval becomes 10 s.
    assert_eq!(
        d.poll(&code, "zt", at(4.9)),
        Err(PollError::SlowDown {
            interval: Duration::from_secs(10)
        })
    );
    // 5 s after the previous poll is no longer enough.
    assert_eq!(
        d.poll(&code, "zt", at(9.9)),
        Err(PollError::SlowDown {
            interval: Duration::from_secs(15)
        })
    );
    // Waiting the whole (grown) interval is fine again, and it does not shrink back.
    assert_eq!(
        d.poll(&code, "zt", at(24.9)),
        Err(PollError::AuthorizationPending)
    );
    assert_eq!(
        d.poll(&code, "zt", at(34.9)),
        Err(PollError::SlowDown {
            interval: Duration::from_secs(20)
        })
    );
}

#[test]
fn exactly_one_interval_later_is_not_too_soon() {
    let mut d = DeviceAuthorizations::default();
    let code = issue(&mut d, None).device_code;
    assert_eq!(
        d.poll(&code, "zt", at(1.0)),
        Err(PollError::AuthorizationPending)
    );
    assert_eq!(
        d.poll(&code, "zt", at(6.0)),
        Err(PollError::AuthorizationPending)
    );
}

#[test]
fn approval_is_redeemed_once() {
    let mut d = DeviceAuthorizations::default();
    let issued = issue(&mut d, None);
    d.decide(&issued.user_code.to_lowercase(), Some("alice"), at(3.0))
        .unwrap();
    let approval = d.poll(&issued.device_code, "zt", at(4.0)).unwrap();
    assert_eq!(approval.username, "alice");
    assert_eq!(approval.auth_time, at(3.0));
    assert_eq!(approval.scopes.to_param(), "openid email");
    assert_eq!(
        d.poll(&issued.device_code, "zt", at(20.0)),
        Err(PollError::AlreadyRedeemed)
    );
    assert!(matches!(
        d.decide(&issued.user_code, None, at(21.0)),
        Err(DevIssuerError::AlreadyDecided(_))
    ));
}

#[test]
fn auto_approve_redeems_on_first_poll() {
    let mut d = DeviceAuthorizations::default();
    let issued = issue(&mut d, Some("bob"));
    assert_eq!(
        d.user_code_state(&issued.user_code, at(0.0)),
        UserCodeState::Decided
    );
    let approval = d.poll(&issued.device_code, "zt", at(0.0)).unwrap();
    assert_eq!(approval.username, "bob");
}

#[test]
fn denial_is_final() {
    let mut d = DeviceAuthorizations::default();
    let issued = issue(&mut d, None);
    d.decide(&issued.user_code, None, at(1.0)).unwrap();
    assert_eq!(
        d.poll(&issued.device_code, "zt", at(2.0)),
        Err(PollError::AccessDenied)
    );
    assert_eq!(
        d.poll(&issued.device_code, "zt", at(30.0)),
        Err(PollError::AccessDenied)
    );
}

#[test]
fn expiry_beats_everything_but_redemption() {
    let mut d = DeviceAuthorizations::default();
    let issued = issue(&mut d, None);
    let end = TTL.as_secs_f64();
    assert_eq!(
        d.user_code_state(&issued.user_code, at(end - 1.0)),
        UserCodeState::Pending {
            scopes: Scopes::parse(Some("openid email")).unwrap()
        }
    );
    assert_eq!(
        d.user_code_state(&issued.user_code, at(end)),
        UserCodeState::Expired
    );
    assert!(matches!(
        d.decide(&issued.user_code, Some("alice"), at(end)),
        Err(DevIssuerError::UserCodeExpired(_))
    ));
    assert_eq!(
        d.poll(&issued.device_code, "zt", at(end)),
        Err(PollError::ExpiredToken)
    );

    // An approved but unredeemed code expires too.
    let approved = issue(&mut d, Some("alice"));
    assert_eq!(
        d.poll(&approved.device_code, "zt", at(end + 1.0)),
        Err(PollError::ExpiredToken)
    );
}

#[test]
fn unknown_codes_and_other_clients_are_refused() {
    let mut d = DeviceAuthorizations::default();
    let issued = issue(&mut d, None);
    assert_eq!(d.poll("nope", "zt", at(1.0)), Err(PollError::UnknownCode));
    assert_eq!(
        d.poll(&issued.device_code, "other", at(1.0)),
        Err(PollError::WrongClient)
    );
    assert!(matches!(
        d.decide("BCDF-GHJK", Some("alice"), at(1.0)),
        Err(DevIssuerError::UnknownUserCode(_))
    ));
    assert!(matches!(
        d.decide("not a code", Some("alice"), at(1.0)),
        Err(DevIssuerError::UnknownUserCode(_))
    ));
}

#[test]
fn expired_codes_are_forgotten_lazily_and_the_store_is_bounded() {
    let mut d = DeviceAuthorizations::with_capacity(2);
    let old = issue(&mut d, None);
    issue(&mut d, None);
    assert!(matches!(
        d.issue(request(None), &mut rand_core::OsRng, at(1.0)),
        Err(DevIssuerError::TooManyPending)
    ));
    // Within the retention window a late poll still learns that its code expired, while the
    // room is made by dropping expired codes only when the store is full.
    let later = at(TTL.as_secs_f64() + 1.0);
    assert_eq!(
        d.poll(&old.device_code, "zt", later),
        Err(PollError::ExpiredToken)
    );
    d.issue(request(None), &mut rand_core::OsRng, later)
        .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(
        d.poll(&old.device_code, "zt", later),
        Err(PollError::UnknownCode)
    );
    assert_eq!(
        DeviceAuthorizations::default().capacity,
        MAX_DEVICE_AUTHORIZATIONS
    );
}
