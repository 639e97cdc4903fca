//! Attacks the broker must refuse (issue 4), each next to a positive control that
//! still succeeds. The real `zt-broker serve` runs against an in-process hostile
//! IdP (`zt_testkit::hostile_idp`); requests are built by `zt_testkit::broker_client`.
//! SECURITY.md maps every attack to its test and expected status.

mod grants;
mod id_tokens;
mod idp_urls;
mod posture;
mod proofs;
mod rate_limits;
mod slow_connections;
mod transport;
mod workload;

use crate::e2e::fixture::Broker;
use zt_testkit::broker_client::{Caller, ssh_key};
use zt_testkit::hostile_idp::HostileIdp;
use zt_testkit::http::JsonResponse;

/// `deploy` grants exactly one principal, a forced command and a source address;
/// `sre` two principals and a pty.
pub const POLICY: &str = r#"
[defaults]
ttl = "1h"
max_ttl = "8h"

[[rules]]
name = "deploy"
match.groups = ["deploy"]
principals = ["deploy"]
extensions = ["permit-pty"]
force_command = "/usr/local/bin/deploy"
source_address = "127.0.0.1/32"
ttl = "10m"
max_ttl = "30m"

[[rules]]
name = "sre"
match.groups = ["sre"]
principals = ["ops", "ops-ro"]
extensions = ["permit-pty"]
"#;

/// A hostile IdP and a real broker trusting it.
pub fn setup() -> (HostileIdp, Broker) {
    let idp = HostileIdp::start();
    let broker = Broker::start(&idp.issuer, POLICY);
    (idp, broker)
}

/// The positive control: an honest exchange and certificate for `sub` in `sre`.
pub fn honest_certificate(idp: &HostileIdp, broker: &Broker, sub: &str) -> JsonResponse {
    let caller = Caller::new(&broker.url);
    let token = caller.access_token(&idp.id_token(sub, &["sre"]));
    caller.certificate(&token, &ssh_key())
}

/// Asserts a refusal: `status`, `code`, and a description that is short, free of
/// control characters and does not echo `secret` (the token or key sent).
#[track_caller]
pub fn assert_refused(reply: &JsonResponse, status: u16, code: &str, case: &str, secret: &str) {
    assert_eq!(reply.status, status, "{case}: {}", reply.body);
    assert_eq!(reply.error(), Some(code), "{case}: {}", reply.body);
    let description = reply.str("error_description");
    assert!(
        description.len() < 400,
        "{case}: long description {description:?}"
    );
    assert!(
        !description.chars().any(char::is_control),
        "{case}: control characters in {description:?}"
    );
    assert!(
        secret.len() < 16 || !description.contains(secret),
        "{case}: the description echoes what was sent"
    );
}

/// `claims` with `key` set to `value`.
pub fn with(
    mut claims: serde_json::Value,
    key: &str,
    value: serde_json::Value,
) -> serde_json::Value {
    claims[key] = value;
    claims
}

/// `claims` without `key`.
pub fn without(mut claims: serde_json::Value, key: &str) -> serde_json::Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}
